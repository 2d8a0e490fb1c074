"""Free-text fields people type: names, addresses, flat numbers.

Cleaning is the same everywhere so that stored values are comparable and safe to store and show:
surrounding whitespace is dropped and every run of whitespace inside (tabs, newlines, no-break
spaces) becomes one space. Control characters and lone surrogates are refused with
``INVALID_INPUT`` — PostgreSQL refuses NUL bytes and no driver can encode a lone surrogate, so
letting them through would turn hostile input into a server error (SPEC §10).
"""

from __future__ import annotations

import unicodedata

from eirc.domain import limits
from eirc.domain.errors import DomainError, ErrorCode

NAME_MAX_LENGTH = limits.NAME
ADDRESS_MAX_LENGTH = limits.ADDRESS
FLAT_MAX_LENGTH = limits.FLAT


def _clean(value: str | None, field: str, max_length: int) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        return None
    if len(text) > max_length:
        raise DomainError(ErrorCode.TOO_LONG, field, params={"max_length": max_length})
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise DomainError(ErrorCode.INVALID_INPUT, field)
    return text


def clean_required(value: str | None, field: str, max_length: int = NAME_MAX_LENGTH) -> str:
    """The cleaned value; empty (``None``, ``""``, spaces only) → ``REQUIRED``, too long → ``TOO_LONG``."""
    text = _clean(value, field, max_length)
    if text is None:
        raise DomainError(ErrorCode.REQUIRED, field)
    return text


def clean_optional(value: str | None, field: str, max_length: int = NAME_MAX_LENGTH) -> str | None:
    """The cleaned value, or ``None`` when empty («Отчество (обязательно, если есть)»).

    Too long → ``TOO_LONG``.
    """
    return _clean(value, field, max_length)
