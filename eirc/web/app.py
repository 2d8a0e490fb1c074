"""The Starlette application: /graphql (GraphiQL on GET in a browser), /healthz, /readyz, /metrics (web/probes.py),
/confirm-email, and the reference portal at / (mounted last: every other route comes first)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from strawberry.asgi import GraphQL

from eirc.bootstrap import Container, build_container
from eirc.graphql.context import Context, bearer_of, client_ip_of
from eirc.graphql.schema import closed_schema, schema
from eirc.requestid import install_record_factory
from eirc.web.confirm_email import confirm_email_routes
from eirc.web.gosuslugi import gosuslugi_routes
from eirc.web.guard import RequestGuard
from eirc.web.portal import PortalFiles
from eirc.web.probes import probe_routes

log = logging.getLogger("eirc.web.app")

STATIC = Path(__file__).parent / "static"
GRAPHIQL_PAGE = STATIC / "graphiql" / "index.html"

BackgroundTask = Callable[[Container, asyncio.Event], Awaitable[None]]


class EircGraphQL(GraphQL):
    def __init__(self, container: Container, **kwargs: Any) -> None:
        open_ = container.settings.graphiql_enabled
        super().__init__(
            schema if open_ else closed_schema, graphql_ide="graphiql" if open_ else None, **kwargs
        )
        self.container = container

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """GraphiQL whose scripts and styles come from the gateway itself (static/graphiql/): it works on an
        intranet, and behind a blocked CDN."""
        return HTMLResponse(GRAPHIQL_PAGE.read_text(encoding="utf-8"))

    async def get_context(self, request, response) -> Context:
        return Context(
            request=request,
            response=response,
            container=self.container,
            client_ip=client_ip_of(request),
            bearer_token=bearer_of(request),
        )


def create_app(
    container: Container | None = None,
    *,
    background: list[BackgroundTask] | None = None,
    extra_routes: list[Route] | None = None,
) -> Starlette:
    container = container or build_container()
    install_record_factory()
    graphql_app = EircGraphQL(container)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette):
        container.delivery_wakeup = asyncio.Event()
        stop = asyncio.Event()
        tasks = [asyncio.create_task(task(container, stop)) for task in (background or [])]
        try:
            yield
        finally:
            stop.set()
            container.wake_deliveries()
            for t in tasks:
                try:
                    await asyncio.wait_for(t, timeout=10)
                except (TimeoutError, asyncio.CancelledError):
                    t.cancel()
            await container.dispose()

    routes = [
        Route("/graphql", graphql_app, methods=["GET", "POST", "OPTIONS"]),
        *probe_routes(container),  # /healthz, /readyz, /metrics (web/probes.py)
        *(extra_routes or []),
        *_journey_routes(container),
        Mount("/assets/graphiql", app=StaticFiles(directory=STATIC / "graphiql"), name="graphiql"),
        Mount("/", app=PortalFiles(), name="portal"),  # last: the portal gets only what no route above takes
    ]
    middleware = []
    origins = [o.strip() for o in container.settings.cors_origins.split(",") if o.strip()]
    if origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", *_listed(container.settings.cors_headers)],
                expose_headers=["X-Request-ID"],
                max_age=600,
            )
        )
    middleware.append(Middleware(RequestGuard, max_body=container.settings.max_body_bytes))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.container = container
    return app


def _listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _journey_routes(container: Container) -> list[Route]:
    """Browser endpoints of the journeys (e-mail confirmation, Госуслуги), registered by their modules."""
    routes: list[Route] = []
    for factory in ROUTE_FACTORIES:
        routes.extend(factory(container))
    return routes


ROUTE_FACTORIES: list[Callable[[Container], list[Route]]] = [confirm_email_routes, gosuslugi_routes]
