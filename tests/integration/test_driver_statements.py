"""Statements on the database driver itself (storage/driver.py, storage/hot.py), on both backends.

A row written through a DriverStatement on a pooled DB-API connection must read exactly as through
SQLAlchemy — aware UTC datetimes, dates, booleans (not 0/1 on SQLite), None — whichever way it is read:
the ORM in a unit of work, the hot reads, the driver again, or `sa_driver` inside a unit of work. A
transaction that raises leaves nothing behind, and the listeners are told every statement."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Boolean, Date, String, bindparam, insert, select, text, update

from eirc.storage.driver import DriverConnection, DriverStatement, driver_connection, sa_driver
from eirc.storage.tables import Counter, User
from eirc.storage.types import UTCDateTime

USER = User.__table__  # type: ignore[attr-defined]
COUNTER = Counter.__table__  # type: ignore[attr-defined]

INSERT_USER = DriverStatement(insert(USER).values({c.name: bindparam(c.name, type_=c.type) for c in USER.c}))
USER_BY_ID = DriverStatement(select(*USER.c).where(USER.c.id == bindparam("uid")))
SOME_BY_ID = DriverStatement(  # plain SQL with typed result columns
    text("SELECT birth_date, email_confirmed, created_at, middle_name FROM app_user WHERE id = :uid").columns(
        birth_date=Date(), email_confirmed=Boolean(), created_at=UTCDateTime(), middle_name=String()
    )
)
SET_FLAGS = DriverStatement(
    update(USER)
    .where(USER.c.id == bindparam("uid"))
    .values(
        email_confirmed=bindparam("confirmed", type_=Boolean()),
        birth_date=bindparam("born", type_=Date()),
        updated_at=bindparam("at", type_=UTCDateTime()),
    )
)

MSK = timezone(timedelta(hours=3))
CREATED = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=MSK)  # 09:30:15.123456 UTC


def user_values(uid: str = "u1", phone: str = "+79160000001", **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": uid,
        "phone": phone,
        "email": None,
        "email_confirmed": True,
        "email_notifications": False,
        "last_name": "Петров",
        "first_name": "Иван",
        "middle_name": None,
        "birth_date": date(1980, 2, 29),
        "password_hash": None,
        "password_changed_at": None,
        "gosuslugi_sub": None,
        "source": "cli",
        "email_letter_sent_at": None,
        "created_at": CREATED,
        "updated_at": datetime(2026, 3, 2, tzinfo=UTC),
    }
    values.update(overrides)
    return values


def write(container, statement: DriverStatement, params: dict[str, Any]) -> list[Any]:
    """One statement in a driver transaction, on a pooled connection of the blocking engine."""
    with driver_connection(container.uow.blocking, container.uow.listeners) as db, db.transaction():
        return db.rows(statement, params)


async def orm_user(container, uid: str) -> User | None:
    async with container.uow() as tx:
        user = (await tx.session.execute(select(User).where(User.id == uid))).scalar_one_or_none()
        if user is not None:
            tx.session.expunge(user)
        return user


def assert_reads_as_written(row: Any) -> None:
    assert row.created_at == CREATED
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == timedelta(0)
    assert row.updated_at == datetime(2026, 3, 2, tzinfo=UTC) and row.updated_at.utcoffset() == timedelta(0)
    assert type(row.birth_date) is date and row.birth_date == date(1980, 2, 29)
    assert type(row.email_confirmed) is bool and row.email_confirmed is True
    assert type(row.email_notifications) is bool and row.email_notifications is False
    assert row.middle_name is None and row.email is None and row.password_changed_at is None
    assert (row.last_name, row.first_name, row.source) == ("Петров", "Иван", "cli")


async def test_a_row_written_on_the_driver_reads_the_same_everywhere(container):
    assert await container.uow.run_blocking(write, container, INSERT_USER, user_values()) == []

    # the ORM in a unit of work
    user = await orm_user(container, "u1")
    assert user is not None
    assert_reads_as_written(user)

    # the hot reads
    [hot] = await container.uow.hot.all(USER_BY_ID, {"uid": "u1"})
    assert_reads_as_written(hot)
    assert hot._fields == tuple(c.name for c in USER.c)  # a named tuple with the columns' keys

    # the driver again, in a worker thread as in production
    def read(uid: str) -> list[Any]:
        with driver_connection(container.uow.blocking, []) as db:
            return db.rows(USER_BY_ID, {"uid": uid})

    [again] = await container.uow.run_blocking(read, "u1")
    assert again == hot
    assert await container.uow.run_blocking(read, "nobody") == []

    # sa_driver inside a unit of work
    async with container.uow() as tx:
        [through_sa] = await tx.session.run_sync(lambda s: sa_driver(s).rows(USER_BY_ID, {"uid": "u1"}))
    assert through_sa == hot

    # plain SQL with typed columns: converted the same way
    [some] = await container.uow.hot.all(SOME_BY_ID, {"uid": "u1"})
    assert type(some.birth_date) is date and type(some.email_confirmed) is bool
    assert some == (date(1980, 2, 29), True, CREATED, None)

    def read_some() -> list[Any]:
        with driver_connection(container.uow.blocking, []) as db:
            return db.rows(SOME_BY_ID, {"uid": "u1"})

    assert await container.uow.run_blocking(read_some) == [some]


async def test_an_update_on_the_driver_and_values_read_back(container):
    await container.uow.run_blocking(write, container, INSERT_USER, user_values())
    later = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    await container.uow.run_blocking(
        write, container, SET_FLAGS, {"uid": "u1", "confirmed": False, "born": None, "at": later}
    )
    user = await orm_user(container, "u1")
    assert user is not None
    assert user.email_confirmed is False and user.birth_date is None and user.updated_at == later
    [hot] = await container.uow.hot.all(USER_BY_ID, {"uid": "u1"})
    assert hot.email_confirmed is False and hot.birth_date is None
    assert hot.updated_at == later and hot.updated_at.tzinfo is not None


async def test_a_naive_datetime_is_refused_before_the_database(container):
    with pytest.raises(ValueError, match="naive datetime"):
        await container.uow.run_blocking(
            write, container, INSERT_USER, user_values(created_at=datetime(2026, 1, 1))
        )
    assert await orm_user(container, "u1") is None


async def test_a_transaction_that_raises_rolls_back(container):
    class Boom(Exception):
        pass

    def failing() -> None:
        with driver_connection(container.uow.blocking, []) as db:
            with pytest.raises(Boom), db.transaction():
                db.rows(INSERT_USER, user_values("u1", "+79160000001"))
                db.rows(INSERT_USER, user_values("u2", "+79160000002"))
                # inside the transaction the rows are there
                assert len(db.rows(USER_BY_ID, {"uid": "u2"})) == 1
                raise Boom
            # the same connection goes on working: a new transaction commits
            with db.transaction():
                db.rows(INSERT_USER, user_values("u3", "+79160000003"))

    await container.uow.run_blocking(failing)
    assert await orm_user(container, "u1") is None
    assert await orm_user(container, "u2") is None
    assert await container.uow.hot.all(USER_BY_ID, {"uid": "u1"}) == []
    assert (await orm_user(container, "u3")) is not None


async def test_a_database_error_rolls_back_the_whole_transaction(container):
    from sqlalchemy.exc import DBAPIError

    def duplicate() -> None:
        with driver_connection(container.uow.blocking, []) as db, db.transaction():
            db.rows(INSERT_USER, user_values("u1", "+79160000001"))
            db.rows(INSERT_USER, user_values("u2", "+79160000001"))  # the same phone: unique

    dbapi_errors = (DBAPIError, *_dbapi_errors())
    with pytest.raises(dbapi_errors):
        await container.uow.run_blocking(duplicate)
    assert await orm_user(container, "u1") is None
    # the connection went back to the pool in a usable state
    await container.uow.run_blocking(write, container, INSERT_USER, user_values("u4", "+79160000004"))
    assert await orm_user(container, "u4") is not None


def _dbapi_errors() -> tuple[type[Exception], ...]:
    import sqlite3

    import psycopg

    return (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)


async def test_listeners_are_told_every_statement(container, backend):
    told: list[tuple[str, dict[str, Any]]] = []
    container.uow.listeners.append(lambda sql, params: told.append((sql, params)))

    await container.uow.run_blocking(write, container, INSERT_USER, user_values())
    await container.uow.hot.all(USER_BY_ID, {"uid": "u1"})

    def two_reads() -> None:
        with driver_connection(container.uow.blocking, container.uow.listeners) as db:
            db.rows(USER_BY_ID, {"uid": "u1"})
            db.rows(SOME_BY_ID, {"uid": "nobody"})

    await container.uow.run_blocking(two_reads)

    assert [sql for sql, _ in told] == [
        INSERT_USER.compiled(backend).sql,
        USER_BY_ID.compiled(container.uow.hot.compile_as).sql,  # as the hot reads' driver takes it
        USER_BY_ID.compiled(backend).sql,
        SOME_BY_ID.compiled(backend).sql,
    ]
    assert told[0][0].startswith("INSERT INTO app_user")
    assert [params for _, params in told[1:]] == [{"uid": "u1"}, {"uid": "u1"}, {"uid": "nobody"}]
    inserted = told[0][1]
    assert set(inserted) == {c.name for c in USER.c}
    assert inserted["id"] == "u1" and inserted["middle_name"] is None
    # the listener sees the values as bound for the driver (SQLAlchemy's converters applied)
    if backend == "sqlite":
        assert inserted["created_at"] == "2026-03-01 09:30:15.123456"
        assert inserted["email_confirmed"] == 1
        assert inserted["birth_date"] == "1980-02-29"
    else:
        assert inserted["created_at"] == CREATED and inserted["created_at"].utcoffset() == timedelta(0)
        assert inserted["email_confirmed"] is True


async def test_sa_driver_runs_inside_a_unit_of_work(container):
    # written through sa_driver in a unit of work: visible inside it, gone without a commit
    async with container.uow() as tx:
        await tx.session.run_sync(lambda s: sa_driver(s).rows(INSERT_USER, user_values()))
        user = (await tx.session.execute(select(User).where(User.id == "u1"))).scalar_one()
        assert user.birth_date == date(1980, 2, 29) and user.created_at == CREATED
    assert await orm_user(container, "u1") is None

    # …and kept with one
    async with container.uow() as tx:
        await tx.session.run_sync(lambda s: sa_driver(s).rows(INSERT_USER, user_values()))
        rows = await tx.session.run_sync(lambda s: sa_driver(s).rows(USER_BY_ID, {"uid": "u1"}))
        assert len(rows) == 1
        assert_reads_as_written(rows[0])
        await tx.commit()
    [hot] = await container.uow.hot.all(USER_BY_ID, {"uid": "u1"})
    assert_reads_as_written(hot)

    # over a Connection too; a Driver is given back as it is
    async with container.uow() as tx:
        dialects = await tx.session.run_sync(
            lambda s: (sa_driver(s.connection()).dialect, sa_driver(s).dialect)
        )
    assert dialects == (container.uow.dialect, container.uow.dialect)
    with driver_connection(container.uow.blocking, []) as db:
        assert isinstance(db, DriverConnection)
        assert sa_driver(db) is db
        assert db.dialect == container.uow.dialect


async def test_a_statement_compiles_once_per_dialect(container, backend):
    statement = DriverStatement(select(USER.c.id).where(USER.c.phone == bindparam("phone")))
    first = statement.compiled(backend)
    assert statement.compiled(backend) is first
    other = "postgresql" if backend == "sqlite" else "sqlite"
    assert statement.compiled(other) is not first and statement.compiled(other).sql != first.sql
    await container.uow.run_blocking(write, container, INSERT_USER, user_values())
    assert [tuple(r) for r in await container.uow.hot.all(statement, {"phone": "+79160000001"})] == [("u1",)]


# --- statements the driver once ran differently from SQLAlchemy ----------------------------


# A Core DML statement's RETURNING rows are fetched and converted (they were lost once: a DML statement has
# no `selected_columns`).
async def test_core_returning_rows_are_returned(container):
    upsert = DriverStatement(
        insert(COUNTER)
        .values(
            key=bindparam("key"),
            count=bindparam("count"),
            expires_at=bindparam("expires", type_=UTCDateTime()),
            locked_until=bindparam("until", type_=UTCDateTime()),
        )
        .returning(COUNTER.c.key, COUNTER.c.count, COUNTER.c.expires_at)
    )
    expires = datetime(2026, 5, 1, 10, tzinfo=UTC)
    rows = await container.uow.run_blocking(
        write, container, upsert, {"key": "k", "count": 2, "expires": expires, "until": None}
    )
    assert [tuple(r) for r in rows] == [("k", 2, expires)]


# Values written into the statement itself — a literal in a WHERE clause, a LIMIT, a column's Python-side
# default such as counter.count's 0 — are bound as SQLAlchemy binds them (they once raised KeyError).
@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(DriverStatement(select(USER.c.id).where(USER.c.source == "cli")), id="literal-in-where"),
        pytest.param(DriverStatement(select(USER.c.id).order_by(USER.c.id).limit(1)), id="limit"),
    ],
)
async def test_values_inside_the_statement_are_bound(container, statement):
    await container.uow.run_blocking(write, container, INSERT_USER, user_values())
    assert [tuple(r) for r in await container.uow.hot.all(statement, {})] == [("u1",)]


async def test_a_column_default_is_applied(container):
    no_count = DriverStatement(
        insert(COUNTER).values(key=bindparam("key"), expires_at=bindparam("expires", type_=UTCDateTime()))
    )
    await container.uow.run_blocking(
        write, container, no_count, {"key": "k", "expires": datetime(2026, 5, 1, tzinfo=UTC)}
    )
    async with container.uow() as tx:
        count = (await tx.session.execute(select(Counter.count).where(Counter.key == "k"))).scalar_one()
    assert count == 0


def test_an_expanding_in_parameter_is_refused_when_compiled():
    statement = DriverStatement(select(USER.c.id).where(USER.c.id.in_(bindparam("ids", expanding=True))))
    with pytest.raises(ValueError, match="expanding"):
        statement.compiled("sqlite")


async def test_a_missing_value_names_its_parameter(container):
    statement = DriverStatement(select(USER.c.id).where(USER.c.phone == bindparam("phone")))
    with pytest.raises(KeyError, match="phone"):
        await container.uow.hot.all(statement, {})
