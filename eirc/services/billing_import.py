"""Import billing data (accounts, their addresses, bills) from the billing centre's CSV — CONTRACT §4.

The file is ``account_number,period,amount_due,address`` with a header line, UTF-8 (a BOM is accepted),
period ``YYYY-MM``, amount with a dot (``1234.56``; a decimal comma and the other spellings of
`eirc.domain.money.parse_amount` are accepted too).

How it works, and why:

- The file is streamed: at most two batches (``batch_size`` rows each) are in memory. Every row is
  validated completely *before* anything of it is written, so a refused row never leaves a half-written
  account. Reading and validating the next batch (in a worker thread) overlaps with writing this one.
- The rows are written by `eirc.storage.billing` (set-based: COPY or one ``executemany`` per batch, then a
  few statements); each batch is one transaction. A crash leaves whole batches written; importing the
  file again finishes the job, because an import is an idempotent upsert.
- A bill for a month that has not begun yet (a period after the current month, Moscow time) is refused:
  `billingPeriods` offers the three months up to the newest bill, so one such row would otherwise take
  every registration's choice of months into the future.
- Duplicate ``(account, period)`` pairs inside the file: the first row wins, later ones are refused with
  the line of the first. Within a batch they are found here; across batches the storage's record of the
  keys this import wrote finds them.

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

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eirc.clock import Clock
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.money import MAX_KOPECKS, parse_amount
from eirc.domain.names import without_bidi_controls
from eirc.domain.periods import Period
from eirc.domain.personal import local_today
from eirc.services.csv_files import (
    CsvFile,
    Refusals,
    Refused,
    RefusedRow,
    check_account_number,
    pipelined,
    show,
)
from eirc.storage.billing import BillRow, open_bill_import
from eirc.storage.db import UnitOfWorkFactory

HEADER = ("account_number", "period", "amount_due", "address")
HEADER_TEXT = ",".join(HEADER)
BATCH_SIZE = 5000
MAX_ADDRESS_LENGTH = 500

_PLAIN_AMOUNT = re.compile(r"([0-9]{1,13})(?:\.([0-9]{1,2}))?")

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


# --- validating ----------------------------------------------------------------------------------------------
class _Validator:
    """Turns the four text fields of a row into ``(account, period, kopecks, address)`` or refuses it.

    The common spellings take fast paths (a cache of the few periods of a file, a plain ``1234.56``
    amount); everything else goes through the domain's parsers, which define what is accepted.
    """

    def __init__(self, current: Period) -> None:
        self._current = current
        self._periods: dict[str, Period | str] = {}  # raw → the period, or the reason it is refused

    def __call__(self, fields: list[str]) -> tuple[str, str, int, str]:
        if len(fields) != 4:
            raise Refused(f"expected 4 columns ({HEADER_TEXT}), found {len(fields)}")
        account = check_account_number(fields[0].strip())
        period = self._period(fields[1])
        amount = self._amount(fields[2])
        address = without_bidi_controls(fields[3]).strip()  # invisible direction marks shown to residents
        if not address.isprintable():
            address = " ".join(address.split())  # tabs, line breaks, no-break spaces → one space
            if not address.isprintable():
                raise Refused("address holds control characters")
        if not address:
            raise Refused("address is empty")
        if len(address) > MAX_ADDRESS_LENGTH:
            raise Refused(f"address is longer than {MAX_ADDRESS_LENGTH} characters ({len(address)})")
        if period > self._current:
            raise Refused(
                f"a bill of account {account} for {period.value}, a month after the current one "
                f"({self._current.value}): bills are for months that have begun"
            )
        return account, period.value, amount, address

    def _period(self, raw: str) -> Period:
        cached = self._periods.get(raw)
        if cached is None:
            try:
                cached = Period.parse(raw.strip())
            except DomainError as exc:
                if exc.code == ErrorCode.REQUIRED:
                    cached = "period is empty"
                else:
                    cached = f"period must be YYYY-MM, e.g. 2021-06: {show(raw)}"
            if len(self._periods) < 1000:
                self._periods[raw] = cached
        if isinstance(cached, str):
            raise Refused(cached)
        return cached

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
            raise Refused(f"amount_due must be an amount in roubles, e.g. 1234.56: {show(raw)}") from None


def _duplicate(first_line: int) -> str:
    return f"the same account and period as line {first_line}"


# --- reading batches (in a worker thread, while the previous batch is being written) ------------------------
@dataclass
class _Batch:
    rows: list[BillRow]
    refused: list[RefusedRow]
    read: int  # data rows read, refused ones included
    position: int  # bytes of the file read so far
    repeated: dict[int, int]  # line → the line of the same key earlier in this batch


class _BatchReader:
    def __init__(self, source: CsvFile, batch_size: int, current: Period) -> None:
        self._source = source
        self._records = source.records()
        self._batch_size = batch_size
        self._validate = _Validator(current)

    def next_batch(self) -> _Batch | None:
        """The next batch of valid rows (with the rows refused on the way), or None at the end."""
        rows: list[BillRow] = []
        refused: list[RefusedRow] = []
        repeated: dict[int, int] = {}
        in_batch: dict[tuple[str, str], int] = {}
        read = 0
        validate = self._validate
        for line, fields in self._records:
            read += 1
            if isinstance(fields, str):
                refused.append(RefusedRow(line, fields))
                continue
            try:
                account, period, kopecks, address = validate(fields)
            except Refused as exc:
                refused.append(RefusedRow(line, exc.reason))
                continue
            first = in_batch.setdefault((account, period), line)
            if first != line:
                repeated[line] = first
                continue
            rows.append((line, account, period, kopecks, address))
            if len(rows) >= self._batch_size:
                break
        if not read:
            return None
        return _Batch(rows, refused, read, self._source.position(), repeated)


# --- the use case ------------------------------------------------------------------------------------------
async def import_billing_csv(
    uow: UnitOfWorkFactory,
    clock: Clock,
    path: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import a billing CSV (see the module's docstring); raise `BillingFileError` for an unusable file."""
    started = time.perf_counter()
    source = CsvFile(Path(path), HEADER, BillingFileError)  # a bad file or header fails here
    report = ImportReport()
    current = Period.from_date(local_today(clock.now()))
    reader = _BatchReader(source, max(1, batch_size), current)
    try:
        async with open_bill_import(uow.engine, clock.now) as writer:

            async def write(batch: _Batch) -> None:
                report.rows += batch.read
                for refused in batch.refused:
                    report.refuse(refused.line, refused.reason)
                written = await writer.write(batch.rows) if batch.rows else None
                repeats = written.repeats if written else {}
                for line, first in repeats.items():
                    report.refuse(line, _duplicate(first))
                for line, first in batch.repeated.items():  # its first row may repeat an earlier batch's
                    report.refuse(line, _duplicate(repeats.get(first, first)))
                if written:
                    report.added += written.added
                    report.updated += written.updated
                    report.unchanged += len(batch.rows) - len(repeats) - written.added - written.updated
                if progress:
                    progress(batch.position, source.size)

            await pipelined(reader.next_batch, write)
    finally:
        source.close()
    if progress:
        progress(source.size, source.size)
    report.refused.sort(key=lambda r: r.line)
    report.seconds = time.perf_counter() - started
    return report
