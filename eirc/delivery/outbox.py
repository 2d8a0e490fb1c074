"""The transactional outbox: a message is a row written in the same transaction as its cause.

A registration that rolls back sends nothing; a committed one is delivered by the worker even if the
gateway dies right after the commit.

Secrets in a message (an SMS code, the token in a confirmation link) are never stored in clear: the
payload holds the placeholder `{secret}` and the secret itself is kept Fernet-encrypted in
`secret_enc`, substituted only at send time, and wiped once the message is sent, dead or expired.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from eirc.security import Secrets
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import Delivery

SECRET_PLACEHOLDER = "{secret}"
CHANNELS = ("sms", "email", "crm")


async def enqueue(
    tx: UnitOfWork,
    *,
    secrets: Secrets,
    now: datetime,
    channel: str,
    kind: str,
    recipient: str,
    payload: dict[str, Any],
    secret: str | None = None,
    ttl_seconds: float | None = None,
) -> Delivery:
    """Add a message to the outbox inside the caller's transaction (it is not committed here).

    `ttl_seconds`: the message's useful life (an SMS code is useless after it expires); past it the
    worker marks it dead instead of sending it.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if secret is not None and not has_placeholder(payload):
        raise ValueError("a secret was given but the payload has no {secret} placeholder")
    delivery = Delivery(
        channel=channel,
        kind=kind,
        recipient=recipient,
        payload=payload,
        secret_enc=secrets.encrypt(secret) if secret is not None else None,
        idempotency_key=str(uuid.uuid4()),
        status="pending",
        next_attempt_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds) if ttl_seconds else None,
        created_at=now,
    )
    await tx.deliveries.add(delivery)
    return delivery


def has_placeholder(value: Any) -> bool:
    """Whether a payload holds the `{secret}` placeholder anywhere."""
    if isinstance(value, str):
        return SECRET_PLACEHOLDER in value
    if isinstance(value, dict):
        return any(has_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(has_placeholder(v) for v in value)
    return False


_has_placeholder = has_placeholder


def fill_secret(value: Any, secret: str | None) -> Any:
    """The payload with `{secret}` replaced (at send time only)."""
    if secret is None:
        return value
    if isinstance(value, str):
        return value.replace(SECRET_PLACEHOLDER, secret)
    if isinstance(value, dict):
        return {k: fill_secret(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_secret(v, secret) for v in value]
    return value
