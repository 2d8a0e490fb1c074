"""Error codes owned by the domain and the exception that carries them.

A `DomainError` is an *expected* failure: the GraphQL face turns it into a `UserError`
(code, field, Russian text), the CLI into exit code 1 with one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from eirc.domain.codes import ErrorCode
from eirc.domain.texts import error_text

__all__ = ["DomainError", "DomainErrors", "ErrorCode", "check_all"]


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
