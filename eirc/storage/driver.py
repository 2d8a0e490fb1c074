"""Statements run on the database driver itself, with SQLAlchemy's knowledge of the schema.

Why: a Core statement run through SQLAlchemy costs tens to hundreds of microseconds of Python around the
driver's own work (building it, its cache key, the execution context, the result object) — nothing for
most requests, but the `me` query and the sign-in pay it on every request, and the sign-in pays it with
the caches that argon2's 19 MiB have just emptied (scripts/bench_login.py, docs/signin.md).

- `DriverStatement`: a SQLAlchemy Core statement (a SELECT, a DML statement, or `text()` with typed
  columns) compiled once per dialect to the driver's own SQL text; every bound value and every result
  column goes through the converters SQLAlchemy itself would apply for its type on that dialect
  (`TypeEngine.bind_processor` / `result_processor`), so rows read the same as through the engine (aware
  UTC datetimes, dates, booleans on SQLite). Rows are named tuples with the statement's column keys.
- `DriverConnection`: a DB-API connection (from an engine's pool, in autocommit) running DriverStatements:
  one statement commits by itself; `transaction()` groups several (`BEGIN IMMEDIATE` on SQLite, as the
  engines do). Used from worker threads.
- `sa_driver(session_or_connection)`: the same interface over a SQLAlchemy connection or session
  (`exec_driver_sql`), so code written for the driver also runs inside a unit of work (`run_sync`).

`listeners` are told every statement (tests count and inspect them).
"""

from __future__ import annotations

import contextlib
from collections import namedtuple
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

StatementListener = Callable[[str, dict[str, Any]], None]

_DIALECTS: dict[str, Callable[[], Dialect]] = {
    "postgresql": lambda: postgresql.psycopg.dialect(),  # type: ignore[attr-defined]
    # asyncpg, the hot reads' driver (storage.hot): `$1, $2, …` — the values go positionally (`Compiled.order`)
    "postgresql+asyncpg": lambda: postgresql.asyncpg.dialect(),  # type: ignore[attr-defined]
    "sqlite": lambda: sqlite.pysqlite.dialect(paramstyle="named"),  # type: ignore[attr-defined]
}


@dataclass(frozen=True)
class _Bind:
    convert: Callable[[Any], Any] | None  # SQLAlchemy's converter for the parameter's type on the dialect
    default: (
        Callable[[], Any] | None
    )  # the value written into the statement, or a column default; None: required


@dataclass(frozen=True)
class Compiled:
    sql: str
    binds: dict[str, _Bind]  # parameter name in the SQL → how to bind it
    columns: tuple[Callable[[Any], Any] | None, ...]  # result column → converter
    row: type | None  # the named tuple of a result, or None when the statement returns no rows
    order: tuple[str, ...] = ()  # positional drivers (asyncpg): the parameter names in the order of $1, $2, …

    def bind(self, params: dict[str, Any]) -> dict[str, Any]:
        bound = {}
        for name, spec in self.binds.items():
            if name in params:
                value = params[name]
            elif spec.default is not None:
                value = spec.default()
            else:
                raise KeyError(f"no value for the bind parameter {name!r}")
            bound[name] = spec.convert(value) if spec.convert is not None else value
        return bound

    def positional(self, bound: dict[str, Any]) -> list[Any]:
        """`bind`'s values in the order a positional driver takes them."""
        return [bound[name] for name in self.order]

    def rows(self, raw: list[tuple]) -> list[Any]:
        converters = self.columns
        make = self.row._make  # type: ignore[union-attr]
        return [make(v if c is None else c(v) for c, v in zip(converters, r, strict=True)) for r in raw]


class DriverStatement:
    """A SQLAlchemy Core statement, compiled once per dialect to the driver's SQL and converters.

    Values are taken from the `params` given by name; a value written into the statement (a literal, a
    LIMIT, `bindparam(..., value=...)`) and a column's scalar or context-free default fill in the rest, as
    SQLAlchemy would. Not supported: expanding IN parameters (a list bound at execution time) — refused
    when the statement is compiled.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect_name: str) -> Compiled:
        found = self._compiled.get(dialect_name)
        if found is None:
            found = self._compiled[dialect_name] = self._compile(_DIALECTS[dialect_name]())
        return found

    def _compile(self, dialect: Dialect) -> Compiled:
        compiled = self.statement.compile(dialect=dialect)
        sql = str(compiled)
        if "POSTCOMPILE" in sql:
            raise ValueError("DriverStatement: expanding IN parameters are not supported; bind each value")
        binds: dict[str, _Bind] = {}
        for bind, name in compiled.bind_names.items():
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            binds[name] = _Bind(
                convert=convert, default=None if bind.required else _constant(bind.effective_value)
            )
        for column in (*(compiled.insert_prefetch or ()), *(compiled.update_prefetch or ())):
            default = _column_default(column)
            if column.key in binds and default is not None:  # SQLAlchemy computes these when it executes
                binds[column.key] = _Bind(convert=binds[column.key].convert, default=default)
        if isinstance(self.statement, UpdateBase):
            columns = list(self.statement.exported_columns)  # the RETURNING columns, if any
        else:
            columns = list(getattr(self.statement, "selected_columns", None) or [])
        processors = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        row = namedtuple("Row", [c.key for c in columns]) if columns else None  # type: ignore[misc]
        order = tuple(compiled.positiontup or ()) if dialect.positional else ()
        return Compiled(sql=sql, binds=binds, columns=processors, row=row, order=order)


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _column_default(column: Any) -> Callable[[], Any] | None:
    """A column's Python-side default as a factory (a scalar, or a callable that needs no context)."""
    default = column.default
    if default is None:
        return None
    if default.is_scalar:
        return _constant(default.arg)
    if default.is_callable:
        return lambda: default.arg(None)  # SQLAlchemy wraps a zero-argument callable to take a context
    return None


class Driver(Protocol):
    """What code written for the driver needs: run a statement, get its rows ([] for none)."""

    dialect: str

    def rows(self, statement: DriverStatement, params: dict[str, Any]) -> list[Any]: ...


class DriverConnection:
    """A DB-API connection running DriverStatements (see the module's notes)."""

    def __init__(self, dbapi_connection: Any, dialect: str, listeners: list[StatementListener]) -> None:
        self.connection = dbapi_connection
        self.dialect = dialect
        self.listeners = listeners
        self._cursor = dbapi_connection.cursor()

    def rows(self, statement: DriverStatement, params: dict[str, Any]) -> list[Any]:
        compiled = statement.compiled(self.dialect)
        bound = compiled.bind(params)
        for listener in self.listeners:
            listener(compiled.sql, bound)
        cursor = self._cursor
        cursor.execute(compiled.sql, bound)
        return compiled.rows(cursor.fetchall()) if compiled.row is not None else []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[DriverConnection]:
        """BEGIN (IMMEDIATE on SQLite: the write lock is taken at once, as the engines do); COMMIT at the
        end of the block, ROLLBACK if it raises. Outside a block every statement commits by itself (the
        blocking engines' connections are in autocommit)."""
        cursor = self._cursor
        cursor.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
        try:
            yield self
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")


@contextlib.contextmanager
def driver_connection(engine: Engine, listeners: list[StatementListener]) -> Iterator[DriverConnection]:
    """A pooled DB-API connection of a synchronous `engine`, returned to the pool at the end."""
    dbapi_connection = engine.raw_connection()
    try:
        yield DriverConnection(dbapi_connection, engine.dialect.name, listeners)
    finally:
        dbapi_connection.close()


class _SqlAlchemyDriver:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name

    def rows(self, statement: DriverStatement, params: dict[str, Any]) -> list[Any]:
        compiled = statement.compiled(self.dialect)
        result = self.connection.exec_driver_sql(compiled.sql, compiled.bind(params))
        return compiled.rows(result.fetchall()) if compiled.row is not None else []


def sa_driver(db: Connection | Session | Driver) -> Driver:
    """The Driver interface over a synchronous SQLAlchemy connection or session (a Driver is kept)."""
    if isinstance(db, Session):
        return _SqlAlchemyDriver(db.connection())
    if isinstance(db, Connection):
        return _SqlAlchemyDriver(db)
    return db
