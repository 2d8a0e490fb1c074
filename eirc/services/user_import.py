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
- The file is streamed and written in batches, each its own transaction; a batch that meets a concurrent
  change is redone row by row, so one conflicting row never costs the others.

Errors of the whole file (missing, a directory, not UTF-8 text, wrong header) raise `UserFileError`.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from eirc.domain.email import parse_email
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.names import clean_optional, clean_required
from eirc.domain.phone import parse_phone
from eirc.services.csv_files import Refusals, Refused, RefusedRow, open_csv
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import BillingAccount, User, UserAddress, new_id

if TYPE_CHECKING:
    from eirc.bootstrap import Container

log = logging.getLogger("eirc.user_import")

HEADER = ("phone", "last_name", "first_name", "middle_name", "email", "account_number")
HEADER_TEXT = ",".join(HEADER)
BATCH_SIZE = 500
SOURCE = "import"

ProgressCallback = Callable[[int, int], None]
"""``progress(bytes_read, total_bytes)`` after each batch."""


class UserFileError(Exception):
    """The file as a whole cannot be imported (nothing of it was written, unless said otherwise)."""


@dataclass
class ImportReport(Refusals):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0  # registered residents left as they are
    refused_count: int = 0
    refused: list[RefusedRow] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.added + self.updated + self.unchanged + self.kept + self.refused_count

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
        }


@dataclass(frozen=True)
class Row:
    line: int
    phone: str
    last_name: str
    first_name: str
    middle_name: str | None
    email: str | None
    account_number: str | None


def _show(value: str, limit: int = 40) -> str:
    value = value if len(value) <= limit else value[: limit - 1] + "…"
    return repr(value)


# --- reading -------------------------------------------------------------------------------------------------
def _parse(line: int, fields: list[str]) -> Row:
    if len(fields) != len(HEADER):
        raise Refused(f"expected {len(HEADER)} columns ({HEADER_TEXT}), found {len(fields)}")
    phone_raw, last_raw, first_raw, middle_raw, email_raw, account_raw = (f.strip() for f in fields)
    if not phone_raw:
        raise Refused("phone is empty")
    try:
        phone = parse_phone(phone_raw)
    except DomainError:
        raise Refused(f"phone is not a Russian mobile number: {_show(phone_raw)}") from None

    def name(value: str, column: str, required: bool) -> str | None:
        try:
            return clean_required(value, column) if required else clean_optional(value, column)
        except DomainError as exc:
            if exc.code == ErrorCode.REQUIRED:
                raise Refused(f"{column} is empty") from None
            if exc.code == ErrorCode.TOO_LONG:
                raise Refused(f"{column} is too long") from None
            raise Refused(f"{column} holds control characters") from None

    last_name = name(last_raw, "last_name", True)
    first_name = name(first_raw, "first_name", True)
    middle_name = name(middle_raw, "middle_name", False)
    email = None
    if email_raw:
        try:
            email = parse_email(email_raw)
        except DomainError:
            raise Refused(f"email is not an e-mail address: {_show(email_raw)}") from None
    account = account_raw or None
    if account is not None and len(account) > 32:
        raise Refused(f"account_number is too long: {_show(account)}")
    return Row(line, phone, last_name or "", first_name or "", middle_name, email, account)


def read_rows(path: Path) -> tuple[Iterator[tuple[int, Row | str]], Callable[[], int], int]:
    """(rows as ``(line, Row | refusal reason)``, bytes read so far, total bytes). Checks the header first."""
    raw, size = open_csv(path, UserFileError)  # closed by the reader
    stream = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, None)
    except (UnicodeDecodeError, csv.Error):
        raw.close()
        raise UserFileError(f"{path} is not UTF-8 CSV text") from None
    if header is None:
        raw.close()
        raise UserFileError(f"{path} is empty: expected the header {HEADER_TEXT}")
    if tuple(h.strip().lower() for h in header) != HEADER:
        raw.close()
        raise UserFileError(f"{path}: expected the header {HEADER_TEXT}, found {','.join(header)[:200]}")

    def rows() -> Iterator[tuple[int, Row | str]]:
        try:
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except UnicodeDecodeError:
                    raise UserFileError(
                        f"{path} is not UTF-8 text after line {reader.line_num}; the rows before it were imported"
                    ) from None
                except csv.Error as exc:
                    yield reader.line_num, f"not readable as CSV: {exc}"
                    continue
                if not fields or all(not f.strip() for f in fields):
                    continue  # empty lines are not rows
                line = reader.line_num
                try:
                    yield line, _parse(line, fields)
                except Refused as exc:
                    yield line, exc.reason
        finally:
            raw.close()

    def position() -> int:
        try:
            return raw.tell()
        except (OSError, ValueError):
            return size

    return rows(), position, size


# --- writing -------------------------------------------------------------------------------------------------
async def import_users(
    c: Container,
    path: Path,
    *,
    batch_size: int = BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    rows, position, total = read_rows(path)
    report = ImportReport()
    seen_phones: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    batch: list[Row] = []
    for line, item in rows:
        if isinstance(item, str):
            report.refuse(line, item)
            continue
        first = seen_phones.setdefault(item.phone, line)
        if first != line:
            report.refuse(line, f"phone {item.phone} already on line {first}")
            continue
        if item.email:
            first = seen_emails.setdefault(item.email, line)
            if first != line:
                report.refuse(line, f"email {item.email} already on line {first}")
                continue
        batch.append(item)
        if len(batch) >= batch_size:
            await _write_batch(c, batch, report)
            batch = []
            if progress:
                progress(position(), total)
    if batch:
        await _write_batch(c, batch, report)
    if progress:
        progress(total, total)
    log.info(
        "users import %s: %s added, %s updated, %s unchanged, %s kept, %s refused",
        path.name,
        report.added,
        report.updated,
        report.unchanged,
        report.kept,
        report.refused_count,
    )
    return report


async def _write_batch(c: Container, batch: list[Row], report: ImportReport) -> None:
    outcome = ImportReport()
    try:
        async with c.uow() as tx:
            await _apply(tx, c, batch, outcome)
            await tx.commit()
    except IntegrityError:
        # A concurrent change (a resident registering meanwhile): redo row by row.
        outcome = ImportReport()
        for row in batch:
            single = ImportReport()
            try:
                async with c.uow() as tx:
                    await _apply(tx, c, [row], single)
                    await tx.commit()
            except IntegrityError:
                single = ImportReport()
                single.refuse(
                    row.line, "conflicts with a change made meanwhile (phone or e-mail); import again"
                )
            _merge(outcome, single)
    _merge(report, outcome)


def _merge(into: ImportReport, part: ImportReport) -> None:
    into.added += part.added
    into.updated += part.updated
    into.unchanged += part.unchanged
    into.kept += part.kept
    for refused in part.refused:
        into.refuse(refused.line, refused.reason)


async def _apply(tx: UnitOfWork, c: Container, batch: list[Row], report: ImportReport) -> None:
    now = c.clock.now()
    s = tx.session
    phones = [r.phone for r in batch]
    emails = [r.email for r in batch if r.email]
    accounts = {r.account_number for r in batch if r.account_number}
    existing = {u.phone: u for u in (await s.execute(select(User).where(User.phone.in_(phones)))).scalars()}
    email_owner = (
        dict((await s.execute(select(User.email, User.id).where(User.email.in_(emails)))).tuples().all())
        if emails
        else {}
    )
    known_accounts = (
        set(
            (
                await s.execute(
                    select(BillingAccount.account_number).where(BillingAccount.account_number.in_(accounts))
                )
            ).scalars()
        )
        if accounts
        else set()
    )
    addresses: dict[str, list[UserAddress]] = {}
    ids = [u.id for u in existing.values()]
    if ids:
        for address in (await s.execute(select(UserAddress).where(UserAddress.user_id.in_(ids)))).scalars():
            addresses.setdefault(address.user_id, []).append(address)

    new_users: list[dict[str, Any]] = []
    new_addresses: list[dict[str, Any]] = []
    for row in batch:
        if row.account_number and row.account_number not in known_accounts:
            report.refuse(
                row.line, f"billing account {row.account_number} not found (import the billing data first)"
            )
            continue
        user = existing.get(row.phone)
        if user is not None and (user.source != SOURCE or user.password_hash is not None):
            report.kept += 1
            continue
        owner = email_owner.get(row.email) if row.email else None
        if owner is not None and (user is None or owner != user.id):
            report.refuse(row.line, f"email {row.email} is used by another resident")
            continue
        if user is None:  # new residents go in with one multi-row insert per batch (below)
            user_id = new_id()
            new_users.append(
                {
                    "id": user_id,
                    "phone": row.phone,
                    "email": row.email,
                    "email_confirmed": False,
                    "email_notifications": False,
                    "last_name": row.last_name,
                    "first_name": row.first_name,
                    "middle_name": row.middle_name,
                    "password_hash": None,
                    "source": SOURCE,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if row.account_number:
                new_addresses.append(
                    {
                        "id": new_id(),
                        "user_id": user_id,
                        "account_number": row.account_number,
                        "position": 1,
                        "primary": True,
                        "ebill": False,
                        "created_at": now,
                    }
                )
            report.added += 1
            continue
        changed = _update(user, row, now)
        own = addresses.get(user.id, [])
        if row.account_number and all(a.account_number != row.account_number for a in own):
            s.add(
                UserAddress(
                    user_id=user.id,
                    account_number=row.account_number,
                    position=max((a.position for a in own), default=0) + 1,
                    primary=not own,
                    created_at=now,
                )
            )
            changed = True
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1
    await s.flush()
    if new_users:
        await s.execute(insert(User), new_users)
    if new_addresses:
        await s.execute(insert(UserAddress), new_addresses)


def _update(user: User, row: Row, now: Any) -> bool:
    values = {
        "last_name": row.last_name,
        "first_name": row.first_name,
        "middle_name": row.middle_name,
    }
    if row.email is not None:  # an empty e-mail in the file does not erase one known already
        values["email"] = row.email
    if row.email is not None and row.email != user.email:
        user.email_confirmed = False  # a new address needs its own confirmation
    changed = False
    for name, value in values.items():
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed = True
    if changed:
        user.updated_at = now
    return changed
