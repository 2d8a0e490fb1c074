"""Russian mobile phone numbers: parse what people type, store E.164, show and mask it.

The phone number is the resident's identity (SPEC §1): every spelling of one number must land on
the same stored value (``+79161234567``), and only numbers that can receive our SMS are accepted —
a Russian *mobile* number. Landlines, 8-800, foreign numbers (including Kazakhstan, which shares
the +7 country code) are refused with ``INVALID_PHONE``.

Parsing is delegated to ``phonenumbers`` (Google's libphonenumber metadata), but only after a
strict character whitelist: the library silently turns letters into digits (``916abc4567`` →
``9162224567``, "vanity numbers") and understands extensions (``ext 5``, ``#1``), neither of which
is a phone number a resident meant.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from eirc.domain import limits
from eirc.domain.errors import DomainError, ErrorCode

FIELD = "phone"
MAX_RAW_LENGTH = limits.PHONE
"""Longer input is refused before it reaches the library (hostile input costs us nothing)."""

# ASCII digits, an optional leading "+", and the separators people type: spaces (including
# non-breaking ones), hyphens, dots, parentheses. Anything else (letters, "#", ";", "/") is refused.
_ALLOWED = re.compile(r"\+?[0-9 \u00a0\u202f\u2009\-.()]+")
_E164_RU = re.compile(r"\+7[0-9]{10}")
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _invalid() -> DomainError:
    return DomainError(ErrorCode.INVALID_PHONE, FIELD)


def parse_phone(raw: str | None) -> str:
    """Return the E.164 form (``+79161234567``) of a Russian mobile number, or raise ``DomainError``.

    Empty (or only spaces) → ``REQUIRED``; anything that is not a valid Russian mobile number →
    ``INVALID_PHONE``. Accepts ``+7 916 123 45 67``, ``89161234567``, ``8 (916) 123-45-67``,
    ``9161234567``, ``7 916 1234567`` and similar.
    """
    if raw is None:
        raise DomainError(ErrorCode.REQUIRED, FIELD)
    if len(raw) > MAX_RAW_LENGTH:
        raise _invalid()
    text = raw.strip()
    if not text:
        raise DomainError(ErrorCode.REQUIRED, FIELD)
    if not _ALLOWED.fullmatch(text):
        raise _invalid()
    e164 = _russian_mobile(text)
    if e164 is None:
        raise _invalid()
    return e164


@functools.lru_cache(maxsize=4096)
def _russian_mobile(text: str) -> str | None:
    """The E.164 form of an allowed spelling, or None. Cached: a sign-in parses its login on the event loop,
    and libphonenumber's ~60 µs was a tenth of a sign-in's time there; the answer depends on the text alone
    (and on the library's metadata, fixed for the life of the process)."""
    try:
        number = phonenumbers.parse(text, "RU")
    except NumberParseException:
        return None
    if number.extension or number.country_code != 7:
        return None
    national = str(number.national_number)
    # Russian mobile ranges are 9xx; the check also keeps out numbers the metadata calls
    # FIXED_LINE_OR_MOBILE elsewhere in the +7 zone.
    if len(national) != 10 or not national.startswith("9"):
        return None
    if not phonenumbers.is_valid_number_for_region(number, "RU"):
        return None
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """Display form of a stored number: ``+79161234567`` → ``+7 916 123-45-67``.

    A value that is not a stored Russian number is returned unchanged (display never fails).
    """
    if not _E164_RU.fullmatch(e164):
        return e164
    d = e164[2:]
    return f"+7 {d[0:3]} {d[3:6]}-{d[6:8]}-{d[8:10]}"


def mask_phone(e164: str) -> str:
    """Form for logs and support screens: ``+79161234567`` → ``+7 916 ***-**-67``.

    Only the operator code and the last two digits remain; the rest of the number is personal data.
    Anything that is not a stored Russian number is masked entirely but for its last two characters.
    """
    if _E164_RU.fullmatch(e164):
        return f"+7 {e164[2:5]} ***-**-{e164[-2:]}"
    return "***" + e164[-2:] if len(e164) > 4 else "***"
