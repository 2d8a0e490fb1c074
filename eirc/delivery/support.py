"""Support use cases over the outbox: list messages, show one, replay one. The CLI (`eirc deliveries`) is a
thin door.

A listing never shows a secret nor the text of a message (an SMS text is where a code would be):
only who, what kind, which state, which gateway took it (and the id it gave it), and the last error.
A message is named by its id or a unique prefix of it (at least ID_PREFIX_MIN characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eirc.delivery.outbox import CHANNELS, has_placeholder
from eirc.delivery.worker import make_due_now, mask_recipient
from eirc.storage.db import UnitOfWorkFactory

STATUSES = ("pending", "sent", "dead")
ID_PREFIX_MIN = 6
_HEX = frozenset("0123456789abcdef")


class ReplayRefused(Exception):
    """A replay that makes no sense; the message is the one-line reason."""


class DeliveryNotFound(ReplayRefused):
    """No delivery by that id or prefix (or the prefix names several); the message is the one-line reason."""


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
    gateway: str | None = None  # the gateway of the latest attempt
    gateway_message_id: str | None = None  # the id that gateway gave the message
    ask_status_first: bool = False  # the latest attempt may have reached the gateway unheard

    def as_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "kind": self.kind,
            "recipient": self.recipient,
            "status": self.status,
            "attempts": self.attempts,
            "gateway": self.gateway,
            "gateway_message_id": self.gateway_message_id,
            "next_attempt_at": self.next_attempt_at,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "sent_at": self.sent_at,
            "expires_at": self.expires_at,
            "idempotency_key": self.idempotency_key,
            "ask_status_first": self.ask_status_first,
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
        gateway=row.gateway,
        gateway_message_id=row.gateway_message_id,
        ask_status_first=bool(row.ask_status_first),
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
    async with uow() as tx:
        rows = await tx.deliveries.newest(status=status, channel=channel, limit=limit)
    return [_view(r) for r in rows]


async def get_delivery(uow: UnitOfWorkFactory, delivery_id: str) -> DeliveryView | None:
    async with uow() as tx:
        row = await tx.deliveries.view(delivery_id)
    return _view(row) if row else None


async def find_delivery(uow: UnitOfWorkFactory, key: str) -> DeliveryView:
    """The delivery named by `key`: its id, or a unique prefix of ≥ ID_PREFIX_MIN characters."""
    text = (key or "").strip().lower()
    if not text:
        raise DeliveryNotFound("no delivery id given")
    exact = await get_delivery(uow, text)
    if exact is not None:
        return exact
    if len(text) < ID_PREFIX_MIN or not set(text) <= _HEX:
        raise DeliveryNotFound(
            f"no delivery with id {key!r} (give the id, or at least {ID_PREFIX_MIN} of its first characters)"
        )
    async with uow() as tx:
        ids = await tx.deliveries.ids_starting_with(text, limit=2)
    if len(ids) > 1:
        raise DeliveryNotFound(f"{key!r} matches several deliveries: give more of the id")
    if not ids:
        raise DeliveryNotFound(f"no delivery with id {key!r}")
    view = await get_delivery(uow, ids[0])
    if view is None:  # pruned meanwhile
        raise DeliveryNotFound(f"no delivery with id {key!r}")
    return view


async def replay(
    uow: UnitOfWorkFactory, delivery_id: str, *, now: datetime, max_age_seconds: float
) -> DeliveryView:
    """Queue a dead or sent message again, due now, attempts reset, with the same idempotency key.

    `delivery_id` may be a unique prefix. The replayed message gets a fresh useful life of
    EIRC_DELIVERY_MAX_AGE_SECONDS. Refused (ReplayRefused): an unknown id, a message still pending, and a message whose secret was wiped (an SMS code, a
    confirmation link) — the secret is gone on purpose; the resident asks for a new code or letter.
    """
    if len(delivery_id.strip()) != 32:  # a prefix (ids are 32 hex characters)
        delivery_id = (await find_delivery(uow, delivery_id)).id
    async with uow() as tx:
        row = await tx.deliveries.replayable(delivery_id)
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
        requeued = await tx.deliveries.requeue(
            delivery_id, from_status=row.status, now=now, expires_at=now + timedelta(seconds=max_age_seconds)
        )
        if not requeued:
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
