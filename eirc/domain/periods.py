"""Billing periods (расчетный период): one calendar month, ``"2021-06"`` on the wire, «июнь 2021» on screen.

A resident proves an account with a bill from one of the last three billed months (SPEC §2 step 3);
the period is chosen from a list, so anything but the exact ``YYYY-MM`` value is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from eirc.domain.errors import DomainError, ErrorCode

MONTH_NAMES = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)
"""Nominative, lower case: the form the seed's screens show («июнь 2021»)."""

_VALUE = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """A calendar month; ordered chronologically (``year`` then ``month``)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9999:
            raise ValueError(f"no such period: {self.year}-{self.month}")

    @classmethod
    def parse(cls, raw: str | None, field: str = "period") -> Period:
        """``"2021-06"`` → ``Period(2021, 6)``. Empty → ``REQUIRED``; anything else → ``INVALID_PERIOD``."""
        if raw is None or not raw.strip():
            raise DomainError(ErrorCode.REQUIRED, field)
        match = _VALUE.fullmatch(raw)
        if match is None:
            raise DomainError(ErrorCode.INVALID_PERIOD, field)
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12 or year < 1:
            raise DomainError(ErrorCode.INVALID_PERIOD, field)
        return cls(year, month)

    @classmethod
    def from_date(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def value(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{MONTH_NAMES[self.month - 1]} {self.year}"

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def previous(self) -> Period:
        if self.month == 1:
            return Period(self.year - 1, 12)
        return Period(self.year, self.month - 1)

    def next(self) -> Period:
        if self.month == 12:
            return Period(self.year + 1, 1)
        return Period(self.year, self.month + 1)

    def __str__(self) -> str:
        return self.value


def last_billed_periods(newest: Period, count: int = 3) -> list[Period]:
    """``newest`` and the ``count - 1`` months before it, newest first (the choice of SPEC §2 step 3)."""
    if count < 0:
        raise ValueError("count must not be negative")
    periods: list[Period] = []
    current = newest
    for _ in range(count):
        periods.append(current)
        if len(periods) < count:
            current = current.previous()
    return periods
