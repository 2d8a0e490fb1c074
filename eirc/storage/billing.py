"""Billing data's statements: the accounts and bills the gateway reads, and the writers of the CSV import.

The import (`open_bill_import`) writes batches of validated rows on one connection used only by it (its
session settings and temporary tables never reach the pool: it is closed at the end). Writing is set-based:

- PostgreSQL: the batch is COPied into a temporary table and merged by one statement (`_PG_MERGE`).
- SQLite: ``executemany`` into the temporary table, then ``INSERT … SELECT … ON CONFLICT DO UPDATE``.

Each batch is one transaction. Unchanged rows are not rewritten. A row whose ``(account, period)`` an
earlier batch of the same import already wrote is a *repeat*: it is not written, and the writer says which
line it repeats. The keys written so far are kept in a temporary table of the import's connection whose
primary key is that pair (``eirc_bill_seen``): the database remembers them, not the importing process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from eirc.storage.repository import Repository
from eirc.storage.statistics import after_bulk_load
from eirc.storage.tables import Bill, BillingAccount
from eirc.storage.types import UTCDateTime

BillRow = tuple[int, str, str, int, str]
"""A validated row: line, account number, period ``YYYY-MM``, amount in kopecks, address."""


# --- what the gateway reads ----------------------------------------------------------------------------------
NEWEST_PERIOD = select(func.max(Bill.period)).where(Bill.period < bindparam("before"))
"""A backward probe of ``ix_bill_period`` from `before`: one index entry read, whatever the table's size
(tests/integration/test_region_plans.py checks the plan)."""


async def newest_period(session: AsyncSession, *, before: str) -> str | None:
    """The newest period of any bill that sorts before `before` (``YYYY-MM``), or None."""
    return (await session.execute(NEWEST_PERIOD, {"before": before})).scalar_one_or_none()


@dataclass(frozen=True)
class AccountBills:
    account_number: str
    address: str
    bills: list[tuple[str, int]] = field(default_factory=list)  # (period, kopecks), newest first


async def account_bills(session: AsyncSession, account_number: str) -> AccountBills | None:
    account = await session.get(BillingAccount, account_number)
    if account is None:
        return None
    rows = await session.execute(
        select(Bill.period, Bill.amount_kopecks)
        .where(Bill.account_number == account.account_number)
        .order_by(Bill.period.desc())
    )
    return AccountBills(account.account_number, account.address, [(p, k) for p, k in rows])


class Billing(Repository):
    """The billing data a unit of work reads (`tx.billing`)."""

    async def account(self, account_number: str) -> BillingAccount | None:
        return await self.session.get(BillingAccount, account_number)

    async def address_of(self, account_number: str) -> str | None:
        stmt = select(BillingAccount.address).where(BillingAccount.account_number == account_number)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def amount_due(self, account_number: str, period: str) -> int | None:
        """The bill's amount in kopecks for that account and period, or None when there is no such bill."""
        stmt = select(Bill.amount_kopecks).where(Bill.account_number == account_number, Bill.period == period)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def newest_period(self, *, before: str) -> str | None:
        return await newest_period(self.session, before=before)

    async def account_bills(self, account_number: str) -> AccountBills | None:
        return await account_bills(self.session, account_number)


# --- the import's writers ------------------------------------------------------------------------------------
@dataclass
class Written:
    """What one batch did: bills added, rows that updated (an amount or the account's address), and the
    repeats: line → the line of this import's earlier row with the same account and period."""

    added: int = 0
    updated: int = 0
    repeats: dict[int, int] = field(default_factory=dict)


class BillWriter:
    async def write(self, rows: list[BillRow]) -> Written:
        """Merge one batch (its keys unique within it) atomically."""
        raise NotImplementedError


@contextlib.asynccontextmanager
async def open_bill_import(engine: AsyncEngine, now: Callable[[], datetime]) -> AsyncIterator[BillWriter]:
    """A writer on a connection of its own, closed (not returned to the pool) when the block ends; after
    the last batch, the tables vacuumed and analysed (storage.statistics)."""
    async with engine.connect() as conn:
        try:
            writer = (
                _PostgresWriter(conn, now)
                if engine.dialect.name == "postgresql"
                else _SqliteWriter(conn, now)
            )
            await writer.start()
            yield writer
            await after_bulk_load(conn, ("billing_account", "bill"), vacuum=True)
        finally:
            await conn.invalidate()  # its session settings and temporary tables go with it


_BATCH_COLUMNS = (
    "line INTEGER NOT NULL, account_number TEXT NOT NULL, period TEXT NOT NULL, "
    "amount_kopecks BIGINT NOT NULL, address TEXT NOT NULL"
)
_SEEN = (
    "CREATE TEMPORARY TABLE eirc_bill_seen (account_number TEXT NOT NULL, period TEXT NOT NULL, "
    "line INTEGER NOT NULL, PRIMARY KEY (account_number, period))"
)
_REPEATS = text(
    "SELECT b.line, s.line FROM eirc_bill_batch b "
    "JOIN eirc_bill_seen s ON s.account_number = b.account_number AND s.period = b.period"
)
_REMEMBER = text(
    "INSERT INTO eirc_bill_seen (account_number, period, line) "
    "SELECT account_number, period, line FROM eirc_bill_batch"
)

_PG_SESSION = (
    # The batch is small and the tables are big: the right plan is always a nested loop over the batch
    # probing primary keys, whatever the statistics say (and temporary tables have none).
    "SET enable_hashjoin = off; SET enable_mergejoin = off; "
    # A crash loses at most the last batches' commits, never consistency; importing again redoes them.
    "SET synchronous_commit = off"
)
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=0x6569_7263_6269_6C6C)  # "eircbill"
_PG_DROP_REPEATS = text(
    "DELETE FROM eirc_bill_batch b USING eirc_bill_seen s "
    "WHERE s.account_number = b.account_number AND s.period = b.period RETURNING b.line, s.line"
)
_PG_MERGE = text("""
WITH fresh AS (
  SELECT s.line, s.account_number, s.period, s.amount_kopecks, s.address,
         b.amount_kopecks AS stored_amount,
         LAG(s.address) OVER w AS previous_in_batch,
         CASE WHEN LAG(s.line) OVER w IS NULL THEN
           (SELECT a.address FROM billing_account a WHERE a.account_number = s.account_number)
         END AS stored_address
  FROM eirc_bill_batch s
  LEFT JOIN bill b ON b.account_number = s.account_number AND b.period = s.period
  WINDOW w AS (PARTITION BY s.account_number ORDER BY s.line)
), per_account AS (
  SELECT account_number, (array_agg(address ORDER BY line DESC))[1] AS address,
         max(stored_address) AS stored_address
  FROM fresh GROUP BY account_number
), new_accounts AS (
  INSERT INTO billing_account (account_number, address, updated_at)
  SELECT account_number, address, :now FROM per_account WHERE stored_address IS NULL
), moved_accounts AS (
  UPDATE billing_account a SET address = p.address, updated_at = :now
  FROM per_account p
  WHERE a.account_number = p.account_number AND p.stored_address <> p.address
), new_bills AS (
  INSERT INTO bill (account_number, period, amount_kopecks)
  SELECT account_number, period, amount_kopecks FROM fresh WHERE stored_amount IS NULL
), changed_bills AS (
  UPDATE bill b SET amount_kopecks = f.amount_kopecks
  FROM fresh f
  WHERE b.account_number = f.account_number AND b.period = f.period AND f.stored_amount <> f.amount_kopecks
), remembered AS (
  INSERT INTO eirc_bill_seen (account_number, period, line) SELECT account_number, period, line FROM fresh
)
SELECT count(*) FILTER (WHERE stored_amount IS NULL),
       count(*) FILTER (WHERE stored_amount IS NOT NULL
                          AND (stored_amount <> amount_kopecks
                               OR COALESCE(previous_in_batch, stored_address) <> address))
FROM fresh
""").bindparams(bindparam("now", type_=UTCDateTime))
"""A whole batch merged in one statement. Its data-modifying CTEs share one snapshot, so every read in it
sees the tables as they were before the batch: each row is looked up once (its bill; its account's stored
address, for the account's first row in the batch), and the writes are plain INSERTs of what is new and
UPDATEs of what changed. That is safe because batches of imports are serialised by an advisory lock, and
nothing else writes these tables. A row's previous address is the one of the account's previous row in the
batch, or the stored one."""


class _PostgresWriter(BillWriter):
    """Per batch, one transaction: the lock, COPY into the batch table (emptied at each commit), the repeats
    taken out, `_PG_MERGE`."""

    def __init__(self, conn: AsyncConnection, now: Callable[[], datetime]) -> None:
        self.conn = conn
        self.now = now

    async def start(self) -> None:
        await self.conn.exec_driver_sql(_PG_SESSION)
        await self.conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE eirc_bill_batch ({_BATCH_COLUMNS}) ON COMMIT DELETE ROWS"
        )
        await self.conn.exec_driver_sql(_SEEN)
        await self.conn.commit()

    async def write(self, rows: list[BillRow]) -> Written:
        conn = self.conn
        await conn.execute(_PG_LOCK)
        raw = await conn.get_raw_connection()
        async with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]
            async with cur.copy(
                "COPY eirc_bill_batch (line, account_number, period, amount_kopecks, address) FROM STDIN"
            ) as copy:
                await copy.write(_copy_text(rows))
        done = Written(repeats=dict((await conn.execute(_PG_DROP_REPEATS)).all()))
        done.added, done.updated = (await conn.execute(_PG_MERGE, {"now": self.now()})).one()
        await conn.commit()
        return done


def _copy_text(rows: list[BillRow]) -> str:
    # The service has validated the rows: accounts, periods and amounts hold no tab, line break or
    # backslash, and an address no tab or line break. A backslash is the only character to escape.
    data = "".join(
        f"{line}\t{account}\t{period}\t{kopecks}\t{address}\n"
        for line, account, period, kopecks, address in rows
    )
    return data.replace("\\", "\\\\") if "\\" in data else data


_SQLITE_DROP_REPEATS = text(
    "DELETE FROM eirc_bill_batch WHERE EXISTS (SELECT 1 FROM eirc_bill_seen s "
    "WHERE s.account_number = eirc_bill_batch.account_number AND s.period = eirc_bill_batch.period)"
)
_SQLITE_COUNT = text("""
SELECT
  SUM(CASE WHEN b.amount_kopecks IS NULL THEN 1 ELSE 0 END),
  SUM(CASE WHEN b.amount_kopecks IS NOT NULL
            AND (b.amount_kopecks <> s.amount_kopecks OR s.previous_address <> s.address)
           THEN 1 ELSE 0 END)
FROM (
  SELECT st.account_number, st.period, st.amount_kopecks, st.address,
         COALESCE(
           LAG(st.address) OVER (PARTITION BY st.account_number ORDER BY st.line),
           (SELECT a.address FROM billing_account a WHERE a.account_number = st.account_number)
         ) AS previous_address
  FROM eirc_bill_batch st
) s
LEFT JOIN bill b ON b.account_number = s.account_number AND b.period = s.period
""")
"""Counts before the batch is applied (same meaning as `_PG_MERGE`'s)."""

_SQLITE_UPSERT_ACCOUNTS = text("""
INSERT INTO billing_account (account_number, address, updated_at)
SELECT account_number, address, :now FROM (
  SELECT account_number, address,
         ROW_NUMBER() OVER (PARTITION BY account_number ORDER BY line DESC) AS rn
  FROM eirc_bill_batch
) latest WHERE rn = 1
ON CONFLICT (account_number) DO UPDATE
  SET address = excluded.address, updated_at = excluded.updated_at
  WHERE billing_account.address <> excluded.address
""").bindparams(bindparam("now", type_=UTCDateTime))

_SQLITE_UPSERT_BILLS = text("""
INSERT INTO bill (account_number, period, amount_kopecks)
SELECT account_number, period, amount_kopecks FROM eirc_bill_batch WHERE true
ON CONFLICT (account_number, period) DO UPDATE
  SET amount_kopecks = excluded.amount_kopecks
  WHERE bill.amount_kopecks <> excluded.amount_kopecks
""")


class _SqliteWriter(BillWriter):
    """executemany into the batch table, then a few set-based statements, in one transaction per batch
    (SQLite has neither arrays nor data-modifying CTEs)."""

    def __init__(self, conn: AsyncConnection, now: Callable[[], datetime]) -> None:
        self.conn = conn
        self.now = now

    async def start(self) -> None:
        # This connection only: a bigger page cache for the big tables.
        await self.conn.exec_driver_sql("PRAGMA cache_size = -65536")
        await self.conn.exec_driver_sql(f"CREATE TEMPORARY TABLE eirc_bill_batch ({_BATCH_COLUMNS})")
        await self.conn.exec_driver_sql(_SEEN)
        await self.conn.commit()

    async def write(self, rows: list[BillRow]) -> Written:
        conn = self.conn
        await conn.exec_driver_sql("DELETE FROM eirc_bill_batch")
        await conn.exec_driver_sql("INSERT INTO eirc_bill_batch VALUES (?, ?, ?, ?, ?)", rows)
        done = Written(repeats=dict((await conn.execute(_REPEATS)).all()))
        if done.repeats:
            await conn.execute(_SQLITE_DROP_REPEATS)
        added, updated = (await conn.execute(_SQLITE_COUNT)).one()
        done.added, done.updated = added or 0, updated or 0
        await conn.execute(_SQLITE_UPSERT_ACCOUNTS, {"now": self.now()})
        await conn.execute(_SQLITE_UPSERT_BILLS)
        await conn.execute(_REMEMBER)
        await conn.commit()
        return done
