"""The engine and the unit of work.

One engine per process: SQLAlchemy's async engine over aiosqlite (SQLite) or psycopg 3 (PostgreSQL). Every
business transaction is a `UnitOfWork`, which holds the repositories — one per aggregate, each owning the
SQL statements of its tables (storage/users.py, flows.py, …). Services reach the database only through
them: `async with uow() as tx: user = await tx.users.by_phone(phone); …; await tx.commit()`.

`uow.read(work)` runs a read of one statement — what every screen asks for (`me`) — without a transaction
around it, on a connection kept for such reads (storage/reads.py: psycopg's own pool with prepared
statements on PostgreSQL, a read-only synchronous connection on the event loop on SQLite). Measured, it pays:
scripts/bench_me.py, docs/architecture.md.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from eirc.settings import sqlite_path, to_async_url
from eirc.storage.addresses import Addresses
from eirc.storage.billing import Billing
from eirc.storage.consents import Consents
from eirc.storage.counters import Counters
from eirc.storage.deliveries import Deliveries
from eirc.storage.email_tokens import EmailTokens
from eirc.storage.flows import Flows
from eirc.storage.lockout import Lockout
from eirc.storage.oidc_states import OidcStates
from eirc.storage.profiles import Profiles
from eirc.storage.reads import make_reader
from eirc.storage.requests import ConnectionRequests
from eirc.storage.retention import Retention
from eirc.storage.sessions import Sessions
from eirc.storage.sqlite import configure_sqlite
from eirc.storage.stats import Stats
from eirc.storage.users import Users

# PostgreSQL connections of each gateway process (SQLAlchemy's pool: 10 kept, 10 more when busy).
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 10
T = TypeVar("T")


def make_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = to_async_url(database_url)
    if url.startswith("sqlite"):
        path = sqlite_path(database_url)
        if path:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        configure_sqlite(engine.sync_engine)
        return engine
    kwargs.setdefault("pool_size", PG_POOL_SIZE)
    kwargs.setdefault("max_overflow", PG_MAX_OVERFLOW)
    # A connection the server has closed (a restart, an idle timeout) is found out by a ping when it is
    # taken from the pool, and replaced: requests never see a dead connection (README, «PostgreSQL»).
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


class UnitOfWork:
    """One business transaction: rolls back unless `commit()` was called.

    After a commit that queued a message the `on_commit` callbacks run (they wake the delivery worker), never
    before, so a worker never looks for a row that is not yet visible — and a commit that queued nothing does
    not make the worker look at all.
    """

    users: Users
    addresses: Addresses
    profiles: Profiles
    flows: Flows
    sessions: Sessions
    counters: Counters
    lockout: Lockout
    consents: Consents
    email_tokens: EmailTokens
    requests: ConnectionRequests
    oidc_states: OidcStates
    billing: Billing
    deliveries: Deliveries
    retention: Retention
    stats: Stats

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], on_commit: list[Callable[[], None]]):
        self._sessionmaker = sessionmaker
        self._on_commit_hooks = on_commit
        self.session: AsyncSession

    async def __aenter__(self) -> UnitOfWork:
        self.session = session = self._sessionmaker()
        self.users = Users(session)
        self.addresses = Addresses(session)
        self.profiles = Profiles(session)
        self.flows = Flows(session)
        self.sessions = Sessions(session)
        self.counters = Counters(session)
        self.lockout = Lockout(session)
        self.consents = Consents(session)
        self.email_tokens = EmailTokens(session)
        self.requests = ConnectionRequests(session)
        self.oidc_states = OidcStates(session)
        self.billing = Billing(session)
        self.deliveries = Deliveries(session)
        self.retention = Retention(session)
        self.stats = Stats(session)
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()
        if self.deliveries.queued:
            self.deliveries.queued = False
            for hook in self._on_commit_hooks:
                hook()

    async def rollback(self) -> None:
        await self.session.rollback()

    async def flush(self) -> None:
        """Write what the repositories added or changed so far (a commit does it anyway): for a statement
        that must come last before the commit."""
        await self.session.flush()

    @property
    def dialect(self) -> str:
        return self.session.bind.dialect.name  # type: ignore[union-attr]


class Reads:
    """The repositories a read without a transaction may use (`UnitOfWorkFactory.read`): the profile, and
    the figures of `/metrics` and `/readyz` (storage/stats.py)."""

    def __init__(self, connection: Any) -> None:
        self.profiles = Profiles(connection)
        self.stats = Stats(connection)


class UnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self.on_commit: list[Callable[[], None]] = []
        self.reader = make_reader(engine.url)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker, self.on_commit)

    async def read(self, work: Callable[[Reads], Awaitable[T]]) -> T:
        """`work(reads)` — one statement through `reads`' repositories — without a transaction around it, on
        a connection kept for such reads (storage/reads.py)."""
        return await self.reader.run(lambda connection: work(Reads(connection)))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.reader.close()
        await self.engine.dispose()
