"""Broken files to `eirc billing import` and `eirc users import` (issue 10, SPEC §10): binary, empty, header
only, the wrong delimiter, a 10 MB single line, non-UTF-8, a directory, a missing file. Each gets exit 1 and
one line on stderr (a header-only file is an empty import, and a bad row under a good header is reported
as refused: both may exit 0), never a traceback — and what the
database held before is intact."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from eirc.storage.migrate import upgrade

BILLING_HEADER = "account_number,period,amount_due,address"
USERS_HEADER = "phone,last_name,first_name,middle_name,email,account_number"
EIRC = str(Path(sys.executable).parent / "eirc")
TEN_MB = 10 * 1024 * 1024


def _run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EIRC, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{root / 'eirc.db'}"
    upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(EIRC_ENV="test", EIRC_DATABASE_URL=url, EIRC_SECRET_KEY="cli-secret-" + "z" * 32, NO_COLOR="1")
    good_bills = root / "bills.csv"
    good_bills.write_text(
        f'{BILLING_HEADER}\n5012345678,2025-12,1234.56,"г.Москва, ул.Вяземская, д.34"\n'
        '5012345679,2025-12,300.00,"г.Химки, ул.Мельникова, д.2"\n',
        encoding="utf-8",
    )
    good_users = root / "users.csv"
    good_users.write_text(
        f"{USERS_HEADER}\n+79161234567,Петров,Иван,,ivan@example.com,5012345678\n", encoding="utf-8"
    )
    assert _run(env, "billing", "import", str(good_bills)).returncode == 0
    assert _run(env, "users", "import", str(good_users)).returncode == 0
    return env | {"_root": str(root)}


def _counts(env: dict) -> dict[str, int]:
    engine = create_engine(env["EIRC_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return {
                table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("billing_account", "bill", "app_user", "user_address")
            }
    finally:
        engine.dispose()


def _hostile_files(root: Path, header: str) -> dict[str, Path]:
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        files[name] = root / name
        files[name].write_bytes(data)

    put("binary.csv", bytes(range(256)) * 64)
    put("empty.csv", b"")
    put("header_only.csv", header.encode() + b"\n")
    put("semicolons.csv", header.replace(",", ";").encode() + b"\n5012345678;2025-12;1;x;y;z\n")
    put("one_line_10mb.csv", b"a" * TEN_MB)
    put("header_then_10mb.csv", header.encode() + b"\n" + b"5" * TEN_MB + b"\n")
    put("cp1251.csv", header.encode() + b"\n" + "5012345678,2025-12,1.00,Москва".encode("cp1251") + b"\n")
    put("utf16.csv", (header + "\n").encode("utf-16"))
    (root / "a_directory").mkdir(exist_ok=True)
    files["a_directory"] = root / "a_directory"
    files["missing.csv"] = root / "missing.csv"
    return files


@pytest.mark.parametrize(("command", "header"), [("billing", BILLING_HEADER), ("users", USERS_HEADER)])
def test_broken_files_are_refused_in_one_line_and_change_nothing(cli_env, command, header):
    root = Path(cli_env["_root"]) / command
    root.mkdir(exist_ok=True)
    before = _counts(cli_env)
    problems = []
    for name, path in _hostile_files(root, header).items():
        done = _run(cli_env, command, "import", str(path))
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        # A header-only file is an empty import; a bad row under a good header is a refused row in the report
        # (the import's own rule). Either may end 0; neither may crash or write anything.
        expected = (0, 1) if name in ("header_only.csv", "header_then_10mb.csv") else (1,)
        if done.returncode not in expected or "Traceback" in done.stderr + done.stdout:
            problems.append((name, done.returncode, done.stderr[-500:]))
        elif done.returncode == 1 and len(lines) != 1:
            problems.append((name, "stderr lines", lines[:5]))
        if _counts(cli_env) != before:
            problems.append((name, "data changed", _counts(cli_env)))
    assert problems == []
