"""`eirc serve`: uvicorn around the Starlette app, with the delivery worker in-process by default."""

from __future__ import annotations

import os

import uvicorn
from starlette.applications import Starlette

from eirc.settings import get_settings

_WORKER_ENV = "EIRC_SERVE_RUN_WORKER"
# The request line and headers together (h11 only; with httptools the RequestGuard's limits apply).
MAX_HEAD_BYTES = 64 * 1024


def app_factory() -> Starlette:
    """Called by uvicorn in every gateway process."""
    from eirc.logs import configure_logging
    from eirc.web import create_app

    configure_logging(get_settings())
    background = []
    if os.environ.get(_WORKER_ENV, "1") == "1":
        from eirc.delivery.worker import run_in_process

        background.append(run_in_process)
    return create_app(background=background)


def serve(*, host: str, port: int, workers: int, demo: bool, worker: bool) -> None:
    from eirc.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)  # the parent process logs too (start-up, workers); each worker again
    if demo:
        from eirc.demo import prepare_demo

        prepare_demo(settings, host=host, port=port)
    os.environ[_WORKER_ENV] = "1" if worker else "0"
    uvicorn.run(
        "eirc.server:app_factory",
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
