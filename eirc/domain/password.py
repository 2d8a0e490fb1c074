"""Password rules of SPEC §2 step 6, each reported separately so that a screen can mark it.

- ``MIN_LENGTH`` — «Минимум 6 символов»;
- ``LETTERS_AND_DIGITS_ONLY`` — «Только буквы и цифры»: Latin or Cyrillic letters (ё/Ё included)
  and the ASCII digits 0–9; no spaces, punctuation, other scripts or other Unicode digits;
- ``NO_REPEATED_ADJACENT_DIGITS`` — «Нет двух одинаковых цифр рядом»: ``11`` is refused, ``1a1``
  and ``12`` are fine; repeated letters (``aa``) are fine.

Rules are checked on the NFC form of the password (``normalize_password``), so that a «й» or «ё»
typed as a letter plus a combining mark counts as a letter. Whoever hashes and verifies passwords
should hash that same NFC form, so that both spellings sign in.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from eirc.domain import limits
from eirc.domain.errors import DomainError, ErrorCode

MIN_PASSWORD_LENGTH = 6
MAX_PASSWORD_LENGTH = limits.PASSWORD
"""Longer is refused with ``TOO_LONG``: hashing megabytes is a denial-of-service lever."""


class PasswordRule(StrEnum):
    MIN_LENGTH = "MIN_LENGTH"
    LETTERS_AND_DIGITS_ONLY = "LETTERS_AND_DIGITS_ONLY"
    NO_REPEATED_ADJACENT_DIGITS = "NO_REPEATED_ADJACENT_DIGITS"


RULES: list[PasswordRule] = [
    PasswordRule.MIN_LENGTH,
    PasswordRule.LETTERS_AND_DIGITS_ONLY,
    PasswordRule.NO_REPEATED_ADJACENT_DIGITS,
]
"""Display order of the rules (as listed on the password screen)."""

_ALLOWED = re.compile(r"[A-Za-zА-Яа-яЁё0-9]*")
_REPEATED_DIGITS = re.compile(r"([0-9])\1")


def normalize_password(pw: str) -> str:
    """The canonical (NFC) form of a password: the form rules are checked on and hashes are made of."""
    return unicodedata.normalize("NFC", pw)


def failed_rules(pw: str) -> list[PasswordRule]:
    """Rules ``pw`` breaks, in display order (empty when the password is acceptable)."""
    text = normalize_password(pw)
    failed: list[PasswordRule] = []
    if len(text) < MIN_PASSWORD_LENGTH:
        failed.append(PasswordRule.MIN_LENGTH)
    if not _ALLOWED.fullmatch(text):
        failed.append(PasswordRule.LETTERS_AND_DIGITS_ONLY)
    if _REPEATED_DIGITS.search(text):
        failed.append(PasswordRule.NO_REPEATED_ADJACENT_DIGITS)
    return failed


def check_password(pw: str | None, field: str = "password") -> None:
    """Raise ``DomainError`` unless ``pw`` is an acceptable new password.

    Empty → ``REQUIRED``; longer than ``MAX_PASSWORD_LENGTH`` → ``TOO_LONG``; any rule broken →
    ``WEAK_PASSWORD`` with ``failed_rules``. A password is never stripped: spaces are characters
    (and break ``LETTERS_AND_DIGITS_ONLY``).
    """
    if not pw:
        raise DomainError(ErrorCode.REQUIRED, field)
    if len(pw) > MAX_PASSWORD_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, field)
    failed = failed_rules(pw)
    if failed:
        raise DomainError(ErrorCode.WEAK_PASSWORD, field, failed_rules=failed)
