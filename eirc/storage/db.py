"""Engines and unit of work.

- The async engine (SQLAlchemy over aiosqlite or psycopg) runs every business transaction on the event loop.
- A synchronous engine on the same database (`UnitOfWorkFactory.blocking`) serves work that already runs
  in a worker thread and should not hop back to the loop for each statement: the sign-in's bookkeeping
  around its password hash (services.signin).
- Hot reads (storage.hot) run the one-statement reads every screen makes on the driver itself.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from eirc.settings import sqlite_path, to_async_url
from eirc.storage.driver import StatementListener
from eirc.storage.hot import HotReads

T = TypeVar("T")

# Threads for blocking database work (each holds one connection of the blocking engine while it works).
BLOCKING_THREADS = 8


def make_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = to_async_url(database_url)
    if url.startswith("sqlite"):
        path = sqlite_path(database_url)
        if path:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine.sync_engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", False)
    return create_async_engine(url, **kwargs)


def sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (or run in autocommit: hot reads)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_blocking_engine(engine: AsyncEngine) -> Engine:
    """A synchronous engine on `engine`'s database, for statements run from worker threads.

    SQLite: the same pragmas and BEGIN IMMEDIATE as the async engine (a pool of connections usable from
    any thread). PostgreSQL: psycopg in its synchronous mode, one connection per blocking thread, in
    autocommit (storage.driver opens transactions explicitly), no ping before use (README, «PostgreSQL»),
    and `synchronous_commit = off`: the sign-in's commits (an attempt
    counted, a session opened) are visible to every process at once but do not wait for the WAL flush —
    the durability SQLite has here (WAL, `synchronous=NORMAL`): a crash of the database server can lose
    the last fraction of a second of them (a resident signs in again; a lockout counts a few attempts
    fewer). Two flushes were 0.35 ms of each sign-in (docs/signin.md).
    """
    if engine.dialect.name == "sqlite":
        blocking = create_engine(
            engine.url.set(drivername="sqlite"), connect_args={"timeout": 30, "check_same_thread": False}
        )
        _configure_sqlite(blocking)
        return blocking
    url = engine.url.set(drivername="postgresql+psycopg")
    given = url.query.get("options")  # the URL's own `options` are kept: connect_args would replace them
    given = given if isinstance(given, str) or given is None else " ".join(given)
    return create_engine(
        url,
        pool_size=BLOCKING_THREADS,
        max_overflow=0,
        pool_pre_ping=False,
        isolation_level="AUTOCOMMIT",  # transactions are explicit (storage.driver): no BEGIN round trip otherwise
        connect_args={"options": " ".join(filter(None, (given, "-c synchronous_commit=off")))},
    )


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE.

    Every transaction takes the write lock when it begins, so read-check-write sequences (limits,
    counters, claiming deliveries) are serialised across processes instead of failing with
    `database is locked` when a reader tries to upgrade.
    """

    event.listen(engine, "connect", sqlite_pragmas)

    @event.listens_for(engine, "begin")
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
        # Told every statement run on the driver (storage.driver, storage.hot); tests count them. Statements
        # through SQLAlchemy are seen by its own events.
        self.listeners: list[StatementListener] = []
        self.hot = HotReads(engine.url, self.listeners)  # the one-statement reads every screen makes
        self._blocking: Engine | None = None
        self._blocking_lock = threading.Lock()
        self._blocking_threads: ThreadPoolExecutor | None = None

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker, self.on_commit)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def blocking(self) -> Engine:
        """The synchronous engine (see the module's notes); only for code running in a worker thread."""
        if self._blocking is None:
            with self._blocking_lock:
                if self._blocking is None:
                    self._blocking = make_blocking_engine(self.engine)
        return self._blocking

    async def run_blocking(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(*args)` — synchronous code on the blocking engine — in a worker thread at normal
        priority (the sign-in's database work, around a hash it hands to the hashing pool)."""
        if self._blocking_threads is None:
            self._blocking_threads = ThreadPoolExecutor(
                max_workers=BLOCKING_THREADS, thread_name_prefix="eirc-db"
            )
        return await asyncio.get_running_loop().run_in_executor(self._blocking_threads, work, *args)

    async def dispose(self) -> None:
        await self.hot.dispose()
        if self._blocking_threads is not None:
            self._blocking_threads.shutdown(wait=True)
            self._blocking_threads = None
        if self._blocking is not None:
            self._blocking.dispose()
        await self.engine.dispose()
