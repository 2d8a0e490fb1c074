"""DomainError → UserError: expected failures are data on every payload, never GraphQL errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from eirc.domain.errors import DomainError, DomainErrors
from eirc.domain.errors import ErrorCode as DomainErrorCode
from eirc.domain.password import PasswordRule as DomainPasswordRule
from eirc.domain.texts import ERROR_HINTS

ErrorCode = strawberry.enum(DomainErrorCode, name="ErrorCode", description="Stable machine-readable codes")
PasswordRule = strawberry.enum(DomainPasswordRule, name="PasswordRule")


@strawberry.type(description="An expected failure: a stable code, the field it concerns, the Russian text")
class UserError:
    code: ErrorCode  # type: ignore[valid-type]
    field: str | None
    message: str
    failed_rules: list[PasswordRule] | None = None  # type: ignore[valid-type]
    hint: str | None = strawberry.field(
        default=None,
        description="A text the screen shows under the error (e.g. the connection-request offer)",
    )


def to_user_errors(exc: DomainError | DomainErrors) -> list[UserError]:
    errors = exc.errors if isinstance(exc, DomainErrors) else [exc]
    return [
        UserError(
            code=e.code,
            field=e.field,
            message=e.message,
            failed_rules=[DomainPasswordRule(r) for r in e.failed_rules] if e.failed_rules else None,
            hint=ERROR_HINTS.get(e.code),
        )
        for e in errors
    ]


P = TypeVar("P")


async def guarded(payload: Callable[..., P], call: Callable[[], Awaitable[dict[str, Any]]]) -> P:
    """Run a use case; its result (a dict of payload fields) or its DomainError becomes the payload."""
    try:
        fields = await call()
    except (DomainError, DomainErrors) as exc:
        fields = {"errors": to_user_errors(exc)}
        extra = getattr(exc, "payload", None)
        if extra:
            fields.update(extra)
        return payload(**fields)
    fields.setdefault("errors", [])
    return payload(**fields)
