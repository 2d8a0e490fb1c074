"""Amounts of money as integer kopecks: parse what residents type, format for display.

Proving a billing account compares the typed amount with the bill *to the kopeck* (SPEC §2 step 3),
so amounts are never floats: the text is checked against a strict grammar and turned into an int.

Accepted: ``300``, ``300.00``, ``300,5``, ``1 234,56``, ``1 234.56``; thousands separated by a
space, a no-break space (U+00A0), a narrow no-break space (U+202F) or a thin space (U+2009) in
groups of three; an optional trailing ``₽``, ``р``, ``р.``, ``руб`` or ``руб.``. Refused
(``INVALID_AMOUNT``): signs, exponents, NaN/inf, more than two decimals, a comma used as a
thousands separator together with a decimal point (``1,234.56`` — ambiguous), non-ASCII digits,
and amounts above ``MAX_KOPECKS``.
"""

from __future__ import annotations

import re

from eirc.domain import limits
from eirc.domain.errors import DomainError, ErrorCode

MAX_KOPECKS = 10**12
"""Ten billion roubles: far above any utility bill, far below anything that overflows a BIGINT."""
MAX_RAW_LENGTH = limits.AMOUNT

_SEP = "[ \u00a0\u202f\u2009]"
_AMOUNT = re.compile(
    rf"""
    (?P<int>[0-9]{{1,3}}(?:{_SEP}[0-9]{{3}})+ | [0-9]+)   # grouped or plain roubles
    (?:[.,](?P<frac>[0-9]{{1,2}}))?                       # kopecks
    (?:{_SEP}*(?:₽|руб\.?|р\.?))?                         # currency
    """,
    re.VERBOSE | re.IGNORECASE,
)
_STRIP = " \t\n\r\u00a0\u202f\u2009"


def parse_amount(raw: str | None, field: str = "amountDue") -> int:
    """Return the amount in kopecks (``"1 234,56"`` → ``123456``), or raise ``DomainError``.

    Empty → ``REQUIRED``; anything else that is not an amount → ``INVALID_AMOUNT``.
    """
    if raw is None:
        raise DomainError(ErrorCode.REQUIRED, field)
    if len(raw) > MAX_RAW_LENGTH:
        raise DomainError(ErrorCode.INVALID_AMOUNT, field)
    text = raw.strip(_STRIP)
    if not text:
        raise DomainError(ErrorCode.REQUIRED, field)
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise DomainError(ErrorCode.INVALID_AMOUNT, field)
    roubles = int(re.sub(_SEP, "", match["int"]))
    kopecks = int((match["frac"] or "0").ljust(2, "0"))
    total = roubles * 100 + kopecks
    if total > MAX_KOPECKS:
        raise DomainError(ErrorCode.INVALID_AMOUNT, field)
    return total


def format_amount(kopecks: int) -> str:
    """Display form: ``123456`` → ``"1 234,56"`` (a regular space between thousands, always two
    decimals, a leading ``-`` for negative amounts such as an overpayment)."""
    sign = "-" if kopecks < 0 else ""
    roubles, rest = divmod(abs(kopecks), 100)
    return f"{sign}{roubles:,}".replace(",", " ") + f",{rest:02d}"
