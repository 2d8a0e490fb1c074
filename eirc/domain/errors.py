"""Error codes owned by the domain and the exception that carries them.

A `DomainError` is an *expected* failure: the GraphQL face turns it into a `UserError`
(code, field, Russian text), the CLI into exit code 1 with one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    INVALID_PHONE = "INVALID_PHONE"
    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    INVALID_CODE = "INVALID_CODE"
    CODE_EXPIRED = "CODE_EXPIRED"
    CODE_ATTEMPTS_EXCEEDED = "CODE_ATTEMPTS_EXCEEDED"
    RESEND_TOO_EARLY = "RESEND_TOO_EARLY"
    SMS_LIMIT = "SMS_LIMIT"
    INVALID_PERIOD = "INVALID_PERIOD"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    ACCOUNT_ATTEMPTS_EXCEEDED = "ACCOUNT_ATTEMPTS_EXCEEDED"
    ACCOUNT_ALREADY_LINKED = "ACCOUNT_ALREADY_LINKED"
    INVALID_EMAIL = "INVALID_EMAIL"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    PHONE_TAKEN = "PHONE_TAKEN"
    INVALID_DATE = "INVALID_DATE"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    EMAIL_NOT_CONFIRMED = "EMAIL_NOT_CONFIRMED"
    LOGIN_LOCKED = "LOGIN_LOCKED"
    FLOW_NOT_FOUND = "FLOW_NOT_FOUND"
    FLOW_EXPIRED = "FLOW_EXPIRED"
    WRONG_STEP = "WRONG_STEP"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    NOT_FOUND = "NOT_FOUND"
    LAST_ADDRESS = "LAST_ADDRESS"
    EBILL_NEEDS_CONFIRMED_EMAIL = "EBILL_NEEDS_CONFIRMED_EMAIL"
    INVALID_TOKEN = "INVALID_TOKEN"
    TOO_LONG = "TOO_LONG"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_STATUS_CHANGE = "INVALID_STATUS_CHANGE"
    INVALID_INPUT = "INVALID_INPUT"
    GOSUSLUGI_UNAVAILABLE = "GOSUSLUGI_UNAVAILABLE"
    GOSUSLUGI_ALREADY_LINKED = "GOSUSLUGI_ALREADY_LINKED"
    GOSUSLUGI_PHONE_REQUIRED = "GOSUSLUGI_PHONE_REQUIRED"


class DomainError(Exception):
    """An expected failure with a stable code, the field it concerns and (optionally) failed rules."""

    def __init__(
        self,
        code: ErrorCode,
        field: str | None = None,
        *,
        failed_rules: list | None = None,
        message: str | None = None,
        params: dict | None = None,
    ) -> None:
        from eirc.domain.texts import error_text

        self.code = code
        self.field = field
        self.failed_rules = failed_rules
        self.message = message if message is not None else error_text(code, **(params or {}))
        super().__init__(f"{code}: {self.message}")


class DomainErrors(Exception):
    """Several expected failures at once (e.g. every empty required field of a form)."""

    def __init__(self, errors: list[DomainError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def check_all(checks: Iterable[tuple[str, Callable[[], Any]]]) -> dict[str, Any]:
    """Run every check of a form; the cleaned values by name, or `DomainErrors` with one error per
    broken field, in the order given (the screen's order) — a form shows all its errors at once."""
    errors: list[DomainError] = []
    values: dict[str, Any] = {}
    for name, check in checks:
        try:
            values[name] = check()
        except DomainError as exc:
            errors.append(exc)
    if errors:
        raise DomainErrors(errors)
    return values
