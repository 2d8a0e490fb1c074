"""How eirc opens SQLite: WAL, foreign keys, a busy timeout, and write transactions that lock at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE.

    Every transaction takes the write lock when it begins, so read-check-write sequences (limits,
    counters, claiming deliveries) are serialised across processes instead of failing with
    `database is locked` when a reader tries to upgrade.
    """

    event.listen(engine, "connect", sqlite_pragmas)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
