"""Residents of the billing centre's older systems, imported without a password (SPEC §1, CONTRACT §4).

The file is ``phone,last_name,first_name,middle_name,email,account_number`` with a header line, UTF-8 (a BOM
is accepted). `middle_name`, `email` and `account_number` may be empty.

Rules, and why:

- Every row is checked like registration's data: the phone (any spelling, a Russian mobile number), the
  names (required, cleaned), the e-mail (well formed; left unconfirmed, and no letter is sent — these people
  did not ask for one; the first sign-in attempt by e-mail sends it), the account (must exist in the
  billing data: a row naming an unknown account is refused, so that nobody is silently imported without
  the address they were meant to have — import the billing data first; an empty account imports the
  resident with no address yet).
- Re-importing is idempotent: a phone is never duplicated. A phone that belongs to a resident who
  registered (or set a password, or was created by support) is **kept as is** — their own data wins over
  the old system's. A phone imported earlier and still without a password is **updated** from the file
  (names, e-mail, the account added as an address if missing); the same row again is **unchanged**.
- Inside one file a phone (or an e-mail) may appear once; later rows are refused with the first one's line.
- An e-mail used by another resident is refused (e-mail is a login: one person per address).

How, and why it is fast (docs/region.md):

- The file is streamed in batches (``batch_size`` rows); the next batch is read and validated in a worker
  thread while this one is written. The rows of a batch are checked against the database with a few
  set-based lookups of the whole batch (`eirc.storage.user_import`), the rules above are applied here, and
  what is new is written in bulk (COPY on PostgreSQL): no statement per row.
- Each batch is one transaction; a refused row writes nothing. A batch that meets a concurrent change (a
  resident registering meanwhile with one of its phones or e-mails) is redone once, then row by row, so one
  conflicting row never costs the others.

Errors of the whole file (missing, a directory, not UTF-8 text, wrong header) raise `UserFileError`;
nothing is written. A line that is not UTF-8 further on is refused like any bad row.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from eirc.clock import Clock
from eirc.services.csv_files import CsvFile, Refusals, RefusedRow, pipelined
from eirc.services.resident_rows import HEADER, Row, parse_records
from eirc.storage.db import UnitOfWorkFactory
from eirc.storage.user_import import (
    ImportConflict,
    NewAddress,
    NewResident,
    ResidentChange,
    ResidentStore,
    open_resident_import,
)

log = logging.getLogger("eirc.user_import")

BATCH_SIZE = 5000
PROCESSES_FROM_BYTES = 1_000_000
"""A file bigger than this (≈ 10,000 rows) is checked in worker processes (starting one costs ~0.15 s)."""
MAX_PROCESSES = 4

ProgressCallback = Callable[[int, int], None]
"""``progress(bytes_read, total_bytes)`` after each batch."""


class UserFileError(Exception):
    """The file as a whole cannot be imported (nothing of it was written)."""


@dataclass
class ImportReport(Refusals):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0  # registered residents left as they are
    refused_count: int = 0
    refused: list[RefusedRow] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return self.added + self.updated + self.unchanged + self.kept + self.refused_count

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "kept": self.kept,
            "refused_count": self.refused_count,
            "refused": [
                {"line": r.line, "reason": r.reason} for r in sorted(self.refused, key=lambda r: r.line)
            ],
            "seconds": round(self.seconds, 3),
        }

    def add(self, part: ImportReport) -> None:
        self.added += part.added
        self.updated += part.updated
        self.unchanged += part.unchanged
        self.kept += part.kept
        for refused in part.refused:
            self.refuse(refused.line, refused.reason)


# --- reading -------------------------------------------------------------------------------------------------
@dataclass
class _Batch:
    rows: list[Row]
    refused: list[RefusedRow]
    position: int  # bytes of the file read so far


class _BatchReader:
    """Valid rows in batches; a phone or e-mail seen earlier in the file refuses its row (plain dicts of the
    file's phones and e-mails with their first lines: ~250 bytes per row, 250 MB for a million).

    Checking a row (libphonenumber, email-validator: ~60 µs) is most of an import's work in Python. Given a
    `pool`, the records are checked there — in worker processes, on other cores than the one that reads the
    file and writes to the database — one batch ahead, so that the workers never wait for the writes."""

    def __init__(
        self, source: CsvFile, batch_size: int, pool: Executor | None = None, workers: int = 1
    ) -> None:
        self._source = source
        self._records = source.records()
        self._batch_size = batch_size
        self._pool = pool
        self._workers = workers
        self._phones: dict[str, int] = {}
        self._emails: dict[str, int] = {}
        self._ahead: tuple[list[Any], list[Future[list[Row | str | None]]]] | None = None

    def _check_next(self) -> tuple[list[Any], list[Future[list[Row | str | None]]]] | None:
        """The next batch's records, and the checks of them under way (done already without a pool)."""
        records = list(itertools.islice(self._records, self._batch_size))
        if not records:
            return None
        if self._pool is None:
            done: Future[list[Row | str | None]] = Future()
            done.set_result(parse_records(records))
            return records, [done]
        size = -(-len(records) // self._workers)
        return records, [
            self._pool.submit(parse_records, records[i : i + size]) for i in range(0, len(records), size)
        ]

    def next_batch(self) -> _Batch | None:
        current = self._ahead or self._check_next()
        if current is None:
            return None
        position = self._source.position()
        self._ahead = self._check_next() if self._pool is not None else None
        records, checks = current
        parsed = [row for check in checks for row in check.result()]
        rows: list[Row] = []
        refused: list[RefusedRow] = []
        phones, emails = self._phones, self._emails
        for (line, _), row in zip(records, parsed, strict=True):
            if row is None:
                continue  # empty fields only: no row
            if isinstance(row, str):
                refused.append(RefusedRow(line, row))
                continue
            first = phones.setdefault(row.phone, line)
            if first != line:
                refused.append(RefusedRow(line, f"phone {row.phone} already on line {first}"))
                continue
            if row.email:
                first = emails.setdefault(row.email, line)
                if first != line:
                    refused.append(RefusedRow(line, f"email {row.email} already on line {first}"))
                    continue
            rows.append(row)
        return _Batch(rows, refused, position)


# --- applying the rules to a batch ------------------------------------------------------------------------------
async def _apply(store: ResidentStore, rows: list[Row], now: datetime) -> ImportReport:
    """The batch's outcome, written through `store` (inside its transaction)."""
    known = await store.lookup(
        phones=[r.phone for r in rows],
        emails=[r.email for r in rows if r.email],
        accounts={r.account_number for r in rows if r.account_number},
    )
    report = ImportReport()
    residents: list[NewResident] = []
    addresses: list[NewAddress] = []
    changes: list[ResidentChange] = []
    for row in rows:
        account = row.account_number
        if account and account not in known.accounts:
            report.refuse(row.line, f"billing account {account} not found (import the billing data first)")
            continue
        stored = known.residents.get(row.phone)
        if stored is not None and not stored.updatable:
            report.kept += 1
            continue
        owner = known.email_owners.get(row.email) if row.email else None
        if owner is not None and (stored is None or owner != stored.id):
            report.refuse(row.line, f"email {row.email} is used by another resident")
            continue
        if stored is None:
            residents.append(
                NewResident(row.phone, row.last_name, row.first_name, row.middle_name, row.email, account)
            )
            report.added += 1
            continue
        email = row.email if row.email is not None else stored.email  # an empty e-mail erases nothing
        change = ResidentChange(
            stored.id,
            row.last_name,
            row.first_name,
            row.middle_name,
            email,
            stored.email_confirmed and email == stored.email,  # a new address needs its own confirmation
        )
        changed = (change.last_name, change.first_name, change.middle_name, change.email) != (
            stored.last_name,
            stored.first_name,
            stored.middle_name,
            stored.email,
        )
        if changed:
            changes.append(change)
        if account and account not in stored.accounts:
            addresses.append(NewAddress(stored.id, account, stored.last_position + 1, not stored.accounts))
            changed = True
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1
    await store.write(residents=residents, addresses=addresses, changes=changes, now=now)
    return report


async def _write_batch(store: ResidentStore, clock: Clock, rows: list[Row]) -> ImportReport:
    """Apply a batch in one transaction; after a conflict with a concurrent change, once more (its lookups
    then see the change), then row by row."""
    for _attempt in range(2):
        try:
            async with store.batch():
                return await _apply(store, rows, clock.now())
        except ImportConflict:
            log.info("users import: a batch met a concurrent change; redoing it")
    report = ImportReport()
    for row in rows:
        try:
            async with store.batch():
                report.add(await _apply(store, [row], clock.now()))
        except ImportConflict:
            report.refuse(row.line, "conflicts with a change made meanwhile (phone or e-mail); import again")
    return report


# --- the use case --------------------------------------------------------------------------------------------
async def import_users(
    uow: UnitOfWorkFactory,
    clock: Clock,
    path: Path,
    *,
    batch_size: int = BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import a residents CSV (see the module's docstring); raise `UserFileError` for an unusable file."""
    started = time.perf_counter()
    # A bad file or header fails here. Strict CSV, with its own wording: this import's rules since it began.
    source = CsvFile(Path(path), HEADER, UserFileError, strict=True, not_csv="not readable as CSV: {}")
    report = ImportReport()
    with contextlib.ExitStack() as stack:
        stack.callback(source.close)
        pool, workers = None, 1
        if source.size > PROCESSES_FROM_BYTES:
            workers = max(1, min(MAX_PROCESSES, (os.cpu_count() or 1) - 1))
            pool = stack.enter_context(
                ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            )
        reader = _BatchReader(source, max(1, batch_size), pool, workers)
        async with open_resident_import(uow.engine) as store:

            async def write(batch: _Batch) -> None:
                for refused in batch.refused:
                    report.refuse(refused.line, refused.reason)
                if batch.rows:
                    report.add(await _write_batch(store, clock, batch.rows))
                if progress:
                    progress(batch.position, source.size)

            await pipelined(reader.next_batch, write)
    if progress:
        progress(source.size, source.size)
    report.seconds = time.perf_counter() - started
    log.info(
        "users import %s: %s added, %s updated, %s unchanged, %s kept, %s refused in %.1f s",
        Path(path).name,
        report.added,
        report.updated,
        report.unchanged,
        report.kept,
        report.refused_count,
        report.seconds,
    )
    return report
