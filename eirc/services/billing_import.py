"""Import billing data (accounts, their addresses, bills) from the billing centre's CSV — CONTRACT §4.

The file is ``account_number,period,amount_due,address`` with a header line, UTF-8 (a BOM is accepted),
period ``YYYY-MM``, amount with a dot (``1234.56``; a decimal comma and the other spellings of
`eirc.domain.money.parse_amount` are accepted too).

How it works, and why:

- The file is streamed: at most two batches (``batch_size`` rows each) are in memory. Every row is
  validated completely *before* anything of it is written, so a refused row never leaves a half-written
  account. Reading and validating the next batch (in a worker thread) overlaps with writing this one.
- Writing is set-based, never an ORM object or a statement per row. PostgreSQL: the batch is COPied into
  a temporary stage table and merged by one statement (`_PG_MERGE`). SQLite: one ``executemany`` into
  the stage, then ``INSERT … SELECT … ON CONFLICT DO UPDATE``. Unchanged rows are not rewritten.
- Each batch is one transaction, on a connection owned by the import (closed at the end, so its session
  settings and temporary table never reach the pool). A crash leaves whole batches written; importing
  the file again finishes the job, because an import is an idempotent upsert.
- Duplicate ``(account, period)`` pairs inside the file: the first row wins, later ones are refused with
  the line of the first. The pairs seen so far are kept as 64-bit hashes in a compact table
  (`_SeenKeys`, ~25 MB per million rows); a hash match is confirmed against the database.

What the counts mean (every data row lands in exactly one of them):

- ``added``: the row's bill did not exist;
- ``updated``: the bill existed and the row changed its amount, or changed its account's address;
- ``unchanged``: the bill existed with the same amount and the account already had this address, so
  re-importing a file reports all its rows as unchanged (unless the file gives one account different
  addresses: the rows that switch it back and forth count as updated each time);
- ``refused``: the row was not imported; its line number and the reason are reported.

Rows are applied in file order: when an account's address changes, the first row carrying the new
address counts as updated, the account's later rows with the same address do not. Empty lines are
skipped and are not rows.

Errors that concern the whole file (it does not exist, is a directory, is not UTF-8 text, has the wrong
header) raise `BillingFileError` before anything is written.
"""

from __future__ import annotations

import abc
import asyncio
import codecs
import contextlib
import csv
import io
import os
import re
import sys
import time
from array import array
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from eirc.clock import Clock
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.money import MAX_KOPECKS, parse_amount
from eirc.domain.periods import Period
from eirc.services.csv_files import Refusals, Refused, RefusedRow, open_csv, unreadable
from eirc.storage.db import UnitOfWorkFactory
from eirc.storage.types import UTCDateTime

HEADER = ("account_number", "period", "amount_due", "address")
HEADER_TEXT = ",".join(HEADER)
BATCH_SIZE = 5000
MAX_ACCOUNT_LENGTH = 32
MAX_ADDRESS_LENGTH = 500

_SNIFF_BYTES = 64 * 1024
_ACCOUNT = re.compile(r"[0-9A-Za-zА-Яа-яЁё-]+")
_PLAIN_AMOUNT = re.compile(r"([0-9]{1,13})(?:\.([0-9]{1,2}))?")
_SURROGATE = re.compile("[\udc80-\udcff]")

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(bytes_read, total_bytes)`` after each batch."""


class BillingFileError(Exception):
    """The file as a whole cannot be imported; nothing was written. The message is one line."""


@dataclass
class ImportReport(Refusals):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[RefusedRow] = field(default_factory=list)
    refused_count: int = 0
    rows: int = 0
    seconds: float = 0.0

    @property
    def imported(self) -> int:
        return self.added + self.updated + self.unchanged

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": [{"line": r.line, "reason": r.reason} for r in self.refused],
            "refused_count": self.refused_count,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
        }


# --- reading and validating --------------------------------------------------------------------------------
def _show(value: str, limit: int = 40) -> str:
    """A value quoted for a refusal reason, shortened."""
    value = _SURROGATE.sub("\ufffd", value)
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


def _open(path: Path) -> tuple[io.BufferedReader, int]:
    raw, total = open_csv(path, BillingFileError)  # closed by the caller
    try:
        head = raw.read(_SNIFF_BYTES)
        raw.seek(0)
    except OSError as exc:
        raw.close()
        raise BillingFileError(unreadable(path, exc)) from None
    problem = _not_text(head)
    if problem:
        raw.close()
        raise BillingFileError(f"{path} is not a UTF-8 CSV text file ({problem})")
    return raw, total


def _not_text(head: bytes) -> str | None:
    """Why the start of a file is not UTF-8 text, or None."""
    if not head:
        return f"it is empty; expected the header {HEADER_TEXT}"
    if b"\x00" in head:
        return "it holds binary data"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut by the end of the sample is fine
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}; save it as UTF-8"
    return None


def _reader(stream: io.TextIOWrapper, path: Path) -> Any:
    """A CSV reader positioned after the header, which has been checked.

    Bytes that are not UTF-8 after the first block become lone surrogates (``surrogateescape``), so
    the row that holds them is refused while the rest of the file is still imported.
    """
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise BillingFileError(f"{path} is empty; expected the header {HEADER_TEXT}") from None
    except csv.Error as exc:
        raise BillingFileError(f"{path}: the header cannot be read as CSV ({exc})") from None
    names = tuple(name.strip().lower() for name in header)
    if names != HEADER:
        found = _SURROGATE.sub("\ufffd", ",".join(header))
        found = found if len(found) <= 80 else found[:79] + "…"
        raise BillingFileError(f"{path}: the header must be {HEADER_TEXT!r}, found {found!r}")
    return reader


class _Validator:
    """Turns the four text fields of a row into ``(account, period, kopecks, address)`` or refuses it.

    The common spellings take fast paths (a cache of the few periods of a file, a plain ``1234.56``
    amount); everything else goes through the domain's parsers, which define what is accepted.
    """

    def __init__(self) -> None:
        self._periods: dict[str, tuple[str | None, str | None]] = {}  # raw → (value, refusal reason)

    def __call__(self, fields: list[str]) -> tuple[str, str, int, str]:
        if len(fields) != 4:
            raise Refused(f"expected 4 columns ({HEADER_TEXT}), found {len(fields)}")
        account = fields[0].strip()
        if not account:
            raise Refused("account_number is empty")
        if len(account) > MAX_ACCOUNT_LENGTH:
            raise Refused(f"account_number is longer than {MAX_ACCOUNT_LENGTH} characters")
        if _ACCOUNT.fullmatch(account) is None:
            raise Refused(f"account_number may hold only digits, letters and dashes: {_show(account)}")
        period = self._period(fields[1])
        amount = self._amount(fields[2])
        address = fields[3].strip()
        if not address.isprintable():
            address = " ".join(address.split())  # tabs, line breaks, no-break spaces → one space
            if not address.isprintable():
                raise Refused("address holds control characters")
        if not address:
            raise Refused("address is empty")
        if len(address) > MAX_ADDRESS_LENGTH:
            raise Refused(f"address is longer than {MAX_ADDRESS_LENGTH} characters ({len(address)})")
        return account, period, amount, address

    def _period(self, raw: str) -> str:
        cached = self._periods.get(raw)
        if cached is None:
            try:
                cached = (Period.parse(raw.strip()).value, None)
            except DomainError as exc:
                if exc.code == ErrorCode.REQUIRED:
                    cached = (None, "period is empty")
                else:
                    cached = (None, f"period must be YYYY-MM, e.g. 2021-06: {_show(raw)}")
            if len(self._periods) < 1000:
                self._periods[raw] = cached
        value, reason = cached
        if value is None:
            raise Refused(reason or "")
        return value

    @staticmethod
    def _amount(raw: str) -> int:
        match = _PLAIN_AMOUNT.fullmatch(raw)
        if match is not None:
            frac = match[2]
            kopecks = int(match[1]) * 100 + (int(frac) * (10 if len(frac) == 1 else 1) if frac else 0)
            if kopecks <= MAX_KOPECKS:
                return kopecks
        try:
            return parse_amount(raw, "amount_due")
        except DomainError as exc:
            if exc.code == ErrorCode.REQUIRED:
                raise Refused("amount_due is empty") from None
            raise Refused(f"amount_due must be an amount in roubles, e.g. 1234.56: {_show(raw)}") from None


def _reason(fields: list[str], exc: Refused) -> str:
    if any(_SURROGATE.search(f) for f in fields):
        return "the line is not valid UTF-8 text"
    return exc.reason


# --- reading batches (runs in a worker thread, while the previous batch is being written) ----------------
Row = tuple[int, str, str, int, str]  # line, account, period, kopecks, address


class _SeenKeys:
    """Every ``(account, period)`` of the file so far, as 64-bit hashes with the line of their first row.

    An open-addressing table in two flat arrays: 17–34 bytes per row (≈ 25 MB for a million rows),
    where a dict of the keys would take ~150. A hit is only a *candidate* duplicate: the writer confirms
    it against the database, so a hash collision cannot refuse a good row.
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._mask = capacity - 1
        self._hashes = array("q", bytes(8 * capacity))
        self._lines = array("i", bytes(4 * capacity))
        self._count = 0

    def add(self, key: tuple[str, str], line: int) -> int:
        """Remember `key` at `line`; return 0, or the line of an earlier key with the same hash."""
        h = hash(key) or 1  # 0 marks an empty slot
        hashes, mask = self._hashes, self._mask
        i = h & mask
        while True:
            slot = hashes[i]
            if slot == 0:
                hashes[i] = h
                self._lines[i] = line
                self._count += 1
                if self._count * 10 > mask * 7:
                    self._grow()
                return 0
            if slot == h:
                return self._lines[i]
            i = (i + 1) & mask

    def _grow(self) -> None:
        old_hashes, old_lines = self._hashes, self._lines
        capacity = (self._mask + 1) * 2
        self._mask = mask = capacity - 1
        self._hashes = hashes = array("q", bytes(8 * capacity))
        self._lines = lines = array("i", bytes(4 * capacity))
        for h, line in zip(old_hashes, old_lines, strict=True):
            if h:
                i = h & mask
                while hashes[i]:
                    i = (i + 1) & mask
                hashes[i] = h
                lines[i] = line


@dataclass
class _Batch:
    rows: list[Row]
    refused: list[RefusedRow]
    read: int  # data rows read, refused ones included
    position: int  # bytes of the file read so far
    candidates: dict[int, int]  # line → line of an earlier batch's row with the same key hash
    copy_data: str | None = None  # the rows in PostgreSQL's COPY text format

    def drop(self, lines: set[int]) -> None:
        self.rows = [row for row in self.rows if row[0] not in lines]
        if self.copy_data is not None:
            self.copy_data = _copy_text(self.rows)


class _BatchReader:
    def __init__(self, raw: io.BufferedReader, path: Path, batch_size: int, *, copy_format: bool) -> None:
        self._raw = raw
        self._copy_format = copy_format
        # Kept referenced: a collected TextIOWrapper would close the file under the reader.
        self._stream = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        self._csv = _reader(self._stream, path)  # checks the header now, before anything is written
        self._last_line = self._csv.line_num
        self._batch_size = batch_size
        self._validate = _Validator()
        self._seen = _SeenKeys()

    def next_batch(self) -> _Batch | None:
        """The next batch of valid rows (with the rows refused on the way), or None at the end."""
        rows: list[Row] = []
        refused: list[RefusedRow] = []
        candidates: dict[int, int] = {}
        in_batch: dict[tuple[str, str], int] = {}
        read = 0
        reader, validate, seen, last = self._csv, self._validate, self._seen, self._last_line
        while len(rows) < self._batch_size:
            line = last + 1  # a record may span several lines: it is reported by its first
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                last = reader.line_num
                read += 1
                refused.append(RefusedRow(line, f"cannot be read as CSV ({exc})"))
                continue
            last = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # an empty line is not a row
            read += 1
            try:
                account, period, kopecks, address = validate(fields)
            except Refused as exc:
                refused.append(RefusedRow(line, _reason(fields, exc)))
                continue
            key = (account, period)
            earlier = in_batch.get(key)
            if earlier is not None:
                refused.append(RefusedRow(line, _duplicate(earlier)))
                continue
            in_batch[key] = line
            earlier = seen.add(key, line)
            if earlier:
                candidates[line] = earlier
            rows.append((line, account, period, kopecks, address))
        self._last_line = last
        if not read:
            return None
        batch = _Batch(rows, refused, read, self._raw.tell(), candidates)
        if self._copy_format:  # formatted here, in the reader's thread, while the previous batch is written
            batch.copy_data = _copy_text(rows)
        return batch


def _duplicate(first_line: int) -> str:
    return f"the same account and period as line {first_line}"


def _copy_text(rows: list[Row]) -> str:
    # Accounts, periods and amounts are validated (no tab, line break or backslash); an address has no tab
    # or line break left after validation: a backslash is the only character to escape.
    text = "".join(
        f"{line}\t{account}\t{period}\t{kopecks}\t{address}\n"
        for line, account, period, kopecks, address in rows
    )
    return text.replace("\\", "\\\\") if "\\" in text else text


# --- writing -----------------------------------------------------------------------------------------------
class _Writer(abc.ABC):
    """Merges batches, one after the other, on one connection used only by this import.

    The import owns that connection: it changes session settings and creates temporary tables on it, and
    `import_billing_csv` closes it (invalidates it) at the end instead of returning it to the pool.
    """

    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock

    async def start(self) -> None:  # noqa: B027 - a hook: most writers need no preparation
        """Prepare the connection."""

    @abc.abstractmethod
    async def write(self, batch: _Batch, report: ImportReport) -> None:
        """Merge one batch atomically; count it into `report`."""

    async def refuse_repeats(self, batch: _Batch, report: ImportReport) -> None:
        """Refuse the rows whose (account, period) an earlier batch already wrote.

        The reader flags them by hash; a flagged key is a repeat when its bill exists now — written by the
        earlier row, since earlier batches are committed. (Rare: only for repeated keys or hash collisions.)
        """
        if not batch.candidates:
            return
        flagged = [row for row in batch.rows if row[0] in batch.candidates]
        found = await self.conn.execute(_EXISTING_BILLS, {"accounts": sorted({row[1] for row in flagged})})
        existing = {(account, period) for account, period in found}
        repeats = {row[0] for row in flagged if (row[1], row[2]) in existing}
        for line in sorted(repeats):
            report.refuse(line, _duplicate(batch.candidates[line]))
        if repeats:
            batch.drop(repeats)


_EXISTING_BILLS = text(
    "SELECT account_number, period FROM bill WHERE account_number IN :accounts"
).bindparams(bindparam("accounts", expanding=True))

_PG_MERGE = text("""
WITH fresh AS (
  SELECT s.line, s.account_number, s.period, s.amount_kopecks, s.address,
         b.amount_kopecks AS stored_amount,
         LAG(s.address) OVER w AS previous_in_batch,
         CASE WHEN LAG(s.line) OVER w IS NULL THEN
           (SELECT a.address FROM billing_account a WHERE a.account_number = s.account_number)
         END AS stored_address
  FROM eirc_import_stage s
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
)
SELECT count(*) FILTER (WHERE stored_amount IS NULL),
       count(*) FILTER (WHERE stored_amount IS NOT NULL
                          AND (stored_amount <> amount_kopecks
                               OR COALESCE(previous_in_batch, stored_address) <> address))
FROM fresh
""").bindparams(bindparam("now", type_=UTCDateTime))
"""A whole batch, COPied into the stage table, merged in one statement. Its data-modifying CTEs share one
snapshot, so every read in it sees the tables as they were before the batch: each row is looked up once
(its bill; its account's stored address, for the account's first row in the batch), and the writes are
plain INSERTs of what is new and UPDATEs of what changed. That is safe because batches of imports are
serialised by an advisory lock, and nothing else writes these tables. A row's previous address is the
one of the account's previous row in the batch, or the stored one."""

_PG_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=0x6569_7263_6269_6C6C)  # "eircbill"

_PG_SESSION = (
    # The batch is small and the tables are big: the right plan is always a nested loop over the batch
    # probing primary keys, whatever the statistics say.
    "SET enable_hashjoin = off; SET enable_mergejoin = off; "
    # A crash loses at most the last batches' commits, never consistency; importing again redoes them.
    "SET synchronous_commit = off"
)


class _PostgresWriter(_Writer):
    """Per batch, one transaction: the lock, COPY into the stage (emptied at each commit), `_PG_MERGE`."""

    async def start(self) -> None:
        await self.conn.exec_driver_sql(_PG_SESSION)
        await self.conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE eirc_import_stage (line INTEGER NOT NULL, account_number TEXT NOT NULL, "
            "period TEXT NOT NULL, amount_kopecks BIGINT NOT NULL, address TEXT NOT NULL) ON COMMIT DELETE ROWS"
        )
        await self.conn.commit()

    async def write(self, batch: _Batch, report: ImportReport) -> None:
        conn = self.conn
        await conn.execute(_PG_LOCK)
        await self.refuse_repeats(batch, report)
        if batch.rows:
            raw = await conn.get_raw_connection()
            async with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]
                async with cur.copy(
                    "COPY eirc_import_stage (line, account_number, period, amount_kopecks, address) FROM STDIN"
                ) as copy:
                    await copy.write(batch.copy_data or "")
            added, updated = (await conn.execute(_PG_MERGE, {"now": self.clock.now()})).one()
            report.added += added
            report.updated += updated
            report.unchanged += len(batch.rows) - added - updated
        await conn.commit()


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
  FROM eirc_import_stage st
) s
LEFT JOIN bill b ON b.account_number = s.account_number AND b.period = s.period
""")
"""Counts before the batch is applied (same meaning as `_PG_MERGE`'s)."""

_SQLITE_UPSERT_ACCOUNTS = text("""
INSERT INTO billing_account (account_number, address, updated_at)
SELECT account_number, address, :now FROM (
  SELECT account_number, address,
         ROW_NUMBER() OVER (PARTITION BY account_number ORDER BY line DESC) AS rn
  FROM eirc_import_stage
) latest WHERE rn = 1
ON CONFLICT (account_number) DO UPDATE
  SET address = excluded.address, updated_at = excluded.updated_at
  WHERE billing_account.address <> excluded.address
""").bindparams(bindparam("now", type_=UTCDateTime))

_SQLITE_UPSERT_BILLS = text("""
INSERT INTO bill (account_number, period, amount_kopecks)
SELECT account_number, period, amount_kopecks FROM eirc_import_stage WHERE true
ON CONFLICT (account_number, period) DO UPDATE
  SET amount_kopecks = excluded.amount_kopecks
  WHERE bill.amount_kopecks <> excluded.amount_kopecks
""")


class _SqliteWriter(_Writer):
    """executemany into a temporary stage table, then a few set-based statements, in one transaction per
    batch (SQLite has neither arrays nor data-modifying CTEs)."""

    async def start(self) -> None:
        # This connection only: a bigger page cache for the big tables, the small stage kept in memory.
        await self.conn.exec_driver_sql("PRAGMA cache_size = -65536")
        await self.conn.exec_driver_sql("PRAGMA temp_store = MEMORY")
        await self.conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE IF NOT EXISTS eirc_import_stage (line INTEGER NOT NULL, "
            "account_number TEXT NOT NULL, period TEXT NOT NULL, amount_kopecks INTEGER NOT NULL, "
            "address TEXT NOT NULL)"
        )
        await self.conn.commit()

    async def write(self, batch: _Batch, report: ImportReport) -> None:
        conn = self.conn
        await self.refuse_repeats(batch, report)
        if batch.rows:
            await conn.exec_driver_sql("DELETE FROM eirc_import_stage")
            await conn.exec_driver_sql("INSERT INTO eirc_import_stage VALUES (?, ?, ?, ?, ?)", batch.rows)
            added, updated = (await conn.execute(_SQLITE_COUNT)).one()
            added, updated = added or 0, updated or 0
            await conn.execute(_SQLITE_UPSERT_ACCOUNTS, {"now": self.clock.now()})
            await conn.execute(_SQLITE_UPSERT_BILLS)
            report.added += added
            report.updated += updated
            report.unchanged += len(batch.rows) - added - updated
        await conn.commit()


@contextlib.asynccontextmanager
async def _short_gil_slices() -> AsyncIterator[None]:
    """While the reader thread is busy, hand the GIL over every 0.5 ms instead of 5 ms.

    Each database round trip needs the event loop thread (and, on SQLite, aiosqlite's thread) to get the
    GIL back; with the default interval every round trip could wait up to 5 ms for the reader."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, 0.0005))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


# --- the use case ------------------------------------------------------------------------------------------
async def import_billing_csv(
    uow: UnitOfWorkFactory,
    clock: Clock,
    path: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import a billing CSV (see the module's docstring); raise `BillingFileError` for an unusable file.

    Reading and validating batch N+1 (a worker thread) overlaps with writing batch N (the database).
    """
    started = time.perf_counter()
    path = Path(path)
    raw, total = _open(path)
    report = ImportReport()
    try:
        postgres = uow.dialect == "postgresql"
        reader = _BatchReader(raw, path, max(1, batch_size), copy_format=postgres)  # a bad header fails here
        async with uow.engine.connect() as conn, _short_gil_slices():
            try:
                writer = (_PostgresWriter if postgres else _SqliteWriter)(conn, clock)
                await writer.start()
                batch = await asyncio.to_thread(reader.next_batch)
                while batch is not None:
                    upcoming = asyncio.ensure_future(asyncio.to_thread(reader.next_batch))
                    try:
                        report.rows += batch.read
                        for refused in batch.refused:
                            report.refuse(refused.line, refused.reason)
                        await writer.write(batch, report)
                        if progress:
                            progress(batch.position, total)
                    except BaseException:
                        with contextlib.suppress(BaseException):  # let the thread finish with the file
                            await upcoming
                        raise
                    batch = await upcoming
            finally:
                # Its session settings and temporary table must not reach the pool's next user.
                await conn.invalidate()
    finally:
        raw.close()
    if progress:
        progress(total, total)
    report.refused.sort(key=lambda r: r.line)
    report.seconds = time.perf_counter() - started
    return report
