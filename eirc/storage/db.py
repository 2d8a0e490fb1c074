"""Engine and unit of work (async SQLAlchemy over aiosqlite or psycopg)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from eirc.settings import sqlite_path, to_async_url


def make_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = to_async_url(database_url)
    if url.startswith("sqlite"):
        path = sqlite_path(database_url)
        if path:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", False)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (or run in autocommit: read engine)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_read_engine(engine: AsyncEngine) -> AsyncEngine | Engine:
    """A second, small pool for single-statement reads (`UnitOfWorkFactory.read`), in autocommit.

    Its connections are born in autocommit and never reset on return, so a read costs one statement: no
    BEGIN/ROLLBACK round trips and no isolation-level switching per checkout.

    PostgreSQL: an async engine (network I/O belongs off the loop). SQLite: a *synchronous* engine used on
    the event loop itself. A WAL reader never waits for writers, and a one-row-per-address read takes tens
    of microseconds — less than the six thread hops the async driver needs to run it.
    """
    kwargs: dict[str, Any] = {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
    if engine.dialect.name == "sqlite":
        url = engine.url.set(drivername="sqlite")
        read = create_engine(url, connect_args={"timeout": 1, "check_same_thread": False}, **kwargs)
        event.listen(read, "connect", _sqlite_pragmas)
        event.listen(read, "connect", _sqlite_short_busy_timeout)
        return read
    return create_async_engine(engine.url, pool_size=5, max_overflow=10, **kwargs)


def _sqlite_short_busy_timeout(dbapi_conn, _record) -> None:
    # A read on the event loop must never wait long: WAL readers only wait in rare cases (recovery).
    dbapi_conn.execute("PRAGMA busy_timeout=1000")


class SyncReadConnection:
    """The awaitable face of a synchronous SQLite connection, for `UnitOfWorkFactory.read` callers."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self._conn.execute(statement, parameters)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE.

    Every transaction takes the write lock when it begins, so read-check-write sequences (limits,
    counters, claiming deliveries) are serialised across processes instead of failing with
    `database is locked` when a reader tries to upgrade.
    """

    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class UnitOfWork:
    """One business transaction: rolls back unless `commit()` was called.

    After a commit the `on_commit` callbacks run (e.g. wake the delivery worker), never before, so a
    worker never looks for a row that is not yet visible.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], on_commit: list[Callable[[], None]]):
        self._sessionmaker = sessionmaker
        self._on_commit_hooks = on_commit
        self._pending_hooks: list[Callable[[], None]] = []
        self.session: AsyncSession

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessionmaker()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    def after_commit(self, hook: Callable[[], None]) -> None:
        self._pending_hooks.append(hook)

    async def commit(self) -> None:
        await self.session.commit()
        hooks, self._pending_hooks = self._pending_hooks, []
        for hook in hooks:
            hook()
        for hook in self._on_commit_hooks:
            hook()

    async def rollback(self) -> None:
        self._pending_hooks.clear()
        await self.session.rollback()

    @property
    def dialect(self) -> str:
        return self.session.bind.dialect.name  # type: ignore[union-attr]


class UnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self.on_commit: list[Callable[[], None]] = []
        self._read_engine: AsyncEngine | None = None

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker, self.on_commit)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def sync_engines(self) -> list[Engine]:
        """The engines behind this factory (the main one and the read pool), e.g. to watch statements."""
        if self._read_engine is None:
            self._read_engine = make_read_engine(self.engine)
        read = self._read_engine if isinstance(self._read_engine, Engine) else self._read_engine.sync_engine
        return [self.engine.sync_engine, read]

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection | SyncReadConnection]:
        """A connection for ONE read statement (e.g. `me`), in autocommit: a single statement sees one
        consistent state by itself, so no transaction is needed around it (see `make_read_engine`).
        Only `await conn.execute(...)` is offered; writes go through a unit of work."""
        if self._read_engine is None:
            self._read_engine = make_read_engine(self.engine)
        if isinstance(self._read_engine, Engine):
            with self._read_engine.connect() as conn:
                yield SyncReadConnection(conn)
            return
        async with self._read_engine.connect() as conn:
            yield conn

    async def dispose(self) -> None:
        if isinstance(self._read_engine, Engine):
            self._read_engine.dispose()
        elif self._read_engine is not None:
            await self._read_engine.dispose()
        await self.engine.dispose()
