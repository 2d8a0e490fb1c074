"""Connection requests («Заявка на подключение», SPEC §3): the form and the status machine. Pure rules.

The form is checked all at once: one `DomainError` per broken field (raised together as `DomainErrors`), the
field named as the GraphQL argument, so a screen can mark every field after one «Отправить заявку».

Statuses and what support may do (`eirc requests take | resolve | reject`)::

    new ──take──► in_progress ──resolve──► resolved
     │               │  ▲ take (another engineer picks it up)
     │               └──┘
     │               └──────reject────► rejected
     ├──resolve──► resolved     (the address was added already: no need to take it first)
     └──reject───► rejected     (spam, a duplicate: no need to take it first)

`resolved` and `rejected` are final: the resident has been told, by SMS and e-mail, and telling them the
opposite later would be worse than filing a new request. Anything else is ``INVALID_STATUS_CHANGE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from eirc.domain import limits
from eirc.domain.email import parse_email
from eirc.domain.errors import DomainError, ErrorCode, check_all
from eirc.domain.names import (
    ADDRESS_MAX_LENGTH,
    FLAT_MAX_LENGTH,
    NAME_MAX_LENGTH,
    clean_optional,
    clean_required,
)

REASON_MAX_LENGTH = limits.REASON
ACTOR_MAX_LENGTH = limits.ACTOR


class RequestStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REJECTED = "rejected"


class RequestAction(StrEnum):
    TAKE = "take"
    RESOLVE = "resolve"
    REJECT = "reject"


R = RequestStatus
A = RequestAction

TRANSITIONS: dict[RequestStatus, dict[RequestAction, RequestStatus]] = {
    R.NEW: {A.TAKE: R.IN_PROGRESS, A.RESOLVE: R.RESOLVED, A.REJECT: R.REJECTED},
    R.IN_PROGRESS: {A.TAKE: R.IN_PROGRESS, A.RESOLVE: R.RESOLVED, A.REJECT: R.REJECTED},
    R.RESOLVED: {},
    R.REJECTED: {},
}

FINAL_STATUSES = frozenset({R.RESOLVED, R.REJECTED})
OPEN_STATUSES = frozenset({R.NEW, R.IN_PROGRESS})


def allowed_from(action: RequestAction) -> list[RequestStatus]:
    """The statuses `action` may be applied to (for messages and docs)."""
    return [status for status, moves in TRANSITIONS.items() if action in moves]


def next_status(current: RequestStatus | str, action: RequestAction) -> RequestStatus:
    """The status after `action`, or ``INVALID_STATUS_CHANGE`` with a one-line reason for support."""
    status = RequestStatus(current)
    target = TRANSITIONS[status].get(action)
    if target is None:
        allowed = ", ".join(s.value for s in allowed_from(action))
        raise DomainError(
            ErrorCode.INVALID_STATUS_CHANGE,
            "status",
            message=f"cannot {action.value} a request that is {status.value} ({action.value} is allowed from: {allowed})",
        )
    return target


# --- the form ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RequestForm:
    last_name: str
    first_name: str
    middle_name: str | None
    address: str
    flat: str | None
    email: str
    email_notifications: bool


def parse_request_form(
    *,
    last_name: str | None,
    first_name: str | None,
    middle_name: str | None,
    address: str | None,
    flat: str | None,
    email: str | None,
    email_notifications: bool,
) -> RequestForm:
    """The cleaned form, or `DomainErrors` with one error per broken field, in the screen's order.

    Empty required field (Фамилия, Имя, Ваш адрес, Электронная почта) → ``REQUIRED``; a malformed e-mail →
    ``INVALID_EMAIL``; over the length limits → ``TOO_LONG``; control characters → ``INVALID_INPUT``.
    Отчество and Квартира are «обязательно, если есть»: empty means there is none.
    """
    checks = (
        ("last_name", lambda: clean_required(last_name, "lastName", NAME_MAX_LENGTH)),
        ("first_name", lambda: clean_required(first_name, "firstName", NAME_MAX_LENGTH)),
        ("middle_name", lambda: clean_optional(middle_name, "middleName", NAME_MAX_LENGTH)),
        ("address", lambda: clean_required(address, "address", ADDRESS_MAX_LENGTH)),
        ("flat", lambda: clean_optional(flat, "flat", FLAT_MAX_LENGTH)),
        ("email", lambda: parse_email(email, "email")),
    )
    values = check_all(checks)
    return RequestForm(email_notifications=bool(email_notifications), **values)  # type: ignore[arg-type]


_FLAT_PREFIX = re.compile(r"^(?:квартира|кв)\.?\s*", re.IGNORECASE)


def full_address(address: str, flat: str | None) -> str:
    """«ул. Ленина, д. 5» + «12» → «ул. Ленина, д. 5, кв. 12» (a typed «кв. 12» is not doubled)."""
    if not flat:
        return address
    number = _FLAT_PREFIX.sub("", flat).strip() or flat
    return f"{address}, кв. {number}"


def parse_reason(raw: str | None) -> str:
    """The reason of a rejection, told to the resident: required, at most 1000 characters."""
    return clean_required(raw, "reason", REASON_MAX_LENGTH)


def parse_actor(raw: str | None) -> str:
    """Who changes a status (`--as`, by default the OS user)."""
    return clean_required(raw, "as", ACTOR_MAX_LENGTH)
