"""`eirc serve`: uvicorn around the Starlette app, with the delivery worker in-process by default."""

from __future__ import annotations

import os

import uvicorn
from starlette.applications import Starlette

from eirc.settings import get_settings

_WORKER_ENV = "EIRC_SERVE_RUN_WORKER"


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
    settings = get_settings()
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
        proxy_headers=False,
        server_header=False,
        access_log=False,
    )
