"""Hot reads: the one-statement reads every screen makes (`me`), on the database driver itself.

Measured on this project's machine (scripts/bench_me.py), the same SELECT costs about 0.38 ms through
SQLAlchemy's async engine on PostgreSQL and 0.13 ms on a psycopg connection from a psycopg pool with a
prepared statement; on SQLite 0.08 ms through SQLAlchemy and a third of that on the sqlite3 module. A read
that every screen makes pays that difference on every request, so such reads skip the ORM layer — but not
SQLAlchemy's knowledge of the schema: the statement is written once, in SQLAlchemy Core, and compiled once
per dialect to the driver's SQL with SQLAlchemy's own value converters (`storage.driver.DriverStatement`).

Connections, in autocommit (one statement sees one consistent state by itself; writes never come here):

- PostgreSQL: a `psycopg_pool.AsyncConnectionPool` (network I/O stays off the event loop), statements
  prepared on each connection (no planning per request);
- SQLite: one synchronous `sqlite3` connection used on the event loop, opened with `query_only`. A WAL
  reader never waits for writers, and the read takes tens of microseconds — less than the thread hops an
  async driver needs to run it. The loop runs one statement at a time, so one connection is enough.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from sqlalchemy.engine import URL

from eirc.settings import sqlite_path
from eirc.storage.driver import DriverStatement, StatementListener

# PostgreSQL: reads are short; a few connections per gateway process serve them all.
POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
POOL_TIMEOUT_SECONDS = 3  # waiting for a connection (all busy, or the server down): then the request fails


class HotReads:
    """`await hot.all(statement, params)`: the rows of one hot read (see the module's notes)."""

    def __init__(self, url: URL, listeners: list[StatementListener]) -> None:
        self.url = url
        self.dialect = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"
        self.listeners = listeners  # told every statement (tests count them)
        self._sqlite: sqlite3.Connection | None = None
        self._pool: Any = None
        self._opening: asyncio.Lock | None = None

    async def all(self, statement: DriverStatement, params: dict[str, Any]) -> list[Any]:
        compiled = statement.compiled(self.dialect)
        bound = compiled.bind(params)
        for listener in self.listeners:
            listener(compiled.sql, bound)
        if self.dialect == "sqlite":
            return compiled.rows(self._sqlite_connection().execute(compiled.sql, bound).fetchall())
        pool = self._pool or await self._open_pool()
        async with pool.connection() as conn:
            cursor = await conn.execute(compiled.sql, bound, prepare=True)
            raw = await cursor.fetchall()
        return compiled.rows(raw)

    def _sqlite_connection(self) -> sqlite3.Connection:
        if self._sqlite is None:
            from eirc.storage.db import sqlite_pragmas

            path = sqlite_path(self.url.render_as_string(hide_password=False)) or ":memory:"
            conn = sqlite3.connect(path, timeout=1, isolation_level=None, check_same_thread=False)
            sqlite_pragmas(conn, None)
            # A read on the event loop must never wait long (WAL readers only wait in rare cases, such as
            # recovery), and this connection never writes.
            conn.execute("PRAGMA busy_timeout=1000")
            conn.execute("PRAGMA query_only=ON")
            self._sqlite = conn
        return self._sqlite

    async def _open_pool(self) -> Any:
        from psycopg_pool import AsyncConnectionPool

        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
                pool = AsyncConnectionPool(
                    conninfo,
                    min_size=POOL_MIN_SIZE,
                    max_size=POOL_MAX_SIZE,
                    timeout=POOL_TIMEOUT_SECONDS,
                    kwargs={"autocommit": True},
                    open=False,
                    name="eirc-hot-reads",
                )
                await pool.open()
                self._pool = pool
        return self._pool

    async def dispose(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
