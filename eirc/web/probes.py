"""What the machines around eirc ask it: `/healthz` (alive), `/readyz` (ready for traffic), `/metrics`.

- `/healthz` is liveness only: the process answers HTTP. It touches nothing else, so a database outage never
  makes an orchestrator restart healthy gateways (which would not bring the database back).
- `/readyz` is 200 only when the database answers and its Alembic revision is this build's head; otherwise
  503 with one line saying why (`{"status": "unready", "reason": "…"}`). One statement without a
  transaction (`uow.read`, nothing locked), its answer kept READY_CACHE_SECONDS, so probing it every
  second costs the database one tiny read every few seconds per process.
- `/metrics` (EIRC_METRICS, EIRC_METRICS_BIND): the Prometheus text of eirc/metrics.py — the counters of every
  gateway process, then the gauges read from the database for this scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from eirc.storage.stats import missing_table

if TYPE_CHECKING:
    from eirc.bootstrap import Container
    from eirc.settings import Settings

log = logging.getLogger("eirc.web.probes")

READY_CACHE_SECONDS = 2.0
READY_TIMEOUT_SECONDS = 2.0  # a database slower than this is not ready (set the probe's timeout above it)
METRICS_TIMEOUT_SECONDS = 3.0  # the database's gauges of one scrape (Prometheus waits 10 s by default)


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


@functools.lru_cache(maxsize=1)
def build_heads() -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this build (read once per process)."""
    from eirc.storage.migrate import current_heads

    return frozenset(current_heads())


class Readiness:
    """`/readyz`'s check, with its answer kept READY_CACHE_SECONDS (one check at a time)."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self._answer: str | None = None  # None: ready; else the reason
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    async def reason(self) -> str | None:
        """Why the gateway is not ready, or None when it is."""
        if time.monotonic() - self._checked_at < READY_CACHE_SECONDS:
            return self._answer
        async with self._lock:
            if time.monotonic() - self._checked_at >= READY_CACHE_SECONDS:
                answer = await self._check()
                if answer != self._answer:
                    if answer is None:
                        log.info("ready: the database answers and is migrated")
                    else:
                        log.warning("not ready: %s", answer)
                self._answer, self._checked_at = answer, time.monotonic()
        return self._answer

    async def _check(self) -> str | None:
        heads = await asyncio.to_thread(build_heads)
        try:
            at = await asyncio.wait_for(
                self.container.uow.read(lambda reads: reads.stats.revisions()), READY_TIMEOUT_SECONDS
            )
        except TimeoutError:
            return f"database did not answer within {READY_TIMEOUT_SECONDS:g} s"
        except Exception as exc:  # the probe reports; the detail (which may name hosts) goes to the log only
            if missing_table(exc):
                return "database not migrated: no alembic_version table (run `eirc db upgrade`)"
            log.info("readiness: the database read failed: %s", exc)
            return f"database unreachable ({type(exc).__name__})"
        if frozenset(at) != heads:
            return (
                f"database not migrated: at {', '.join(sorted(at)) or 'no revision'}, this build needs "
                f"{', '.join(sorted(heads))} (run `eirc db upgrade`)"
            )
        return None


def readyz_endpoint(readiness: Readiness):
    async def readyz(_request: Request) -> JSONResponse:
        reason = await readiness.reason()
        if reason is not None:
            return JSONResponse({"status": "unready", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ready"})

    return readyz


async def render_metrics(container: Any) -> bytes:
    """The text of `/metrics`; the database's gauges are left out (and `eirc_database_up` is 0) when the
    database does not answer in time — the counters are served all the same."""
    from eirc import metrics
    from eirc.services.stats import live_figures

    live = None
    try:
        live = await asyncio.wait_for(live_figures(container), METRICS_TIMEOUT_SECONDS)
    except Exception as exc:  # a scrape never fails because the database does
        log.warning("metrics: the database's figures could not be read: %s", type(exc).__name__)
    return await asyncio.to_thread(metrics.exposition, live)


def metrics_endpoint(container: Any):
    async def metrics_(_request: Request) -> Response:
        from eirc.metrics import CONTENT_TYPE

        return Response(await render_metrics(container), media_type=CONTENT_TYPE)

    return metrics_


def probe_routes(container: Container) -> list[Route]:
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz_endpoint(Readiness(container)), methods=["GET"]),
    ]
    settings = container.settings
    if settings.metrics and settings.metrics_address is None:
        routes.append(Route("/metrics", metrics_endpoint(container), methods=["GET"]))
    return routes


def metrics_app(settings: Settings) -> Starlette:
    """`/metrics` alone, for EIRC_METRICS_BIND: served by `eirc serve`'s own process (web/server.py) from the
    gateway processes' multiprocess directory, with a container of its own for the database's gauges."""
    from eirc.bootstrap import build_container

    holder: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette):
        holder["container"] = build_container(settings)
        try:
            yield
        finally:
            await holder["container"].dispose()

    async def metrics_(request: Request) -> Response:
        return await metrics_endpoint(holder["container"])(request)

    return Starlette(routes=[Route("/metrics", metrics_, methods=["GET"])], lifespan=lifespan)
