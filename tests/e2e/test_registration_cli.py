"""`eirc users create` (CONTRACT §4), run as CI runs it: the real command in a subprocess, on both backends."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from eirc.storage.tables import User
from tests.registration_kit import ACCOUNT, ADDRESS, deliveries, seed_billing, start

EIRC = str(Path(sys.executable).with_name("eirc"))
BASE = ["--last-name", "Кузнецова", "--first-name", "Мария", "--password", "Parol2024"]


async def eirc(container, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "EIRC_DATABASE_URL": container.settings.database_url,
        "EIRC_SECRET_KEY": container.settings.secret_key,
        "EIRC_ENV": "test",
        "EIRC_PUBLIC_URL": container.settings.public_url,
    }
    return await asyncio.to_thread(
        subprocess.run, [EIRC, *args], env=env, capture_output=True, text=True, input=stdin, timeout=120
    )


@pytest.fixture
async def billing(container):
    await seed_billing(container)


async def test_create_a_user_with_an_account(container, billing, gql):
    done = await eirc(
        container,
        "users", "create", "--phone", "8 916 555-44-33", "--email", "Maria@Example.com", *BASE,
        "--middle-name", "Ивановна", "--account", ACCOUNT, "--period", "2025-12", "--amount", "1234.56", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["phone"] == "+79165554433" and record["email"] == "maria@example.com" and record["id"]
    assert record["email_confirmed"] is False and record["middle_name"] == "Ивановна"
    assert record["addresses"] == [{"number": 1, "account_number": ACCOUNT, "text": ADDRESS, "primary": True}]
    async with container.uow() as tx:
        user = (await tx.session.execute(select(User))).scalar_one()
        assert user.source == "cli" and await container.hasher.verify(user.password_hash, "Parol2024")
    [letter] = await deliveries(container, channel="email")
    assert letter.recipient == "maria@example.com"
    assert await deliveries(container, channel="crm") == []  # not a resident's registration
    # The number is registered: the phone screen leads to the login screen.
    assert (await start(gql, "+79165554433"))["flow"]["kind"] == "LOGIN"


async def test_create_a_user_without_an_account_and_a_confirmed_email(container, billing):
    done = await eirc(
        container,
        "users",
        "create",
        "--phone",
        "+79165554433",
        "--email",
        "m@example.com",
        *BASE,
        "--email-confirmed",
    )
    assert done.returncode == 0, done.stderr
    assert "+79165554433" in done.stdout and "m@example.com" in done.stdout
    async with container.uow() as tx:
        assert (await tx.session.execute(select(User.email_confirmed))).scalar_one() is True
    assert await deliveries(container, channel="email") == []


async def test_password_from_stdin(container, billing):
    args = ["users", "create", "--phone", "+79165554433", "--email", "m@example.com", "--last-name", "К"]
    done = await eirc(container, *args, "--first-name", "М", "--password", "-", stdin="Parol2024\n")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--phone", "123", "--email", "m@example.com"], "Введен некорректный номер"),
        (["--phone", "+79165554433", "--email", "nope"], "Это не похоже на e-mail"),
        (
            [
                "--phone",
                "+79165554433",
                "--email",
                "m@example.com",
                "--account",
                ACCOUNT,
                "--period",
                "2025-12",
                "--amount",
                "1",
            ],
            "Введенная сумма не соответствует расчетному периоду",
        ),
        (
            [
                "--phone",
                "+79165554433",
                "--email",
                "m@example.com",
                "--account",
                "404",
                "--period",
                "2025-12",
                "--amount",
                "1",
            ],
            "Вы ввели неправильный номер лицевого счета",
        ),
        (["--phone", "+79165554433", "--email", "m@example.com", "--account", ACCOUNT], "go together"),
    ],
)
async def test_a_broken_rule_exits_1_with_one_line(container, billing, args, expected):
    done = await eirc(container, "users", "create", *BASE, *args)
    assert done.returncode == 1
    assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    async with container.uow() as tx:
        assert (await tx.session.execute(select(User))).first() is None


async def test_weak_password_and_a_taken_phone(container, billing):
    weak = await eirc(
        container, "users", "create", "--phone", "+79165554433", "--email", "m@example.com",
        "--last-name", "К", "--first-name", "М", "--password", "11",
    )  # fmt: skip
    assert weak.returncode == 1 and "Не все необходимые условия выполнены" in weak.stderr
    ok = await eirc(
        container, "users", "create", "--phone", "+79165554433", "--email", "m@example.com", *BASE
    )
    assert ok.returncode == 0, ok.stderr
    again = await eirc(
        container, "users", "create", "--phone", "89165554433", "--email", "x@example.com", *BASE
    )
    assert again.returncode == 1 and "Этот номер телефона уже зарегистрирован" in again.stderr
    taken = await eirc(
        container, "users", "create", "--phone", "+79165554434", "--email", "M@example.com", *BASE
    )
    assert taken.returncode == 1 and "Этот e-mail уже используется" in taken.stderr
