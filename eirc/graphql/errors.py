"""DomainError → UserError: expected failures are data on every payload, never GraphQL errors.

`UserError.field` is the screen field the seed shows the message under, or null for a screen-level message —
never an internal argument such as `flowId` (docs/frontend.md has the code → field table).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, TypeVar

import strawberry

from eirc.domain.errors import DomainError, DomainErrors
from eirc.domain.errors import ErrorCode as DomainErrorCode
from eirc.domain.password import PasswordRule as DomainPasswordRule
from eirc.domain.texts import ERROR_HINTS, PASSWORD_RULE_TEXTS

ERROR_CODE_DESCRIPTIONS: dict[DomainErrorCode, str] = {
    DomainErrorCode.REQUIRED: "A required field is empty",
    DomainErrorCode.INVALID_PHONE: "Not a valid Russian mobile number",
    DomainErrorCode.CONSENT_REQUIRED: "The consent to the processing of personal data is not given",
    DomainErrorCode.INVALID_CODE: "The SMS code is wrong (an attempt is used up)",
    DomainErrorCode.CODE_EXPIRED: "No live SMS code: it expired or was used; ask for a new one",
    DomainErrorCode.CODE_ATTEMPTS_EXCEEDED: "Too many wrong SMS codes: a new code must be sent",
    DomainErrorCode.RESEND_TOO_EARLY: "A new SMS code is allowed later (`flow.resendAvailableInSeconds`)",
    DomainErrorCode.SMS_LIMIT: "The SMS sends of this number are used up for the hour or the day",
    DomainErrorCode.INVALID_PERIOD: "Not one of the billing periods offered (`billingPeriods`)",
    DomainErrorCode.UNKNOWN_ACCOUNT: "No such billing account",
    DomainErrorCode.AMOUNT_MISMATCH: "The amount is not the bill of that account and period",
    DomainErrorCode.INVALID_AMOUNT: "Not an amount in rubles",
    DomainErrorCode.ACCOUNT_ATTEMPTS_EXCEEDED: "Too many failed account proofs: try again in an hour",
    DomainErrorCode.ACCOUNT_ALREADY_LINKED: "This billing account is one of the resident's addresses already",
    DomainErrorCode.INVALID_EMAIL: "Not a well-formed e-mail address",
    DomainErrorCode.EMAIL_TAKEN: "The e-mail belongs to another resident",
    DomainErrorCode.PHONE_TAKEN: "The phone number belongs to a registered resident",
    DomainErrorCode.INVALID_DATE: "Not a date, or a birth date in the future or before 1900",
    DomainErrorCode.WEAK_PASSWORD: "The password breaks rules: `failedRules` names them",
    DomainErrorCode.INVALID_CREDENTIALS: "Wrong login or password (the same answer for either)",
    DomainErrorCode.EMAIL_NOT_CONFIRMED: "Sign-in by an e-mail that is not confirmed yet",
    DomainErrorCode.LOGIN_LOCKED: "Too many failed sign-ins: locked for a while (or suspended)",
    DomainErrorCode.FLOW_NOT_FOUND: "No such flow (unknown or cancelled): start again",
    DomainErrorCode.FLOW_EXPIRED: "The flow expired: start again",
    DomainErrorCode.WRONG_STEP: "The flow is not at the step this mutation belongs to (`flow.step` is)",
    DomainErrorCode.NOT_AUTHENTICATED: "No live session (`Authorization: Bearer <token>`)",
    DomainErrorCode.NOT_FOUND: "No such thing among the resident's own (e.g. an address)",
    DomainErrorCode.LAST_ADDRESS: "The only address cannot be removed",
    DomainErrorCode.EBILL_NEEDS_CONFIRMED_EMAIL: "The e-bill needs a confirmed e-mail",
    DomainErrorCode.INVALID_TOKEN: "A link, token or state that is unknown, used or expired",
    DomainErrorCode.TOO_LONG: "A value longer than its limit",
    DomainErrorCode.RATE_LIMITED: "Too many requests of this kind: try again later",
    DomainErrorCode.INVALID_STATUS_CHANGE: "A connection request cannot go to that status from its own",
    DomainErrorCode.INVALID_INPUT: "Text no field can hold (a NUL, a control character, a lone surrogate)",
    DomainErrorCode.GOSUSLUGI_UNAVAILABLE: "Госуслуги is off or not answering",
    DomainErrorCode.GOSUSLUGI_ALREADY_LINKED: "The Госуслуги account belongs to another profile (or this one has another)",
    DomainErrorCode.GOSUSLUGI_PHONE_REQUIRED: "The Госуслуги account has no verified mobile phone",
    DomainErrorCode.EMAIL_ALREADY_CONFIRMED: "The e-mail is confirmed already: no letter is needed",
}

ErrorCode = strawberry.enum(
    Enum(  # type: ignore[misc]
        "ErrorCode",
        {
            c.name: strawberry.enum_value(c.value, description=ERROR_CODE_DESCRIPTIONS[c])
            for c in DomainErrorCode
        },
    ),
    description="Stable machine-readable codes of expected failures; each comes with its Russian text",
)
PasswordRule = strawberry.enum(
    Enum(  # type: ignore[misc]
        "PasswordRule",
        {
            r.name: strawberry.enum_value(r.value, description=PASSWORD_RULE_TEXTS[r.value])
            for r in DomainPasswordRule
        },
    ),
    description="The password rules, as the screen lists them (texts: uiTexts `password.rule.<RULE>`)",
)

# Arguments that are not a field of any screen: their errors are the screen's (field null).
NOT_SCREEN_FIELDS = frozenset({"flowId", "id", "addressId", "token", "state", "requestId"})


def screen_field(field: str | None, mutation: str | None = None) -> str | None:
    """The screen field an error is shown under, or None for a screen-level message."""
    if field in NOT_SCREEN_FIELDS:
        return None
    if mutation == "gosuslugiComplete" and field == "code":  # the provider's code: no field to type it in
        return None
    if field == "enabled":  # setEbill's switch
        return "ebill"
    return field


@strawberry.type(
    description="An expected failure: a stable code, the screen field it concerns, the Russian text"
)
class UserError:
    code: ErrorCode = strawberry.field(description="What went wrong, for code")  # type: ignore[valid-type]
    field: str | None = strawberry.field(
        description="The screen field the message is shown under (phone, code, period, accountNumber, "
        "amountDue, lastName, firstName, middleName, birthDate, email, password, login, address, flat, …), "
        "or null for a message of the whole screen"
    )
    message: str = strawberry.field(description="The text to show, in Russian")
    failed_rules: list[PasswordRule] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="WEAK_PASSWORD: the password rules the password breaks"
    )
    hint: str | None = strawberry.field(
        default=None,
        description="A text the screen shows under the error (e.g. the connection-request offer)",
    )


def to_user_errors(
    exc: DomainError | DomainErrors, *, hints: bool = True, mutation: str | None = None
) -> list[UserError]:
    errors = exc.errors if isinstance(exc, DomainErrors) else [exc]
    return [
        UserError(
            code=e.code,
            field=screen_field(e.field, mutation),
            message=e.message,
            failed_rules=[DomainPasswordRule(r) for r in e.failed_rules] if e.failed_rules else None,
            hint=ERROR_HINTS.get(e.code) if hints else None,
        )
        for e in errors
    ]


P = TypeVar("P")


async def guarded(
    payload: Callable[..., P],
    call: Callable[[], Awaitable[dict[str, Any]]],
    *,
    hints: bool = True,
    mutation: str | None = None,
) -> P:
    """Run a use case; its result (a dict of payload fields) or its DomainError becomes the payload.

    `hints=False`: no hint under the errors (a signed-in resident cannot file a connection request);
    `mutation`: the field's name, where an argument name means something else in it (`screen_field`)."""
    try:
        fields = await call()
    except (DomainError, DomainErrors) as exc:
        fields = {"errors": to_user_errors(exc, hints=hints, mutation=mutation)}
        extra = getattr(exc, "payload", None)
        if extra:
            fields.update(extra)
        return payload(**fields)
    fields.setdefault("errors", [])
    return payload(**fields)
