"""The residents import's statements (`eirc.services.user_import` holds its rules): what a batch needs to
know about the residents, e-mails and accounts it names — three or four lookups of the whole batch — and
its writes of new residents, their addresses and the changes to residents imported before.

Set-based on both databases: a lookup is one statement for the batch (``= ANY(array)`` on PostgreSQL, a
JSON array on SQLite), new rows go in with COPY (PostgreSQL) or one ``executemany`` (SQLite), changes with
one ``executemany``. Everything runs on one connection owned by the import, one transaction per batch
(`ResidentStore.batch`). PostgreSQL serialises the batches of concurrent imports with an advisory lock;
SQLite's transactions take the write lock when they begin (storage.db). A batch that meets a concurrent
change (a resident registering with a phone or e-mail of the batch meanwhile) is rolled back and raises
`ImportConflict`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import bindparam, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eirc.storage.statistics import after_bulk_load
from eirc.storage.tables import User
from eirc.storage.types import UTCDateTime

IMPORTED = "import"
"""`app_user.source` of a resident brought in by an import."""


def ordered_ids(count: int) -> list[str]:
    """Ids of 32 hex digits like `tables.new_id`'s, but growing with time: the first 12 are the time in
    milliseconds, the other 20 random. New rows then go to the right edge of the id indexes (and of
    `user_address.user_id`'s) instead of to a random page each, which at a million residents is a page
    the server must read, and write back, for every row."""
    prefix = f"{time.time_ns() // 1_000_000:012x}"
    random = os.urandom(10 * count).hex()
    return [prefix + random[i : i + 20] for i in range(0, 20 * count, 20)]


class ImportConflict(Exception):
    """The batch met a concurrent change; nothing of it was written."""


@dataclass(slots=True)
class StoredResident:
    """A resident the batch names by phone, as stored."""

    id: str
    updatable: bool  # imported and still without a password: the file may update it
    last_name: str
    first_name: str
    middle_name: str | None
    email: str | None
    email_confirmed: bool
    accounts: set[str] = field(default_factory=set)  # the accounts of its addresses
    last_position: int = 0  # the highest position of its addresses (0: none)


@dataclass
class Known:
    residents: dict[str, StoredResident]  # by phone
    email_owners: dict[str, str]  # e-mail → resident id
    accounts: set[str]  # the billing accounts that exist


@dataclass(slots=True)
class NewResident:
    phone: str
    last_name: str
    first_name: str
    middle_name: str | None
    email: str | None
    account_number: str | None  # its first address (primary), if any


@dataclass(slots=True)
class NewAddress:
    """An address added to a resident imported before."""

    user_id: str
    account_number: str
    position: int
    primary: bool


@dataclass(slots=True)
class ResidentChange:
    id: str
    last_name: str
    first_name: str
    middle_name: str | None
    email: str | None
    email_confirmed: bool


_PG_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=0x6569_7263_7573_6572)  # "eircuser"


def _lookup(select: str, column: str) -> dict[str, Any]:
    """`select` for the rows whose `column` is in a JSON array of values (the parameter ``values``)."""
    return {
        # An init plan turns the array into the list of an index scan (no join to plan, no statistics needed).
        "postgresql": text(
            f"{select} WHERE {column} = ANY(ARRAY(SELECT json_array_elements_text(CAST(:values AS json))))"
        ),
        "sqlite": text(f"{select} WHERE {column} IN (SELECT value FROM json_each(:values))"),  # noqa: S608 - constants
    }


_BY_PHONE = _lookup(
    "SELECT id, phone, source, password_hash IS NULL, last_name, first_name, middle_name, email, email_confirmed "
    "FROM app_user",
    "phone",
)
_ADDRESSES = _lookup("SELECT user_id, account_number, position FROM user_address", "user_id")
_BY_EMAIL = _lookup("SELECT email, id FROM app_user", "email")
_ACCOUNTS = _lookup("SELECT account_number FROM billing_account", "account_number")

_INSERT = {  # (COPY for PostgreSQL, INSERT for SQLite) of the rows `ResidentStore.write` builds
    "app_user": (
        "COPY app_user (id, phone, email, email_confirmed, email_notifications, last_name, first_name, "
        "middle_name, source, created_at, updated_at) FROM STDIN",
        "INSERT INTO app_user (id, phone, email, email_confirmed, email_notifications, last_name, first_name, "
        "middle_name, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    "user_address": (
        'COPY user_address (id, user_id, account_number, position, "primary", ebill, created_at) FROM STDIN',
        'INSERT INTO user_address (id, user_id, account_number, position, "primary", ebill, created_at) '
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
    ),
}

_CHANGE = (
    update(User)
    .where(
        User.id == bindparam("b_id"),
        User.source == IMPORTED,  # not a resident who set a password meanwhile
        User.password_hash.is_(None),  # type: ignore[union-attr]
    )
    .values(
        last_name=bindparam("last_name"),
        first_name=bindparam("first_name"),
        middle_name=bindparam("middle_name"),
        email=bindparam("email"),
        email_confirmed=bindparam("email_confirmed"),
        updated_at=bindparam("updated_at"),
    )
)


class ResidentStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[ResidentStore]:
        """One transaction: committed when the block ends, rolled back on an error; a unique or foreign
        key violation (a concurrent change) comes out as `ImportConflict`."""
        try:
            if self.dialect == "postgresql":
                await self.conn.execute(_PG_LOCK)
            yield self
            await self.conn.commit()
        except IntegrityError:
            await self.conn.rollback()
            raise ImportConflict from None
        except BaseException:
            await self.conn.rollback()
            raise

    async def _values(self, statements: dict[str, Any], values: Iterable[str]) -> list[Any]:
        # A NUL cannot be stored in PostgreSQL text, so no stored value holds one; nor may it be sent.
        listed = [v for v in values if "\x00" not in v]
        if not listed:
            return []
        return list(await self.conn.execute(statements[self.dialect], {"values": json.dumps(listed)}))

    async def lookup(self, *, phones: Iterable[str], emails: Iterable[str], accounts: Iterable[str]) -> Known:
        residents: dict[str, StoredResident] = {}
        by_id: dict[str, StoredResident] = {}
        for uid, phone, source, no_password, last, first, middle, email, confirmed in await self._values(
            _BY_PHONE, phones
        ):
            resident = StoredResident(
                uid, source == IMPORTED and bool(no_password), last, first, middle, email, bool(confirmed)
            )
            residents[phone] = by_id[uid] = resident
        for uid, account, position in await self._values(_ADDRESSES, by_id):
            resident = by_id[uid]
            resident.accounts.add(account)
            resident.last_position = max(resident.last_position, position)
        return Known(
            residents=residents,
            email_owners=dict(await self._values(_BY_EMAIL, emails)),
            accounts={account for (account,) in await self._values(_ACCOUNTS, accounts)},
        )

    async def write(
        self,
        *,
        residents: list[NewResident],
        addresses: list[NewAddress],
        changes: list[ResidentChange],
        now: datetime,
    ) -> None:
        """New residents (imported, no password, e-mail unconfirmed, no notifications), addresses, and the
        changes of residents imported before (`updated_at` = `now`)."""
        at = now.isoformat() if self.dialect == "postgresql" else self._sqlite_time(now)
        ids = iter(ordered_ids(len(residents) * 2 + len(addresses)))
        users, places = [], []
        for r in sorted(residents, key=lambda r: r.phone):  # the phone index, too, filled in order
            uid = next(ids)
            users.append(
                (
                    uid,
                    r.phone,
                    r.email,
                    False,
                    False,
                    r.last_name,
                    r.first_name,
                    r.middle_name,
                    IMPORTED,
                    at,
                    at,
                )
            )
            if r.account_number:
                places.append((next(ids), uid, r.account_number, 1, True, False, at))
        places.extend(
            (next(ids), a.user_id, a.account_number, a.position, a.primary, False, at) for a in addresses
        )
        places.sort(key=lambda p: p[2])  # the accounts' pages in order, for the foreign key's checks
        await self._insert("app_user", users)
        await self._insert("user_address", places)
        if changes:
            await self.conn.execute(
                _CHANGE,
                [
                    {
                        "b_id": c.id,
                        "last_name": c.last_name,
                        "first_name": c.first_name,
                        "middle_name": c.middle_name,
                        "email": c.email,
                        "email_confirmed": c.email_confirmed,
                        "updated_at": now,
                    }
                    for c in changes
                ],
            )

    def _sqlite_time(self, now: datetime) -> Any:
        """`now` as SQLAlchemy stores a `UTCDateTime` on SQLite (the rows below bypass its per-row binding)."""
        processor = UTCDateTime().bind_processor(self.conn.dialect)
        return processor(now) if processor else now

    async def _insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """The rows, as driver values, with COPY (PostgreSQL) or one executemany (SQLite)."""
        if not rows:
            return
        copy_statement, insert_statement = _INSERT[table]
        if self.dialect != "postgresql":
            await self.conn.exec_driver_sql(insert_statement, rows)
            return
        data = "".join("\t".join(map(_copy_value, row)) + "\n" for row in rows)
        raw = await self.conn.get_raw_connection()
        try:
            async with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]
                async with cur.copy(copy_statement) as copy:
                    await copy.write(data)
        except psycopg.IntegrityError:  # the driver's own: SQLAlchemy did not run this statement
            raise ImportConflict from None


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    """A value in COPY's text format (psycopg's `write_row` does the same at ~10 µs a row)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value
    return str(value)


@contextlib.asynccontextmanager
async def open_resident_import(engine: AsyncEngine) -> AsyncIterator[ResidentStore]:
    """A store on a connection of its own for the import's whole run; after the last batch, fresh planner
    statistics of the tables (storage.statistics)."""
    async with engine.connect() as conn:
        yield ResidentStore(conn)
        await after_bulk_load(conn, ("app_user", "user_address"))
