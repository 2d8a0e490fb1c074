"""Support use cases over the outbox: list messages, replay one. The CLI (`eirc deliveries`) is a thin door.

A listing never shows a secret nor the text of a message (an SMS text is where a code would be):
only who, what kind, which state, and the last error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from eirc.delivery.outbox import CHANNELS, has_placeholder
from eirc.delivery.worker import make_due_now, mask_recipient
from eirc.storage.db import UnitOfWorkFactory
from eirc.storage.tables import Delivery

STATUSES = ("pending", "sent", "dead")
_t = Delivery.__table__  # type: ignore[attr-defined]


class ReplayRefused(Exception):
    """A replay that makes no sense; the message is the one-line reason."""


@dataclass(frozen=True)
class DeliveryView:
    id: str
    channel: str
    kind: str
    recipient: str  # phones masked
    status: str
    attempts: int
    next_attempt_at: datetime | None  # only while pending
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    expires_at: datetime | None
    idempotency_key: str

    def as_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "kind": self.kind,
            "recipient": self.recipient,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "sent_at": self.sent_at,
            "expires_at": self.expires_at,
            "idempotency_key": self.idempotency_key,
        }


def _view(row: Any) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        channel=row.channel,
        kind=row.kind,
        recipient=mask_recipient("sms", row.recipient) if row.channel == "sms" else row.recipient,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
        expires_at=row.expires_at,
        idempotency_key=row.idempotency_key,
    )


_VIEW_COLUMNS = (
    _t.c.id,
    _t.c.channel,
    _t.c.kind,
    _t.c.recipient,
    _t.c.status,
    _t.c.attempts,
    _t.c.next_attempt_at,
    _t.c.last_error,
    _t.c.created_at,
    _t.c.sent_at,
    _t.c.expires_at,
    _t.c.idempotency_key,
)


async def list_deliveries(
    uow: UnitOfWorkFactory,
    *,
    status: str | None = None,
    channel: str | None = None,
    limit: int = 50,
) -> list[DeliveryView]:
    """Newest first."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    query = select(*_VIEW_COLUMNS).order_by(_t.c.created_at.desc(), _t.c.id).limit(max(1, limit))
    if status:
        query = query.where(_t.c.status == status)
    if channel:
        query = query.where(_t.c.channel == channel)
    async with uow() as tx:
        rows = (await tx.session.execute(query)).all()
    return [_view(r) for r in rows]


async def get_delivery(uow: UnitOfWorkFactory, delivery_id: str) -> DeliveryView | None:
    async with uow() as tx:
        row = (await tx.session.execute(select(*_VIEW_COLUMNS).where(_t.c.id == delivery_id))).one_or_none()
    return _view(row) if row else None


async def replay(
    uow: UnitOfWorkFactory, delivery_id: str, *, now: datetime, max_age_seconds: float
) -> DeliveryView:
    """Queue a dead or sent message again, due now, attempts reset, with the same idempotency key.

    The replayed message gets a fresh useful life of EIRC_DELIVERY_MAX_AGE_SECONDS. Refused (ReplayRefused):
    an unknown id, a message still pending, and a message whose secret was wiped (an SMS code, a
    confirmation link) — the secret is gone on purpose; the resident asks for a new code or letter.
    """
    async with uow() as tx:
        row = (
            await tx.session.execute(
                select(_t.c.id, _t.c.status, _t.c.channel, _t.c.payload, _t.c.secret_enc).where(
                    _t.c.id == delivery_id
                )
            )
        ).one_or_none()
        if row is None:
            raise ReplayRefused(f"no delivery with id {delivery_id}")
        if row.status == "pending":
            raise ReplayRefused(f"delivery {delivery_id} is still pending: the worker will send it")
        # «Домопульт» events never carry a secret (queue_crm refuses them), whatever the resident typed.
        if row.channel != "crm" and row.secret_enc is None and has_placeholder(row.payload):
            raise ReplayRefused(
                f"delivery {delivery_id} carried a secret (code or link) that was wiped after it was "
                f"{'sent' if row.status == 'sent' else 'given up'}; it cannot be replayed — "
                "the resident must request a new one"
            )
        result = await tx.session.execute(
            update(_t)
            .where(_t.c.id == delivery_id, _t.c.status == row.status)
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=now,
                claimed_by=None,
                claimed_until=None,
                sent_at=None,
                last_error=None,
                expires_at=now + timedelta(seconds=max_age_seconds),
            )
        )
        if not result.rowcount:
            raise ReplayRefused(f"delivery {delivery_id} changed meanwhile; try again")
        await tx.commit()
    view = await get_delivery(uow, delivery_id)
    assert view is not None
    return view


async def retry_now(uow: UnitOfWorkFactory, *, now: datetime, channel: str | None = None) -> int:
    """Make every pending message (of `channel`) due now — after a provider outage, instead of waiting out
    each message's back-off. Returns how many. Safe while workers run: claimed messages are left alone."""
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return await make_due_now(uow, now=now, channel=channel)
