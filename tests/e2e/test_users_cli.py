"""`eirc users import / find / show / unlock` through the real command line, on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from eirc.clock import FrozenClock
from eirc.services import lockout
from eirc.storage.tables import User, UserAddress
from tests.e2e.signin_helpers import ACCOUNT, EMAIL, FLOW_FIELDS, PASSWORD, PHONE, add_account, make_user

EIRC = str(Path(sys.executable).parent / "eirc")


@pytest.fixture
def clock() -> FrozenClock:
    # The command line runs on the real clock: the test's container starts at the same moment.
    return FrozenClock(datetime.now(UTC))


@pytest.fixture
def settings_overrides():
    return {"login_per_client_per_minute": 1000}


@pytest.fixture
def cli(container):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(
        EIRC_ENV="test",
        EIRC_DATABASE_URL=container.settings.database_url,
        EIRC_SECRET_KEY=container.settings.secret_key,
        COLUMNS="200",
    )

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([EIRC, "users", *args], env=env, capture_output=True, text=True, timeout=120)

    return run


CSV = """phone,last_name,first_name,middle_name,email,account_number
+7 916 555 00 01,Иванов,Иван,Иванович,Ivan1@Example.com,{account}
89165550002,Петров,Пётр,,,
bad,Сидоров,Сидор,,,
8 (916) 555-00-01,Дубль,Дубль,,,
9165550003,,Имя,,,
9165550004,Фам,Имя,,x@,
9165550005,Фам,Имя,,,999
9165550006,Фам,Имя
9165550007,Фам,Имя,,ivan1@example.com,
{registered},Чужой,Чужой,,,
"""


def _write(tmp_path: Path, text: str, name: str = "users.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def _users(container) -> dict[str, User]:
    async with container.uow() as tx:
        users = list((await tx.session.execute(select(User))).scalars())
        tx.session.expunge_all()
    return {u.phone: u for u in users}


async def test_import_reports_and_is_idempotent(container, cli, tmp_path):
    await add_account(container)
    await make_user(container)  # a registered resident whose phone is in the file
    path = _write(tmp_path, CSV.format(account=ACCOUNT, registered="8 916 123 45 67"))

    result = cli("import", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["added"], report["updated"], report["unchanged"], report["kept"]) == (2, 0, 0, 1)
    assert report["refused"] == [
        {"line": 4, "reason": "phone is not a Russian mobile number: 'bad'"},
        {"line": 5, "reason": "phone +79165550001 already on line 2"},
        {"line": 6, "reason": "last_name is empty"},
        {"line": 7, "reason": "email is not an e-mail address: 'x@'"},
        {"line": 8, "reason": "billing account 999 not found (import the billing data first)"},
        {
            "line": 9,
            "reason": "expected 6 columns (phone,last_name,first_name,middle_name,email,account_number), found 3",
        },
        {"line": 10, "reason": "email ivan1@example.com already on line 2"},
    ]
    users = await _users(container)
    ivan = users["+79165550001"]
    assert (ivan.source, ivan.password_hash, ivan.email, ivan.email_confirmed) == (
        "import",
        None,
        "ivan1@example.com",
        False,
    )
    assert users["+79165550002"].email is None
    assert users[PHONE].last_name == "Петров" and users[PHONE].password_hash  # kept as it was
    async with container.uow() as tx:
        addresses = (
            await tx.session.execute(
                select(UserAddress.account_number, UserAddress.primary).where(UserAddress.user_id == ivan.id)
            )
        ).all()
    assert [tuple(a) for a in addresses] == [(ACCOUNT, True)]

    again = cli("import", str(path))  # the table form; nothing duplicated
    assert again.returncode == 0, again.stderr
    assert "added: 0" in again.stdout and "unchanged: 2" in again.stdout and "refused: 7" in again.stdout
    assert "Refused rows" in again.stdout and "already on line 2" in again.stdout
    assert len(await _users(container)) == 3

    fixed = _write(tmp_path, CSV.format(account=ACCOUNT, registered="").replace("Пётр", "Петр"), "fixed.csv")
    report = json.loads(cli("import", str(fixed), "--json").stdout)
    assert (report["added"], report["updated"], report["unchanged"]) == (0, 1, 1)
    assert (await _users(container))["+79165550002"].first_name == "Петр"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"phone,name\n+79161234567,x\n", "the header must be"),
        (b"", "is empty"),
        (b"phone,last_name,first_name,middle_name,email,account_number\n\xff\xfe\x00bad", "not a UTF-8"),
    ],
    ids=["missing", "header", "empty", "binary"],
)
async def test_import_refuses_a_bad_file_in_one_line(container, cli, tmp_path, content, message):
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content)
    result = cli("import", str(path))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


async def test_imported_resident_sets_a_password_through_the_phone_screen(container, cli, gql, tmp_path):
    path = _write(
        tmp_path, "phone,last_name,first_name,middle_name,email,account_number\n89165550011,Новый,Жилец,,,\n"
    )
    assert cli("import", str(path)).returncode == 0
    start = 'mutation { startPhone(phone: "+7 916 555 00 11", consent: true) { %s } }' % FLOW_FIELDS  # noqa: UP031
    flow = (await gql(start))["startPhone"]["flow"]
    assert (flow["kind"], flow["step"]) == ("PASSWORD_RESET", "CODE")


async def test_find_show_and_unlock(container, cli, gql):
    user_id = await make_user(container)
    from tests.e2e.signin_helpers import login

    token = (await login(gql, PHONE, PASSWORD))["session"]["token"]
    assert token
    for _ in range(container.settings.login_max_failures):
        await login(gql, PHONE, "Wrong1pass")
    assert [e["code"] for e in (await login(gql, PHONE, PASSWORD))["errors"]] == ["LOGIN_LOCKED"]

    for spelling in ("8 (916) 123-45-67", EMAIL.upper()):
        found = cli("find", spelling, "--json")
        assert found.returncode == 0, found.stderr
        assert [row["id"] for row in json.loads(found.stdout)] == [user_id]
    missing = cli("find", "+79160000000")
    assert missing.returncode == 1 and "no user" in missing.stderr

    shown = cli("show", user_id, "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["id"] == user_id and record["phone"] == PHONE
    assert record["has_password"] is True and record["email_confirmed"] is True
    assert record["failed_attempts"] == container.settings.login_max_failures
    assert record["locked_until"] is not None
    assert record["live_sessions"] == 1
    text = shown.stdout.lower()
    assert "argon2" not in text and "hash" not in text and token not in shown.stdout
    table = cli("show", user_id)
    assert table.returncode == 0 and "has_password" in table.stdout and "locked_until" in table.stdout
    assert cli("show", "no-such-id").returncode == 1

    unlocked = cli("unlock", "+7 916 123 45 67")
    assert unlocked.returncode == 0, unlocked.stderr
    assert "unlocked" in unlocked.stdout
    assert (await login(gql, PHONE, PASSWORD))["errors"] == []
    async with container.uow() as tx:
        state = await lockout.lock_state(tx, container, lockout.user_subject(user_id))
    assert (state.failed_attempts, state.locked_until) == (0, None)
    assert cli("unlock", "nobody@example.com").returncode == 1
