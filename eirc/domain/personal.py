"""Personal data of SPEC §2 step 5 («Регистрация: личные данные»), checked all at once.

Every broken field gets its own error (one `DomainError` per field, raised together as `DomainErrors`), so a
screen can mark them all after one «Далее».

Birth date (optional): not in the future and not before 1900-01-01 (``INVALID_DATE``). No minimum age is
enforced: SPEC sets none, and a parent may register a flat in a grown-up child's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from eirc.domain.email import parse_email
from eirc.domain.errors import DomainError, ErrorCode, check_all
from eirc.domain.names import clean_optional, clean_required

EARLIEST_BIRTH_DATE = date(1900, 1, 1)
MOSCOW = timezone(timedelta(hours=3), "MSK")  # no daylight saving since 2014
"""Residents' «today»: a child born this morning in Moscow is not born «tomorrow» in UTC."""


def local_today(now: datetime) -> date:
    return now.astimezone(MOSCOW).date()


@dataclass(frozen=True)
class PersonalData:
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date | None
    email: str
    email_notifications: bool


class UnreadableDate:
    """A date as typed that is not one (e.g. «31.12.1990» where YYYY-MM-DD is asked for): the GraphQL face
    passes it on, so that it is refused here as ``INVALID_DATE`` on its field, like any other bad date."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"UnreadableDate({self.text!r})"


def check_birth_date(
    value: date | UnreadableDate | None, today: date, field: str = "birthDate"
) -> date | None:
    if value is None:
        return None
    if isinstance(value, UnreadableDate) or value > today or value < EARLIEST_BIRTH_DATE:
        raise DomainError(ErrorCode.INVALID_DATE, field)
    return value


def parse_personal_data(
    *,
    last_name: str | None,
    first_name: str | None,
    middle_name: str | None,
    birth_date: date | None,
    email: str | None,
    email_notifications: bool,
    today: date,
) -> PersonalData:
    """The cleaned values, or `DomainErrors` with one error per broken field (fields in screen order)."""
    checks = (
        ("last_name", lambda: clean_required(last_name, "lastName")),
        ("first_name", lambda: clean_required(first_name, "firstName")),
        ("middle_name", lambda: clean_optional(middle_name, "middleName")),
        ("birth_date", lambda: check_birth_date(birth_date, today)),
        ("email", lambda: parse_email(email, "email")),
    )
    values = check_all(checks)
    return PersonalData(email_notifications=bool(email_notifications), **values)  # type: ignore[arg-type]
