"""Hot reads: the one-statement reads every screen makes (`me`), on the database driver itself.

Measured on this project's machine (scripts/bench_me.py), the same SELECT costs about 0.38 ms through
SQLAlchemy's async engine on PostgreSQL, 0.12–0.14 ms on a `psycopg_pool` connection with a prepared
statement and 0.08–0.09 ms on asyncpg; on SQLite 0.08 ms through SQLAlchemy and a third of that on the
sqlite3 module. A read that every screen makes pays that difference on every request, so such reads skip
the ORM layer — but not SQLAlchemy's knowledge of the schema: the statement is written once, in SQLAlchemy
Core, and compiled once per dialect to the driver's SQL with SQLAlchemy's own value converters
(`storage.driver.DriverStatement`).

Connections, in autocommit (one statement sees one consistent state by itself; writes never come here):

- PostgreSQL: asyncpg connections in a small pool of our own (`_AsyncpgPool`; asyncpg's own pool resets
  every connection it takes back with a round trip of its own). asyncpg prepares each statement once per
  connection (its statement cache). A connection that fails is closed, never reused; a read that finds an
  idle connection dead (the server restarted) is tried once more on a new one — it is only a read.
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
from eirc.storage import pg_options
from eirc.storage.driver import DriverStatement, StatementListener

# PostgreSQL: reads are short; a few connections per gateway process serve them all.
POOL_MAX_SIZE = 10
POOL_TIMEOUT_SECONDS = 3  # waiting for a connection (all busy, or the server down): then the request fails


class HotReads:
    """`await hot.all(statement, params)`: the rows of one hot read (see the module's notes)."""

    def __init__(self, url: URL, listeners: list[StatementListener]) -> None:
        self.url = url
        self.dialect = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"
        # what statements are compiled for: the driver that runs them
        self.compile_as = "sqlite" if self.dialect == "sqlite" else "postgresql+asyncpg"
        self.listeners = listeners  # told every statement (tests count them)
        self._sqlite: sqlite3.Connection | None = None
        self._pool: _AsyncpgPool | None = None

    async def all(self, statement: DriverStatement, params: dict[str, Any]) -> list[Any]:
        compiled = statement.compiled(self.compile_as)
        bound = compiled.bind(params)
        for listener in self.listeners:
            listener(compiled.sql, bound)
        if self._pool is None and self.dialect == "sqlite":
            return compiled.rows(self._sqlite_connection().execute(compiled.sql, bound).fetchall())
        if self._pool is None:
            self._pool = _AsyncpgPool(self.url, POOL_MAX_SIZE, POOL_TIMEOUT_SECONDS)
        return compiled.rows(await self._pool.fetch(compiled.sql, compiled.positional(bound)))

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

    async def dispose(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


class _AsyncpgPool:
    """Up to `max_size` asyncpg connections, opened on demand, kept open while idle.

    A read waits at most `timeout` seconds for a connection (all busy, or the server down), then fails.
    """

    def __init__(self, url: URL, max_size: int, timeout: float) -> None:
        self._dsn = asyncpg_dsn(url)
        self._timeout = timeout
        self._slots = asyncio.Semaphore(max_size)
        self._idle: list[Any] = []
        self._closed = False

    async def fetch(self, sql: str, args: list[Any]) -> list[Any]:
        if self._slots.locked():
            async with asyncio.timeout(self._timeout):
                await self._slots.acquire()
        else:
            await self._slots.acquire()  # a free slot: no wait
        try:
            while self._idle:
                conn = self._idle.pop()
                if conn.is_closed():
                    continue
                try:
                    rows = await conn.fetch(sql, *args)
                except BaseException as failure:
                    conn.terminate()  # never reused: cancelled mid-read, or the connection failed
                    if not _is_connection_lost(failure):
                        raise
                    continue  # an idle connection died (the server restarted): a new one reads
                self._keep(conn)
                return rows
            conn = await self._connect()
            try:
                rows = await conn.fetch(sql, *args)
            except BaseException:
                conn.terminate()
                raise
            self._keep(conn)
            return rows
        finally:
            self._slots.release()

    async def _connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(self._dsn, timeout=self._timeout)

    def _keep(self, conn: Any) -> None:
        if self._closed:
            conn.terminate()
        else:
            self._idle.append(conn)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                await asyncio.wait_for(conn.close(), timeout=self._timeout)
            except Exception:  # closing anyway: a connection that cannot say goodbye is dropped
                conn.terminate()


def asyncpg_dsn(url: URL) -> str:
    """`url` as asyncpg takes it: libpq's URL form (user, password, host, port, database, sslmode …) without
    the libpq-only parameters it would send to the server as settings (storage.pg_options); its connect
    time-out is the pool's own. A parameter asyncpg cannot honour was refused when the settings were read;
    here it is refused again (ValueError) rather than dropped."""
    query = {name: value if isinstance(value, str) else value[-1] for name, value in url.query.items()}
    reason = pg_options.refusal(query)
    if reason:
        raise ValueError(reason)
    plain = url.set(drivername="postgresql").difference_update_query(pg_options.left_out(query))
    return plain.render_as_string(hide_password=False)


def _is_connection_lost(failure: BaseException) -> bool:
    """The connection itself failed (closed by the server, reset, …) — not the statement."""
    import asyncpg

    return isinstance(
        failure,
        (
            OSError,
            asyncpg.InterfaceError,  # «connection is closed»: seen closed only as the read began
            asyncpg.exceptions.ConnectionDoesNotExistError,
            asyncpg.exceptions.PostgresConnectionError,
            asyncpg.exceptions.AdminShutdownError,
            asyncpg.exceptions.CannotConnectNowError,
        ),
    )
