"""The outbox: the `delivery` table (eirc/delivery/ sends what it holds).

What the journeys write (`add`, in the transaction of the change that causes the message), what the worker
claims and records, and what support lists and replays — every statement on the table is here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from eirc.storage.repository import Repository
from eirc.storage.tables import Delivery

_t = Delivery.__table__  # type: ignore[attr-defined]
_c = _t.c

# What the worker needs of a due row.
_DUE_COLUMNS = (
    _c.id,
    _c.channel,
    _c.kind,
    _c.recipient,
    _c.payload,
    _c.secret_enc,
    _c.idempotency_key,
    _c.attempts,
    _c.ask_status_first,
    _c.expires_at,
    _c.created_at,
    _c.last_error,
)
# What support sees of a message: never its text nor its secret.
VIEW_COLUMNS = (
    _c.id,
    _c.channel,
    _c.kind,
    _c.recipient,
    _c.status,
    _c.attempts,
    _c.next_attempt_at,
    _c.last_error,
    _c.created_at,
    _c.sent_at,
    _c.expires_at,
    _c.idempotency_key,
    _c.gateway,
    _c.gateway_message_id,
    _c.ask_status_first,
)


class Deliveries(Repository):
    queued = False  # a message was added in this transaction (the unit of work wakes the worker on commit)

    async def add(self, delivery: Delivery) -> None:
        """Queued in the caller's transaction: the message exists if and only if its cause commits."""
        self.session.add(delivery)
        self.queued = True

    # --- the worker ------------------------------------------------------------------------------------------
    async def due(self, *, now: datetime, max_age_seconds: float, limit: int) -> list[Any]:
        """Pending rows that are due (or past their useful life) and not claimed by a live worker, oldest due
        first. PostgreSQL: locked with `FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint rows
        without waiting; SQLite's transactions are serialised already (BEGIN IMMEDIATE)."""
        cutoff = now - timedelta(seconds=max_age_seconds)
        past_life = or_(_c.expires_at <= now, and_(_c.expires_at.is_(None), _c.created_at <= cutoff))
        query = (
            select(*_DUE_COLUMNS)
            .where(
                _c.status == "pending",
                or_(_c.claimed_until.is_(None), _c.claimed_until <= now),
                or_(_c.next_attempt_at <= now, past_life),
            )
            .order_by(_c.next_attempt_at)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list((await self.session.execute(query)).all())

    async def expire(self, delivery_id: str, *, reason: str) -> None:
        """Dead as expired: never sent, its secret wiped."""
        await self.session.execute(
            update(_t)
            .where(_c.id == delivery_id)
            .values(status="dead", secret_enc=None, claimed_by=None, claimed_until=None, last_error=reason)
        )

    async def claim(self, ids: list[str], *, worker_id: str, until: datetime) -> None:
        """Claimed by `worker_id` until `until`, and in doubt until the outcome is recorded (`ask_status_first`:
        if the worker dies mid-send, the next attempt asks the gateway's status first)."""
        await self.session.execute(
            update(_t)
            .where(_c.id.in_(ids))
            .values(claimed_by=worker_id, claimed_until=until, ask_status_first=True)
        )

    async def record(self, delivery_id: str, *, worker_id: str, values: dict[str, Any]) -> bool:
        """An attempt's outcome, written only while the claim is still `worker_id`'s; whether it was."""
        result = await self.session.execute(
            update(_t)
            .where(_c.id == delivery_id, _c.claimed_by == worker_id, _c.status == "pending")
            .values(attempts=_c.attempts + 1, claimed_by=None, claimed_until=None, **values)
        )
        return bool(result.rowcount)

    async def claim_holders(self, *, now: datetime) -> list[str]:
        """The workers holding live claims."""
        stmt = (
            select(_c.claimed_by)
            .where(_c.status == "pending", _c.claimed_until > now, _c.claimed_by.is_not(None))
            .distinct()
        )
        return list((await self.session.execute(stmt)).scalars())

    async def release_claims(self, holders: list[str]) -> int:
        result = await self.session.execute(
            update(_t)
            .where(_c.status == "pending", _c.claimed_by.in_(holders))
            .values(claimed_by=None, claimed_until=None)
        )
        return result.rowcount or 0

    async def make_due(self, *, now: datetime, channel: str | None = None) -> int:
        """Pending messages waiting on back-off (of `channel`) due now; claimed ones are left alone."""
        stmt = (
            update(_t)
            .where(_c.status == "pending", _c.next_attempt_at > now)
            .where(or_(_c.claimed_until.is_(None), _c.claimed_until <= now))
            .values(next_attempt_at=now)
        )
        if channel:
            stmt = stmt.where(_c.channel == channel)
        result = await self.session.execute(stmt)
        return result.rowcount or 0

    # --- support ---------------------------------------------------------------------------------------------
    async def newest(self, *, status: str | None, channel: str | None, limit: int) -> list[Any]:
        query = select(*VIEW_COLUMNS).order_by(_c.created_at.desc(), _c.id).limit(max(1, limit))
        if status:
            query = query.where(_c.status == status)
        if channel:
            query = query.where(_c.channel == channel)
        return list((await self.session.execute(query)).all())

    async def view(self, delivery_id: str) -> Any | None:
        return (await self.session.execute(select(*VIEW_COLUMNS).where(_c.id == delivery_id))).one_or_none()

    async def ids_starting_with(self, prefix: str, *, limit: int) -> list[str]:
        stmt = select(_c.id).where(_c.id.startswith(prefix, autoescape=True)).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def replayable(self, delivery_id: str) -> Any | None:
        """(id, status, channel, payload, secret_enc) of a message, to decide whether it may be replayed."""
        stmt = select(_c.id, _c.status, _c.channel, _c.payload, _c.secret_enc).where(_c.id == delivery_id)
        return (await self.session.execute(stmt)).one_or_none()

    async def requeue(
        self, delivery_id: str, *, from_status: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Pending again, due now, attempts reset, the same idempotency key — if it is still `from_status`."""
        result = await self.session.execute(
            update(_t)
            .where(_c.id == delivery_id, _c.status == from_status)
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=now,
                claimed_by=None,
                claimed_until=None,
                sent_at=None,
                last_error=None,
                expires_at=expires_at,
                ask_status_first=False,
            )
        )
        return bool(result.rowcount)
