"""The hot reads' own asyncpg connections on PostgreSQL (storage/hot.py): kept and reused, a dead idle
connection replaced without failing the read, a cancelled read never leaves a connection behind, a read
that finds every connection busy waits at most the timeout, and dispose closes them all."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import String, bindparam, make_url, select, text

from eirc.storage import hot
from eirc.storage.driver import DriverStatement
from eirc.storage.tables import User
from tests.conftest import BACKENDS

USER = User.__table__  # type: ignore[attr-defined]
USER_BY_ID = DriverStatement(select(USER.c.id).where(USER.c.id == bindparam("uid")))


# The pool is PostgreSQL's (SQLite reads on one sqlite3 connection): these run on PostgreSQL only.
pytestmark = pytest.mark.parametrize(
    "database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True
)


def backends_of(database_url: str) -> list[int]:
    """PIDs of the server processes serving this database (our pool's connections among them)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows]


def terminate(database_url: str, pids: list[int]) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_a_connection_is_kept_and_reused(container):
    reads = container.uow.hot
    assert await reads.all(USER_BY_ID, {"uid": "nobody"}) == []
    pool = reads._pool
    [conn] = pool._idle
    for _ in range(5):
        await reads.all(USER_BY_ID, {"uid": "nobody"})
    assert pool._idle == [conn] and not conn.is_closed()


async def test_a_dead_idle_connection_is_replaced_and_the_read_succeeds(container, database_url):
    reads = container.uow.hot
    await reads.all(USER_BY_ID, {"uid": "nobody"})
    [old] = reads._pool._idle
    before = set(backends_of(database_url))
    terminate(database_url, [old.get_server_pid()])
    await asyncio.sleep(0.2)

    assert await reads.all(USER_BY_ID, {"uid": "nobody"}) == []  # no error for the resident
    [new] = reads._pool._idle
    assert new is not old and new.get_server_pid() not in before


class SeemsOpen:
    """A connection the gateway has not yet seen closed."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.terminated = False

    def is_closed(self) -> bool:
        return False

    def terminate(self) -> None:
        self.terminated = True
        self.conn.terminate()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


async def test_a_read_on_a_connection_found_dead_is_tried_again_on_a_new_one(container, database_url):
    # The server ended the connection, but the gateway has not noticed yet (no EOF read so far): the read
    # itself finds out, and is run again on a new connection.
    reads = container.uow.hot
    await reads.all(USER_BY_ID, {"uid": "nobody"})
    [old] = reads._pool._idle
    terminate(database_url, [old.get_server_pid()])
    await asyncio.sleep(0.2)
    reads._pool._idle[:] = [stale := SeemsOpen(old)]

    assert await reads.all(USER_BY_ID, {"uid": "nobody"}) == []
    [new] = reads._pool._idle
    assert new is not stale and new is not old and stale.terminated


async def test_a_statement_error_is_raised_and_its_connection_dropped(container):
    reads = container.uow.hot
    broken = DriverStatement(select(USER.c.id).where(USER.c.id == bindparam("uid")))
    # a value the column cannot take: the server refuses the statement
    with pytest.raises(Exception) as failure:
        await reads.all(broken, {"uid": 12345})
    assert not isinstance(failure.value, AssertionError)
    assert reads._pool._idle == []  # not kept: the next read takes a fresh one
    assert await reads.all(USER_BY_ID, {"uid": "nobody"}) == []


async def test_a_cancelled_read_leaves_no_connection_behind(container, database_url):
    reads = container.uow.hot
    await reads.all(USER_BY_ID, {"uid": "nobody"})
    pool = reads._pool
    [conn] = pool._idle
    task = asyncio.create_task(pool.fetch("SELECT pg_sleep(5)", []))  # on the idle connection
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert conn.is_closed() and pool._idle == []
    assert pool._slots._value == hot.POOL_MAX_SIZE  # its slot is free again
    assert await reads.all(USER_BY_ID, {"uid": "nobody"}) == []


async def test_a_read_waits_at_most_the_timeout_for_a_busy_pool(container, monkeypatch):
    monkeypatch.setattr(hot, "POOL_MAX_SIZE", 1)
    monkeypatch.setattr(hot, "POOL_TIMEOUT_SECONDS", 0.5)
    reads = container.uow.hot
    await reads.all(USER_BY_ID, {"uid": "nobody"})  # opens the pool, with one slot
    hold = asyncio.create_task(reads._pool.fetch("SELECT pg_sleep(2)", []))
    await asyncio.sleep(0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await reads.all(USER_BY_ID, {"uid": "nobody"})
    assert 0.4 <= loop.time() - started < 1.5
    await hold
    assert await reads.all(USER_BY_ID, {"uid": "nobody"}) == []  # free again


async def test_dispose_closes_every_connection(container, database_url):
    reads = container.uow.hot
    await reads.all(USER_BY_ID, {"uid": "nobody"})
    pool = reads._pool
    await asyncio.gather(*(pool.fetch("SELECT pg_sleep(0.2)", []) for _ in range(3)))  # three at once
    conns = list(pool._idle)
    assert len(conns) == 3
    pids = {c.get_server_pid() for c in conns}
    await reads.dispose()
    assert all(c.is_closed() for c in conns)
    await asyncio.sleep(0.2)
    assert not pids & set(backends_of(database_url))  # gone on the server too


async def test_libpq_only_parameters_in_the_url_do_not_break_the_reads(database_url):
    # psycopg (libpq) takes these; asyncpg would send them to the server as settings, which refuses the
    # connection («unrecognized configuration parameter») — every `me` would fail. Left out; real server
    # settings (application_name, options) still reach the server.
    url = make_url(
        database_url + "?keepalives=1&keepalives_idle=30&tcp_user_timeout=10000&connect_timeout=5"
        "&channel_binding=prefer&gssencmode=disable&application_name=eirc-hot"
        "&options=-c%20statement_timeout%3D7s"
    )
    reads = hot.HotReads(url, [])
    settings = DriverStatement(
        text(
            "SELECT current_setting('application_name') AS name, current_setting('statement_timeout') AS timeout"
        ).columns(name=String(), timeout=String())
    )
    try:
        [row] = await reads.all(settings, {})
    finally:
        await reads.dispose()
    assert (row.name, row.timeout) == ("eirc-hot", "7s")


def test_a_parameter_asking_for_a_protection_asyncpg_cannot_give_is_refused(database_url):
    with pytest.raises(ValueError, match="channel_binding=require"):
        hot.asyncpg_dsn(make_url(database_url + "?channel_binding=require"))


def test_the_sign_in_connections_keep_the_urls_own_options(database_url):
    # the blocking engine adds `-c synchronous_commit=off` (storage/db.py) to what the URL asks for
    from sqlalchemy.ext.asyncio import create_async_engine

    from eirc.settings import to_async_url
    from eirc.storage.db import make_blocking_engine

    url = to_async_url(database_url + "?options=-c%20statement_timeout%3D7s&application_name=eirc-signin")
    blocking = make_blocking_engine(create_async_engine(url))
    try:
        with blocking.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT current_setting('statement_timeout'), current_setting('synchronous_commit'),"
                " current_setting('application_name')"
            ).one()
    finally:
        blocking.dispose()
    assert tuple(row) == ("7s", "off", "eirc-signin")
