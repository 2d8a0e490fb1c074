"""`eirc serve`: uvicorn around the Starlette app, with the delivery worker in-process by default.

One process, or several (`--workers N`): each gateway process listens on a SO_REUSEPORT socket of its own, so
the kernel spreads new connections evenly across them (uvicorn's own `--workers` shares one socket, and
whichever process wakes first accepts a whole burst: a client or proxy opening a few keep-alive connections
at once often had all of them on one process). This module supervises the processes: it stops them all on
SIGTERM or SIGINT and starts again one that dies.

A port that cannot be listened on is refused before anything starts (`ServeRefused`: exit 1, one line).

Metrics (eirc/metrics.py, docs/operations.md): before any gateway process starts, this process makes a fresh
`PROMETHEUS_MULTIPROC_DIR` (an empty temporary directory, removed at the end; or the one the environment
names, emptied of its old files) so that each process's counters are files that `/metrics` adds up; a
process that dies is marked dead there. With EIRC_METRICS_BIND this process serves `/metrics` itself, on that
address, from the same directory.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from eirc.bootstrap import GATEWAY_PROCESSES_ENV
from eirc.settings import Settings, get_settings
from eirc.web.connections import raise_open_files_limit, timed_protocol

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


class ServeRefused(Exception):
    """The gateway cannot start (the port is taken, …); the message is the one line for the operator."""


def uvicorn_config(settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        "eirc.web.server:app_factory",
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's loggers propagate to ours: one format, redacted, with request ids
        # The client address of the per-client limits: the peer's, or X-Forwarded-For's when the peer is
        # a proxy named in EIRC_FORWARDED_ALLOW_IPS (never trusted from anyone else).
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        server_header=False,
        access_log=False,
        # Connections that never finish are closed (eirc/web/connections.py); idle keep-alive ones after 5 s.
        http=timed_protocol(settings.connection_idle_seconds, settings.request_timeout_seconds),
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_connections,  # more at once: 503 (uvicorn logs each one it refuses)
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )


def serve(*, host: str, port: int, workers: int, demo: bool, worker: bool) -> None:
    from eirc.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)  # the parent process logs too (start-up, workers); each worker again
    metrics_dir = _prepare_metrics_dir(settings)  # before anything records a metric

    def remove_metrics_dir() -> None:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)

    previous = signal.signal(signal.SIGTERM, _cleaning_then_default(remove_metrics_dir))
    listener = None
    try:
        if settings.metrics and settings.metrics_address:
            listener = _MetricsListener(settings, *settings.metrics_address)
        _serve(settings, host=host, port=port, workers=workers, demo=demo, worker=worker)
    finally:
        if listener is not None:
            listener.stop()
        remove_metrics_dir()
        signal.signal(signal.SIGTERM, previous)


def _cleaning_then_default(cleanup):
    """A SIGTERM handler that cleans up, then lets the signal do what it does by default (end the process).

    One gateway process is uvicorn's: it finishes on SIGTERM, then raises the signal again with the handler
    that was there before it — this one — so the process still ends as killed by SIGTERM, without leaving
    its metrics directory behind."""

    def handler(signum: int, _frame: object) -> None:
        cleanup()
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    return handler


def _serve(settings: Settings, *, host: str, port: int, workers: int, demo: bool, worker: bool) -> None:
    files = raise_open_files_limit()
    if demo:
        from eirc.demo import prepare_demo

        prepare_demo(settings, host=host, port=port)
    os.environ[_WORKER_ENV] = "1" if worker else "0"
    # The gateway processes share the CPUs: each sizes its password-hashing pool accordingly (bootstrap).
    os.environ[GATEWAY_PROCESSES_ENV] = str(max(1, workers))
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        _serve_processes(settings, host=host, port=port, workers=workers)
        return
    sock = _bound(host, port, reuse_port=False)
    log.info("gateway process %s: up to %s open files", os.getpid(), files)
    server = uvicorn.Server(uvicorn_config(settings, host=host, port=sock.getsockname()[1]))
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        raise ServeRefused("the gateway did not start (see the log above)")


def _bound(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A socket bound to (host, port) — not listening yet — or ServeRefused naming the reason."""
    sock = socket.socket(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeRefused(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


# --- metrics ---------------------------------------------------------------------------------------------------
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's multiprocess mode
METRICS_DIR_PREFIX = "eirc-metrics-"  # + the pid of `eirc serve`: a dead one's directory is removed at start


def _prepare_metrics_dir(settings: Settings) -> str | None:
    """Point prometheus-client's multiprocess mode at an empty directory, for this process and the gateway
    processes it starts; the directory to remove at the end (None: the environment's, or metrics are off).

    It must be set before prometheus-client is first imported in a process (it picks its value store then):
    here that is before the app is built (workers=1) or the processes are spawned (they inherit it)."""
    if not settings.metrics:
        return None
    given = os.environ.get(METRICS_DIR_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # counters of an earlier run must not be added to this one's
            stale.unlink(missing_ok=True)
        return None
    _remove_orphaned_metrics_dirs()
    made = tempfile.mkdtemp(prefix=f"{METRICS_DIR_PREFIX}{os.getpid()}-")
    os.environ[METRICS_DIR_ENV] = made
    return made


def _remove_orphaned_metrics_dirs() -> None:
    """The directories of earlier `eirc serve`s that were killed (SIGKILL leaves no chance to clean up)."""
    for directory in Path(tempfile.gettempdir()).glob(f"{METRICS_DIR_PREFIX}*-*"):
        pid = directory.name[len(METRICS_DIR_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or directory.stat().st_uid != os.geteuid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(directory, ignore_errors=True)
        except OSError:
            continue


def _mark_dead(pid: int | None) -> None:
    """A gateway process has stopped: its live gauges go (its counters stay: they still count)."""
    directory = os.environ.get(METRICS_DIR_ENV)
    if pid is None or not directory:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)


class _MetricsListener:
    """`/metrics` on EIRC_METRICS_BIND, served by uvicorn on a thread of this process (web/probes.py
    `metrics_app`). The address is bound at once, so a taken one is refused before the gateway starts."""

    def __init__(self, settings: Settings, host: str, port: int) -> None:
        from eirc.web.probes import metrics_app

        self.sock = _bound(host, port, reuse_port=False)
        config = uvicorn.Config(
            metrics_app(settings),
            host=host,
            port=self.sock.getsockname()[1],
            log_level="warning",
            log_config=None,
            access_log=False,
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, name="eirc-metrics", daemon=True
        )
        self.thread.start()
        log.info("metrics on http://%s:%s/metrics", host, self.sock.getsockname()[1])

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


# --- several gateway processes ----------------------------------------------------------------------------------
RESTARTS_PER_MINUTE = 5  # a process that keeps dying is not started again and again: the gateway stops


def _gateway_process(host: str, port: int) -> None:  # pragma: no cover — runs in a child process
    """One gateway process of `--workers N`: its own SO_REUSEPORT socket on the port, uvicorn on it."""
    settings = get_settings()
    sock = _bound(host, port, reuse_port=True)
    uvicorn.Server(uvicorn_config(settings, host=host, port=port)).run(sockets=[sock])


def _serve_processes(settings: Settings, *, host: str, port: int, workers: int) -> None:
    # Any socket on the port — a running gateway's SO_REUSEPORT ones included — makes this plain bind fail: a
    # second gateway on the same port stops here instead of joining the first one's sockets.
    with _bound(host, port, reuse_port=False) as probe:
        port = probe.getsockname()[1]  # the port asked for, or the one the system chose for 0
    # Bound, never listening: it holds the port for the processes' sockets.
    reserved = _bound(host, port, reuse_port=True)
    spawn = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start() -> multiprocessing.process.BaseProcess:
        process = spawn.Process(target=_gateway_process, args=(host, port), name="eirc-gateway")
        process.start()
        return process

    def stop(signum: int, _frame: object) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("starting %s gateway processes on http://%s:%s", workers, host, port)
    processes = [start() for _ in range(workers)]
    threading.Thread(target=_say_when_serving, args=(host, port, workers, stopping), daemon=True).start()
    restarts: list[float] = []
    try:
        while not stopping.wait(0.5):
            for i, process in enumerate(processes):
                if process.is_alive():
                    continue
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < 60] + [now]
                if len(restarts) > RESTARTS_PER_MINUTE:
                    log.error(
                        "gateway processes keep stopping (exit code %s): the gateway stops", process.exitcode
                    )
                    stopping.set()
                    break
                log.warning(
                    "gateway process %s stopped (exit code %s): starting another",
                    process.pid,
                    process.exitcode,
                )
                _mark_dead(process.pid)
                processes[i] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes what is in flight, then the lifespan ends
        for process in processes:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
            _mark_dead(process.pid)
        reserved.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("gateway stopped")


def _say_when_serving(host: str, port: int, workers: int, stopping: threading.Event) -> None:
    """Log that the gateway serves once a process really accepts connections, not before."""
    target = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)  # noqa: S104
    while not stopping.wait(0.1):
        try:
            with socket.create_connection((target, port), timeout=1):
                log.info("gateway serving on http://%s:%s with %s processes", host, port, workers)
                return
        except OSError:
            continue
