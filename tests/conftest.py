"""Shared fixtures: a migrated database on each backend (SQLite and PostgreSQL), a container with a frozen
clock, and a GraphQL client over the ASGI app.

PostgreSQL at `EIRC_TEST_PG_URL` (default 127.0.0.1:5432, trust auth, user postgres) is required: when it cannot
be reached, the PostgreSQL tests FAIL — they are never skipped. `make test` always gives them one: the server
at 127.0.0.1:5432 when it answers, else a throw-away server of its own (scripts/test_postgres.py).
`EIRC_TEST_BACKENDS=sqlite` limits a local run to SQLite (refused when CI=true).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from eirc.bootstrap import Container, build_container
from eirc.clock import FrozenClock
from eirc.security import PasswordHasher
from eirc.settings import Settings
from eirc.storage.migrate import upgrade

pytest_plugins = ["tests.providers", "tests.fakes.sms_gateways"]

PG_ADMIN_URL = os.environ.get("EIRC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = [
    b.strip() for b in os.environ.get("EIRC_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()
]
if os.environ.get("CI") and "postgresql" not in BACKENDS:
    raise pytest.UsageError("CI must run the PostgreSQL tests: do not set EIRC_TEST_BACKENDS without it")

TABLES = [
    "connection_request_event",
    "connection_request",
    "user_address",
    "user_session",
    "email_token",
    "consent",
    "oidc_state",
    "app_user",
    "bill",
    "billing_account",
    "flow",
    "delivery",
    "counter",
]


def _pg_admin():
    import psycopg

    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for the test suite and is not reachable at {PG_ADMIN_URL}: {exc}",
            pytrace=False,
        )


def _create_pg_database() -> tuple[str, str]:
    name = f"eirc_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly created, migrated database for the whole run, per backend; dropped at the end."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "eirc.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        return
    name, url = _create_pg_database()
    try:
        upgrade(url)
        yield url
    finally:
        _drop_pg_database(name)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "secret_key": "test-secret-key-" + "x" * 32,
        "public_url": "http://testserver",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def hasher() -> PasswordHasher:
    return PasswordHasher()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its container."""
    return {}


@pytest.fixture
async def container(
    database_url: str, clock: FrozenClock, hasher: PasswordHasher, settings_overrides: dict[str, Any]
) -> AsyncIterator[Container]:
    settings = make_settings(database_url, **settings_overrides)
    c = build_container(settings, clock=clock, hasher=hasher)
    await truncate_all(c)
    try:
        yield c
    finally:
        await c.dispose()


async def truncate_all(c: Container) -> None:
    async with c.uow() as tx:
        if c.uow.dialect == "postgresql":
            await tx.session.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
        else:
            for table in TABLES:
                await tx.session.execute(text(f"DELETE FROM {table}"))
        await tx.commit()


@pytest.fixture
def backend(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgres") else "sqlite"


class GraphQLClient:
    """Posts GraphQL documents to the ASGI app, as a frontend would."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token: str | None = None

    async def __call__(self, query: str, variables: dict | None = None, *, token: str | None = None) -> dict:
        headers = {}
        bearer = token or self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
async def app(container: Container):
    from eirc.web.app import create_app

    return create_app(container)


@pytest.fixture
async def http(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)
