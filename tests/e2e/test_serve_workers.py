"""`eirc serve --workers 2`: each gateway process listens on a SO_REUSEPORT socket of its own (server.py).

Real processes on a SQLite file: two LISTEN sockets on the port, one per worker process; sixteen keep-alive
connections opened at once are all answered, and the kernel spreads them over both workers; a second
`eirc serve` on the same port fails fast; SIGTERM and SIGINT stop the gateway and its workers.

The sockets are read from /proc (Linux): /proc/net/tcp for the port's sockets, /proc/<pid>/fd for the
processes that own them."""

from __future__ import annotations

import os
import signal
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
from tests.providers import free_port

EIRC = str(Path(sys.executable).parent / "eirc")
SECRET = "serve-workers-secret-" + "z" * 32
LISTEN, ESTABLISHED = "0A", "01"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT is Linux/BSD only"),
]


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(
        EIRC_ENV="test", EIRC_DATABASE_URL=database_url, EIRC_SECRET_KEY=SECRET, EIRC_LOG_LEVEL="WARNING"
    )
    return env


def _start(database_url: str, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [EIRC, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--no-worker"],
        env=_env(database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _listening(port: int, expected: int = 2, timeout: float = 15) -> list[int]:
    """The inodes of the port's LISTEN sockets, once there are `expected` of them (or the timeout passed):
    the gateway answers as soon as its first worker listens."""
    deadline = time.monotonic() + timeout
    while True:
        listening = [inode for state, inode in _tcp_sockets(port) if state == LISTEN]
        if len(listening) >= expected or time.monotonic() > deadline:
            return listening
        time.sleep(0.05)


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
    """Signal `proc`; its return code, or None (then killed, with its workers) when it did not stop."""
    if proc.poll() is not None:
        return proc.returncode
    workers = _children(proc.pid)
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)
        return None


def _tcp_sockets(port: int) -> list[tuple[str, int]]:
    """(state, inode) of the IPv4 TCP sockets whose local port is `port`."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port:
            found.append((fields[3], int(fields[9])))
    return found


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # the field after the state: the parent's pid
            children.append(int(entry.name))
    return children


def _socket_owners(pids: list[int]) -> dict[int, int]:
    """socket inode → the pid (among `pids`) that holds it."""
    owners = {}
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                owners[int(target[8:-1])] = pid
    return owners


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def database_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('serve') / 'x.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="module")
def gateway(database_file: str) -> Iterator[tuple[subprocess.Popen, int]]:
    port = free_port()
    proc = _start(database_file, port)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield proc, port
    finally:
        _stop(proc)


def _get_healthz_on_16_connections(port: int) -> list[int]:
    """Open 16 connections at once, then send `GET /healthz` (keep-alive) twice on each; the status codes."""
    connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(16)]
    statuses = []
    try:
        for _round in range(2):
            for conn in connections:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
            for conn in connections:
                statuses.append(_read_response_status(conn))
    finally:
        for conn in connections:
            conn.close()
    return statuses


def _read_response_status(conn: socket.socket) -> int:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    while len(body) < length:
        chunk = conn.recv(4096)
        assert chunk, "connection closed in the middle of a body"
        body += chunk
    assert len(body) == length  # nothing more: the next response starts on the next request
    return int(lines[0].split()[1])


def test_two_listening_sockets_one_per_worker_and_connections_spread(gateway):
    proc, port = gateway
    if not Path("/proc/net/tcp").exists():
        pytest.skip("/proc/net/tcp is not available")
    listening = _listening(port)
    workers = _children(proc.pid)
    assert len(listening) == 2, _tcp_sockets(port)
    owners = _socket_owners(workers)
    assert {owners.get(inode) for inode in listening} <= set(workers)
    assert len({owners.get(inode) for inode in listening}) == 2  # each worker process has its own socket
    assert not set(listening) & set(_socket_owners([proc.pid]))  # the supervisor holds no listening socket

    connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(16)]
    try:
        for conn in connections:  # one request each, so that every connection has been accepted
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert _read_response_status(conn) == 200
        accepted = [inode for state, inode in _tcp_sockets(port) if state == ESTABLISHED]
        owners = _socket_owners(workers)
        serving = {owners[inode] for inode in accepted if inode in owners}
        # 16 connections spread by the kernel: all on one worker has a chance of 2 / 2**16
        assert len(serving) == 2, (accepted, owners)
    finally:
        for conn in connections:
            conn.close()


def test_sixteen_keep_alive_connections_at_once_are_all_answered(gateway):
    _proc, port = gateway
    assert _get_healthz_on_16_connections(port) == [200] * 32


# A second `eirc serve --workers N` on a port that a first one serves exits instead of joining the first
# one's SO_REUSEPORT sockets (Linux lets any process of the same user join such a group; it once did).
def test_a_second_gateway_on_the_same_port_fails_fast(gateway, database_file):
    proc, port = gateway
    assert len(_listening(port)) == 2
    second = _start(database_file, port)
    try:
        # until it exits — or is seen serving too (its workers' sockets join the port's group)
        deadline = time.monotonic() + 15
        while (code := second.poll()) is None and time.monotonic() < deadline:
            listening = [inode for state, inode in _tcp_sockets(port) if state == LISTEN]
            if len(listening) > 2:
                break
            time.sleep(0.1)
        listening = [inode for state, inode in _tcp_sockets(port) if state == LISTEN]
    finally:
        _stop(second, timeout=10)
    assert code is not None, (
        f"a second `eirc serve --workers 2` on port {port} did not exit: it serves too "
        f"({len(listening)} LISTEN sockets on the port)"
    )
    assert code != 0
    # the first one still serves
    assert proc.poll() is None
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200


def test_a_second_gateway_on_a_port_held_without_reuseport_fails_fast(database_file):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        second = _start(database_file, port)
        try:
            code = second.wait(timeout=15)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            _stop(second, timeout=10)
        assert code is not None and code != 0
        assert "cannot listen" in (second.stderr.read() if second.stderr else "")
    finally:
        holder.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_gateway_and_its_workers(database_file, sig):
    port = free_port()
    proc = _start(database_file, port)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        assert len(_listening(port)) == 2
        workers = _children(proc.pid)
        assert len([w for w in workers if _socket_owners([w])]) >= 2  # the two workers (with sockets)
        started = time.monotonic()
        code = _stop(proc, sig, timeout=15)
        assert code is not None, f"{sig.name} did not stop the gateway within 15 s"
        assert time.monotonic() - started < 15
        deadline = time.monotonic() + 5
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [w for w in workers if _alive(w)], "worker processes outlived the gateway"
        assert [s for s in _tcp_sockets(port) if s[0] == LISTEN] == []
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        _stop(proc)
