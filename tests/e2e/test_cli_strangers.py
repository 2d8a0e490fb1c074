"""The command line as a newcomer and a stranger meet it (issue 17): arguments that are not UTF-8, a command
run where there is no database, a weak password for `users create`, times in tables — each one line, exit 1
where refused, never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from eirc.storage.migrate import upgrade

EIRC = str(Path(sys.executable).parent / "eirc")
CP1251 = "Привет".encode("cp1251")  # a paste from a cp1251 terminal


def _run(env: dict, *args: str | bytes, cwd: str | None = None) -> subprocess.CompletedProcess:
    argv = [EIRC.encode(), *(a if isinstance(a, bytes) else a.encode() for a in args)]
    return subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False, cwd=cwd)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("strangers")
    url = f"sqlite:///{root / 'eirc.db'}"
    upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(EIRC_ENV="test", EIRC_DATABASE_URL=url, EIRC_SECRET_KEY="cli-secret-" + "s" * 32, NO_COLOR="1")
    return env


@pytest.mark.parametrize(
    "args",
    [
        ("billing", "show", CP1251),
        ("deliveries", "replay", CP1251),
        ("users", "show", CP1251),
        ("users", "unlock", CP1251),
        ("requests", "show", CP1251),
    ],
    ids=lambda a: " ".join(x for x in a if isinstance(x, str)),
)
def test_an_argument_that_is_not_utf8_is_one_line(cli_env, args):
    done = _run(cli_env, *args)
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "not valid UTF-8" in err


def test_a_command_where_there_is_no_database_names_the_file_and_creates_nothing(cli_env, tmp_path):
    env = {k: v for k, v in cli_env.items() if k != "EIRC_DATABASE_URL"}  # the default: var/eirc.db, relative
    done = _run(env, "users", "show", "+79161234567", cwd=str(tmp_path))
    err = done.stderr.decode()
    assert done.returncode == 1 and "Traceback" not in err
    assert str(tmp_path / "var" / "eirc.db") in err
    assert not (tmp_path / "var" / "eirc.db").exists()


def test_users_create_with_a_weak_password_says_which_rules_failed(cli_env):
    done = _run(
        cli_env, "users", "create", "--phone", "+79161112233", "--password", "a11",
        "--last-name", "Иванов", "--first-name", "Иван", "--email", "ivan@example.com",
    )  # fmt: skip
    err = done.stderr.decode()
    assert done.returncode == 1 and len(err.strip().splitlines()) == 1
    assert "«Минимум 6 символов»" in err and "«Нет двух одинаковых цифр рядом»" in err
    assert "«Только буквы и цифры»" not in err


def test_tables_show_times_with_their_zone(cli_env):
    created = _run(
        cli_env, "users", "create", "--phone", "+79161112244", "--password", "Good7pass",
        "--last-name", "Иванов", "--first-name", "Иван", "--email", "ivan2@example.com",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr.decode()
    shown = _run(cli_env, "users", "show", "+79161112244").stdout.decode()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+03:00", shown), shown
    as_json = _run(cli_env, "users", "show", "+79161112244", "--json").stdout.decode()
    assert re.search(r'"created_at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\d]*\+00:00"', as_json), as_json
