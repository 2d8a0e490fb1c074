"""A row of the residents file (`eirc users import`, services.user_import), checked by registration's rules.

Its own module, importing only the domain's parsers: the import checks the rows of a big file in worker
processes, and each of them imports this (a tenth of a second) rather than the whole service (half a
second, SQLAlchemy included).
"""

from __future__ import annotations

from typing import NamedTuple

from eirc.domain.email import parse_email
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.names import clean_optional, clean_required
from eirc.domain.phone import parse_phone
from eirc.services.csv_files import MAX_ACCOUNT_LENGTH, Refused, show

HEADER = ("phone", "last_name", "first_name", "middle_name", "email", "account_number")
HEADER_TEXT = ",".join(HEADER)

__all__ = ["HEADER", "HEADER_TEXT", "Row", "parse_records", "parse_row"]


class Row(NamedTuple):  # a tuple: cheap to send from the validating process
    line: int
    phone: str
    last_name: str
    first_name: str
    middle_name: str | None
    email: str | None
    account_number: str | None


def _name(value: str, column: str, *, required: bool) -> str | None:
    try:
        return clean_required(value, column) if required else clean_optional(value, column)
    except DomainError as exc:
        if exc.code == ErrorCode.REQUIRED:
            raise Refused(f"{column} is empty") from None
        if exc.code == ErrorCode.TOO_LONG:
            raise Refused(f"{column} is too long") from None
        raise Refused(f"{column} holds control characters") from None


def parse_row(line: int, fields: list[str]) -> Row:
    """One data record as a `Row`, or `Refused` with the reason."""
    if len(fields) != len(HEADER):
        raise Refused(f"expected {len(HEADER)} columns ({HEADER_TEXT}), found {len(fields)}")
    phone_raw, last_raw, first_raw, middle_raw, email_raw, account_raw = (f.strip() for f in fields)
    if not phone_raw:
        raise Refused("phone is empty")
    try:
        phone = parse_phone(phone_raw)
    except DomainError:
        raise Refused(f"phone is not a Russian mobile number: {show(phone_raw)}") from None
    last_name = _name(last_raw, "last_name", required=True) or ""
    first_name = _name(first_raw, "first_name", required=True) or ""
    middle_name = _name(middle_raw, "middle_name", required=False)
    email = None
    if email_raw:
        try:
            email = parse_email(email_raw)
        except DomainError:
            raise Refused(f"email is not an e-mail address: {show(email_raw)}") from None
    account = account_raw or None  # whether it exists is the database's to say (services.user_import)
    if account is not None and len(account) > MAX_ACCOUNT_LENGTH:
        raise Refused(f"account_number is too long: {show(account)}")
    return Row(line, phone, last_name, first_name, middle_name, email, account)


def parse_records(records: list[tuple[int, list[str] | str]]) -> list[Row | str | None]:
    """Each record as a `Row`, the reason it is refused, or None for a record of empty fields only (a
    spreadsheet's blank row, not a row). Run in a worker process for big files."""
    parsed: list[Row | str | None] = []
    for line, fields in records:
        if isinstance(fields, str):
            parsed.append(fields)
        elif all(not f.strip() for f in fields):
            parsed.append(None)
        else:
            try:
                parsed.append(parse_row(line, fields))
            except Refused as exc:
                parsed.append(exc.reason)
    return parsed
