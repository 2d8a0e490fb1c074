"""The connections of `UnitOfWorkFactory.read`: one-statement reads, without a transaction around them.

`me` — every screen's query — is one SELECT. Through the unit of work it would cost a transaction (BEGIN …
ROLLBACK: two round trips on PostgreSQL; the write lock on SQLite, where every transaction is BEGIN
IMMEDIATE) and SQLAlchemy's async connection checkout. Measured with scripts/bench_me.py, that made `me`
2.3–2.6 × a trivial query on PostgreSQL; docs/architecture.md has the figures. So these reads run on
connections of their own, still with SQLAlchemy's knowledge of the schema (the statement is a SQLAlchemy
Core statement, compiled once per statement for the driver):

- PostgreSQL: psycopg's own pool (`psycopg_pool`, the driver's authors'), connections in autocommit,
  statements prepared on the server. A read on a connection that turns out dead (the server restarted, its
  backend was terminated) is tried once more on a new one — it is only a read — once the pool has tested
  its idle connections.
- SQLite: a synchronous SQLAlchemy connection (sqlite3), read-only, used on the event loop: a WAL reader does
  not wait for writers, and the read takes less than the thread hops aiosqlite would need for it.

On PostgreSQL values are bound as psycopg adapts them (strings, aware datetimes) and rows come back with
psycopg's types (aware datetimes, dates, booleans), named by the statement's columns: what the reads here
need, nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL

from eirc.storage.sqlite import sqlite_pragmas

log = logging.getLogger("eirc.storage")

T = TypeVar("T")
POOL_MAX_SIZE = 10  # PostgreSQL connections of each gateway process for these reads
POOL_TIMEOUT_SECONDS = 5  # waiting for one (all busy, or the server down): then the read fails
SQLITE_BUSY_MILLISECONDS = 1000  # on the event loop: never wait long (WAL readers rarely wait at all)


class _Result:
    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def all(self) -> list[Any]:
        return self._rows


class _Connection(Protocol):
    async def execute(self, statement: Any, params: dict[str, Any] | None = None) -> _Result: ...


class Reader(Protocol):
    async def run(self, work: Callable[[_Connection], Awaitable[T]]) -> T: ...

    async def close(self) -> None: ...


def _compiled(statement: Any, dialect: Any, cache: dict[int, tuple[Any, str]]) -> str:
    found = cache.get(id(statement))
    if found is None or found[0] is not statement:
        found = cache[id(statement)] = (statement, str(statement.compile(dialect=dialect)))
    return found[1]


class _PostgresConnection:
    def __init__(self, connection: Any, cache: dict) -> None:
        self._connection = connection
        self._cache = cache

    async def execute(self, statement: Any, params: dict[str, Any] | None = None) -> _Result:
        sql = _compiled(statement, _PG_DIALECT, self._cache)
        cursor = await self._connection.execute(sql, params or {}, prepare=True)
        return _Result(await cursor.fetchall())


_PG_DIALECT = postgresql.psycopg.dialect()  # type: ignore[attr-defined]


class PostgresReader:
    def __init__(self, url: URL) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool: Any = None
        self._opening = asyncio.Lock()
        self._cache: dict[int, tuple[Any, str]] = {}

    async def _opened(self) -> Any:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    from psycopg.rows import namedtuple_row
                    from psycopg_pool import AsyncConnectionPool

                    pool = AsyncConnectionPool(
                        self._conninfo,
                        min_size=1,
                        max_size=POOL_MAX_SIZE,
                        timeout=POOL_TIMEOUT_SECONDS,
                        kwargs={"autocommit": True, "row_factory": namedtuple_row},
                        open=False,
                    )
                    await pool.open(wait=False)
                    self._pool = pool
        return self._pool

    async def run(self, work: Callable[[_Connection], Awaitable[T]]) -> T:
        import psycopg

        pool = await self._opened()
        for attempt in (1, 2):
            used: Any = None
            try:
                async with pool.connection() as connection:
                    used = connection
                    return await work(_PostgresConnection(connection, self._cache))
            except psycopg.OperationalError as exc:  # the pool drops a broken connection when it comes back
                if attempt == 2 or used is None or not used.broken:
                    raise
                log.info(
                    "a read found its connection closed (%s); reading again on a new one", type(exc).__name__
                )
                await pool.check()  # the server went away for the others too: the idle ones are tested now
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


class _SqliteConnection:
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def execute(self, statement: Any, params: dict[str, Any] | None = None) -> _Result:
        return _Result(list(self._connection.execute(statement, params or {})))


class SqliteReader:
    """A synchronous SQLAlchemy engine (sqlite3) whose read-only connection is used on the event loop."""

    def __init__(self, url: URL) -> None:
        self._engine = create_engine(url.set(drivername="sqlite"), connect_args={"check_same_thread": False})
        event.listen(self._engine, "connect", _read_only)

    async def run(self, work: Callable[[_Connection], Awaitable[T]]) -> T:
        with self._engine.connect() as connection:
            return await work(_SqliteConnection(connection))

    async def close(self) -> None:
        self._engine.dispose()


def _read_only(dbapi_connection: Any, record: Any) -> None:
    sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MILLISECONDS}")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def make_reader(url: URL) -> Reader:
    if url.get_backend_name() == "sqlite":
        return SqliteReader(url)
    return PostgresReader(url)
