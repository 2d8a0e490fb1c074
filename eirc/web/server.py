"""`eirc serve`: uvicorn around the Starlette app, with the delivery worker in-process by default."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import socket

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess

from eirc.bootstrap import GATEWAY_PROCESSES_ENV
from eirc.settings import get_settings

log = logging.getLogger("eirc.web.server")

_WORKER_ENV = "EIRC_SERVE_RUN_WORKER"
# The request line and headers together (h11 only; with httptools the RequestGuard's limits apply).
MAX_HEAD_BYTES = 64 * 1024


def app_factory() -> Starlette:
    """Called by uvicorn in every gateway process."""
    from eirc.logs import configure_logging
    from eirc.web.app import create_app

    configure_logging(get_settings())
    background = []
    if os.environ.get(_WORKER_ENV, "1") == "1":  # the delivery worker, and retention beside it
        from eirc.delivery.worker import run_in_process
        from eirc.services.retention import run_periodically

        background += [run_in_process, run_periodically]
    app = create_app(background=background)
    # What start-up built (modules, the schema, the engines) lives as long as the process: moved out of the
    # collector's reach, a full collection walks only what requests allocate. A collection that walks it
    # all took tens of milliseconds, a pause every request in flight waits through (docs/signin.md).
    gc.collect()
    gc.freeze()
    return app


def serve(*, host: str, port: int, workers: int, demo: bool, worker: bool) -> None:
    from eirc.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)  # the parent process logs too (start-up, workers); each worker again
    if demo:
        from eirc.demo import prepare_demo

        prepare_demo(settings, host=host, port=port)
    os.environ[_WORKER_ENV] = "1" if worker else "0"
    # The gateway processes share the CPUs: each sizes its password-hashing pool accordingly (bootstrap).
    os.environ[GATEWAY_PROCESSES_ENV] = str(max(1, workers))
    config = uvicorn.Config(
        "eirc.web.server:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's loggers propagate to ours: one format, redacted, with request ids
        # The client address of the per-client limits: the peer's, or X-Forwarded-For's when the peer is
        # a proxy named in EIRC_FORWARDED_ALLOW_IPS (never trusted from anyone else).
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        server_header=False,
        access_log=False,
        # A client that opens connections and sends nothing, or keeps them idle, does not hold them long.
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )
    if workers > 1:
        _serve_workers(config)
        return
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:  # as `uvicorn.run`: a start-up failure (the port taken, the app broken) exits 3
        raise SystemExit(STARTUP_FAILURE)


# --- several gateway processes ----------------------------------------------------------------------------------
# uvicorn's own `--workers` shares ONE listening socket among the processes: whichever process wakes first
# accepts every pending connection, so a client (or a proxy) that opens a few keep-alive connections at once
# often has all of them on one process while the others idle (seen in scripts/bench_login.py: 8 of 8). Here
# each process listens on a socket of its own with SO_REUSEPORT, and the kernel spreads new connections
# across them. uvicorn still supervises the processes (start-up, health checks, restarts, signals).


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class _ReusePortProcess(multiprocess.Process):
    """A uvicorn worker process that listens on a SO_REUSEPORT socket of its own (see above)."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover — a child
        for inherited in sockets or []:
            inherited.close()
        super().target([_reuse_port_socket(self.config.host, self.config.port)])


def _serve_workers(config: uvicorn.Config) -> None:
    if not hasattr(socket, "SO_REUSEPORT"):  # not Linux/BSD: uvicorn's shared socket
        multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    try:
        # Any socket on the port, a gateway's own SO_REUSEPORT ones included, makes this plain bind fail: a
        # second gateway on the same port stops here instead of joining the first one's sockets.
        with socket.socket(family=socket.AF_INET6 if ":" in config.host else socket.AF_INET) as probe:
            probe.bind((config.host, config.port))
            config.port = probe.getsockname()[1]  # the port asked for, or the one the system chose for 0
        # Bound, never listening: it holds the port for the processes' sockets.
        reserved = _reuse_port_socket(config.host, config.port)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", config.host, config.port, exc)
        raise SystemExit(STARTUP_FAILURE) from exc
    log.info("gateway on http://%s:%s with %s processes", config.host, config.port, config.workers)
    multiprocess.Process = _ReusePortProcess  # type: ignore[misc]  # what uvicorn's supervisor starts
    multiprocess.Multiprocess(config, sockets=[reserved]).run()
