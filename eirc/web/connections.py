"""Connections that never finish are closed (SPEC §10; README, «In production»).

uvicorn closes a keep-alive connection left idle after a response (`timeout_keep_alive`), but not one that
connects and sends nothing, nor one that sends its request a byte at a time: each holds a socket — a file
descriptor — for as long as the client likes, and a thousand of them stop a process from accepting anyone.
`TimedConnection` wraps uvicorn's own HTTP protocol (composition: every event is handed on unchanged) and
adds two deadlines:

- a new connection must send its first byte within `idle_seconds` (`EIRC_CONNECTION_IDLE_SECONDS`);
- from a request's first byte, its answer must begin within `request_seconds`
  (`EIRC_REQUEST_TIMEOUT_SECONDS`): a head or body that dribbles in slower than that is cut off.

Either way the connection is closed and counted; the count is logged at most once a LOG_EVERY_SECONDS, so a
flood of them is one line, not one per socket. A reverse proxy in front (nginx: `client_header_timeout`,
`client_body_timeout`, `limit_conn`) does this finer and earlier; these deadlines are the floor eirc keeps
by itself.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

log = logging.getLogger("eirc.web.connections")

LOG_EVERY_SECONDS = 10.0


class _Closed:
    """How many connections were cut off since the last log line (per process)."""

    idle = 0
    slow = 0
    logged_at = 0.0

    @classmethod
    def count(cls, kind: str, peer: Any) -> None:
        if kind == "idle":
            cls.idle += 1
        else:
            cls.slow += 1
        now = time.monotonic()
        if now - cls.logged_at >= LOG_EVERY_SECONDS:
            log.warning(
                "closed %d connection(s) that sent nothing and %d whose request was too slow (last from %s)",
                cls.idle,
                cls.slow,
                peer[0] if isinstance(peer, tuple) and peer else "?",
            )
            cls.idle = cls.slow = 0
            cls.logged_at = now


class _WatchedTransport:
    """The transport as uvicorn's protocol sees it: every call handed on; a write is the answer beginning."""

    def __init__(self, transport: asyncio.Transport, owner: TimedConnection) -> None:
        self._transport = transport
        self._owner = owner

    def write(self, data: Any) -> None:
        self._owner.answering()
        self._transport.write(data)

    def writelines(self, data: Any) -> None:
        self._owner.answering()
        self._transport.writelines(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class TimedConnection(asyncio.Protocol):
    """uvicorn's HTTP protocol (`http="auto"`: httptools, else h11) with the two deadlines above.

    `idle_seconds` and `request_seconds` are set on a subclass made by `timed_protocol`."""

    idle_seconds: float = 10.0
    request_seconds: float = 30.0

    def __init__(self, **kwargs: Any) -> None:
        self._inner = AutoHTTPProtocol(**kwargs)
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._receiving = False  # a request's bytes arrived and its answer has not begun

    # --- the deadlines ----------------------------------------------------------------------------------------
    def _arm(self, seconds: float, kind: str) -> None:
        self._disarm()
        self._deadline = self._loop.call_later(seconds, self._expire, kind)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, kind: str) -> None:
        self._deadline = None
        transport = self._transport
        if transport is not None and not transport.is_closing():
            _Closed.count(kind, transport.get_extra_info("peername"))
            transport.close()

    def answering(self) -> None:
        if self._receiving:
            self._receiving = False
            self._disarm()

    # --- asyncio.Protocol, handed on ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._arm(self.idle_seconds, "idle")
        self._inner.connection_made(_WatchedTransport(transport, self))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if not self._receiving:
            self._receiving = True
            self._arm(self.request_seconds, "slow")
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def __getattr__(self, name: str) -> Any:  # what uvicorn's server asks of its protocols (shutdown, …)
        return getattr(self._inner, name)


def timed_protocol(idle_seconds: float, request_seconds: float) -> type[TimedConnection]:
    return type(
        "TimedConnection",
        (TimedConnection,),
        {"idle_seconds": idle_seconds, "request_seconds": request_seconds},
    )


def raise_open_files_limit() -> int:
    """Let this process hold as many sockets as the system allows it (the soft limit up to the hard one): the
    common default of 1,024 is a small number of slow clients. The limit in effect."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    except (ValueError, OSError):  # not permitted here: keep what there is
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft
