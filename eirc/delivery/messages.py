"""Helpers that queue the messages eirc sends, inside the caller's transaction (nothing is committed here).

    async with deps.uow() as tx:
        ...                                  # the change that causes the message
        await queue_sms_code(tx, deps, phone=flow.phone, code=code)
        await tx.commit()                    # the message exists iff the change does; the worker wakes

`deps` is what the use case was given (settings, secrets, clock: services.deps.Deps). Secrets (an SMS
code, the token of a confirmation link) go in `secret=` / `code=`: the stored text keeps the placeholder `{secret}` and the secret is stored
encrypted, filled in only at send time and wiped once the message is sent, dead or expired.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from eirc.delivery.outbox import SECRET_PLACEHOLDER, enqueue
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import Delivery

if TYPE_CHECKING:
    from eirc.services.deps import Deps

# The code must be the only run of digits of its length in the text (CONTRACT §5): no digits around it.
SMS_CODE_TEXT = f"Код подтверждения МосОблЕИРЦ: {SECRET_PLACEHOLDER}. Никому не сообщайте код."
CRM_RECIPIENT = "domopult"
CRM_TYPES = (
    "registration",
    "connection_request",
    "ebill_subscription",
)  # docs/profile.md: ebill_subscription

_FORBIDDEN_CRM_KEYS = re.compile(r"(?i)password|secret|token|code_hash")


async def queue_sms_code(
    tx: UnitOfWork, deps: Deps, *, phone: str, code: str, ttl_seconds: float | None = None
) -> Delivery:
    """The confirmation-code SMS. Not sent once the code has expired (`ttl_seconds`, default
    EIRC_CODE_TTL_SECONDS): it is marked dead as expired and its code wiped."""
    if not code.isdigit():
        raise ValueError("an SMS code is digits only")
    return await enqueue(
        tx,
        secrets=deps.secrets,
        now=deps.clock.now(),
        channel="sms",
        kind="sms_code",
        recipient=phone,
        payload={"text": SMS_CODE_TEXT},
        secret=code,
        ttl_seconds=ttl_seconds if ttl_seconds is not None else deps.settings.code_ttl_seconds,
    )


async def queue_sms(
    tx: UnitOfWork,
    deps: Deps,
    *,
    phone: str,
    kind: str,
    text: str,
    secret: str | None = None,
    ttl_seconds: float | None = None,
) -> Delivery:
    """Any other SMS (e.g. «ваш адрес добавлен»). Put `{secret}` in `text` if `secret` is given."""
    return await enqueue(
        tx,
        secrets=deps.secrets,
        now=deps.clock.now(),
        channel="sms",
        kind=kind,
        recipient=phone,
        payload={"text": text},
        secret=secret,
        ttl_seconds=ttl_seconds,
    )


async def queue_email(
    tx: UnitOfWork,
    deps: Deps,
    *,
    to: str,
    kind: str,
    subject: str,
    text: str,
    html: str | None = None,
    secret: str | None = None,
    ttl_seconds: float | None = None,
) -> Delivery:
    """A letter. For a confirmation link put `{secret}` where the token goes, e.g.
    `f"{deps.settings.public_url}/confirm-email?token={{secret}}"`, and pass the token as `secret`;
    `ttl_seconds` (e.g. the token's lifetime) stops a letter whose link is dead from being sent."""
    payload: dict[str, Any] = {"subject": subject, "text": text}
    if html is not None:
        payload["html"] = html
    return await enqueue(
        tx,
        secrets=deps.secrets,
        now=deps.clock.now(),
        channel="email",
        kind=kind,
        recipient=to,
        payload=payload,
        secret=secret,
        ttl_seconds=ttl_seconds,
    )


async def queue_crm(
    tx: UnitOfWork,
    deps: Deps,
    *,
    type: str,
    data: dict[str, Any],
    occurred_at: datetime | None = None,
) -> Delivery:
    """An event for «Домопульт»: `type` is one of CRM_TYPES; `data` is every field the
    resident entered (phone included, never a password — refused here). Dates, decimals and enums in
    `data` are stored as ISO strings / strings."""
    if type not in CRM_TYPES:
        raise ValueError(f"unknown «Домопульт» event type {type!r}")
    clean = _jsonable(data)
    _refuse_secrets(clean)
    when = occurred_at or deps.clock.now()
    return await enqueue(
        tx,
        secrets=deps.secrets,
        now=deps.clock.now(),
        channel="crm",
        kind=type,
        recipient=CRM_RECIPIENT,
        payload={"type": type, "occurred_at": when.isoformat(), "data": clean},
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _refuse_secrets(value: Any, path: str = "data") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if _FORBIDDEN_CRM_KEYS.search(key):
                raise ValueError(f"«Домопульт» data must not hold secrets: {path}.{key}")
            _refuse_secrets(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_secrets(item, f"{path}[{i}]")
