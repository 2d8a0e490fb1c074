"""Engine and unit of work (async SQLAlchemy over aiosqlite or psycopg)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import event
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
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE.

    Every transaction takes the write lock when it begins, so read-check-write sequences (limits,
    counters, claiming deliveries) are serialised across processes instead of failing with
    `database is locked` when a reader tries to upgrade.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get(READ_ONLY):  # UnitOfWorkFactory.read: no write lock
            return
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


READ_ONLY = "eirc_read_only"


class UnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self.on_commit: list[Callable[[], None]] = []

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker, self.on_commit)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for ONE read statement (e.g. `me`), without a transaction around it: a single
        statement sees one consistent state by itself. It saves the BEGIN/ROLLBACK round trips on
        PostgreSQL (autocommit) and, on SQLite, the write lock that `BEGIN IMMEDIATE` would take (WAL
        readers never wait for writers). A rare write in it (e.g. `last_used_at`) commits on its own."""
        async with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                conn = await conn.execution_options(**{READ_ONLY: True})
            yield conn
