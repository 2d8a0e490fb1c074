"""A real `eirc serve` against what a stranger can send over the wire (issue 17), on both databases:

- a connection that sends nothing, and one whose request dribbles in, are closed within the documented
  time (EIRC_CONNECTION_IDLE_SECONDS, EIRC_REQUEST_TIMEOUT_SECONDS), while normal requests are served;
- a long or malformed client address from a trusted proxy's X-Forwarded-For is bounded before it is stored
  or used as a key (PostgreSQL refused the long one in a 64-character column);
- after PostgreSQL ends the gateway's backends, every request is answered without a driver error;
- a port that is taken: exit 1 with one line, and nothing started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from eirc.storage.migrate import upgrade
from tests.e2e.gateways import wait_healthy
from tests.e2e.signin_helpers import LOGIN, ME, PASSWORD, make_user
from tests.providers import free_port

EIRC = str(Path(sys.executable).parent / "eirc")
SECRET = "hostile-http-secret-" + "q" * 32
IDLE, REQUEST = 1.0, 2.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(
        EIRC_ENV="test",
        EIRC_DATABASE_URL=database_url,
        EIRC_SECRET_KEY=SECRET,
        EIRC_LOG_LEVEL="INFO",
        EIRC_LOG_FORMAT="text",
        EIRC_CONNECTION_IDLE_SECONDS=str(IDLE),
        EIRC_REQUEST_TIMEOUT_SECONDS=str(REQUEST),
        EIRC_FORWARDED_ALLOW_IPS="127.0.0.1",
        EIRC_START_PHONE_PER_CLIENT_PER_HOUR="1000",
        EIRC_LOGIN_PER_CLIENT_PER_MINUTE="1000",
    )
    return env


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[tuple[str, subprocess.Popen, str]]:
    upgrade(database_url)
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"eirc-hostile-{port}.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [EIRC, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
            env=_env(database_url),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, proc, str(log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if os.environ.get("KEEP_LOG"):
            print(log.read_text())
        log.unlink(missing_ok=True)


def _closed_after(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closed `sock` (it reads EOF), or None if still open after `limit`."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while True:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
    except TimeoutError:
        return None
    except ConnectionResetError:
        return time.monotonic() - started


def test_a_connection_that_sends_nothing_is_closed(served):
    url, _proc, _log = served
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        closed = _closed_after(sock, IDLE + 5)
    assert closed is not None and closed < IDLE + 2
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_a_request_that_dribbles_in_is_cut_off(served):
    url, _proc, _log = served
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        head = b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Pad: "
        closed = None
        for byte in head + b"a" * 100:  # one byte each half second: never a whole head
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - started
                break
            sock.settimeout(0.5)
            try:
                if sock.recv(4096) == b"":
                    closed = time.monotonic() - started
                    break
            except TimeoutError:
                pass
            if time.monotonic() - started > REQUEST + 5:
                break
    assert closed is not None and closed < REQUEST + 2


def test_idle_and_slow_connections_are_logged_once_not_per_socket(served):
    url, _proc, log = served
    port = int(url.rsplit(":", 1)[1])
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    try:
        time.sleep(IDLE + 1.5)
    finally:
        for sock in socks:
            sock.close()
    lines = [
        line for line in Path(log).read_text().splitlines() if "closed" in line and "sent nothing" in line
    ]
    assert 1 <= len(lines) <= 3


def test_forwarded_client_addresses_are_bounded(served, backend):
    url, _proc, _log = served
    start = 'mutation { startPhone(phone: "%s", consent: true) { flow { id } errors { code } } }'
    for i, forwarded in enumerate(
        ["a" * 500, "::ffff:10.0.0.1", "2001:db8::1, 10.0.0.2", "10.0.0.3" + "0" * 300]
    ):
        response = httpx.post(
            f"{url}/graphql",
            json={"query": start % f"+7916444{i:04d}"},
            headers={"X-Forwarded-For": forwarded},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        assert body["data"]["startPhone"]["errors"] == [] and body["data"]["startPhone"]["flow"]["id"]
        login = httpx.post(
            f"{url}/graphql",
            json={"query": LOGIN, "variables": {"login": f"+7916444{i:04d}", "password": "Wrong7pass"}},
            headers={"X-Forwarded-For": forwarded},
        ).json()
        assert "errors" not in login, login


async def test_a_dropped_database_connection_is_not_an_error_for_anyone(
    served, backend, database_url, container
):
    """SQLite has no server to end its connections: there the same requests simply work."""
    import psycopg

    from tests.e2e.signin_helpers import PHONE

    url, _proc, _log = served
    await make_user(container)
    async with httpx.AsyncClient(base_url=url) as client:

        async def sign_in() -> str:
            variables = {"login": PHONE, "password": PASSWORD}
            answer = (await client.post("/graphql", json={"query": LOGIN, "variables": variables})).json()
            assert "errors" not in answer, answer
            return answer["data"]["login"]["session"]["token"]

        async def me(token: str) -> dict:
            headers = {"Authorization": f"Bearer {token}"}
            return (await client.post("/graphql", json={"query": ME}, headers=headers)).json()

        token = await sign_in()
        for _ in range(3):  # the gateway's pools hold connections now
            await me(token)
        if backend == "postgresql":
            name = database_url.rsplit("/", 1)[1].split("?")[0]
            with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as admin:
                ended = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                ).fetchone()[0]
            assert ended >= 1
        for _ in range(3):
            answer = await me(token)
            assert "errors" not in answer and answer["data"]["me"]["phone"] == PHONE, answer
        assert await sign_in()


def test_a_taken_port_is_one_line_and_exit_1(database_url):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        for workers in ("1", "2"):
            done = subprocess.run(
                [EIRC, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", workers],
                env=_env(database_url),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 1, done
            assert "cannot listen on 127.0.0.1" in done.stderr and "Traceback" not in done.stderr
            assert "delivery worker" not in done.stderr  # nothing started
    finally:
        holder.close()
