"""Connection requests for support (`eirc requests list | show | take | resolve | reject`, CONTRACT §4).

Every status change is one transaction over the request row, locked for it (`SELECT … FOR UPDATE` on
PostgreSQL; SQLite transactions are serialised): the new status, an event row (from, to, actor, time,
reason) and the messages that tell the resident — queued in the outbox in that same transaction, so a
resident is told exactly when the change is stored. Two engineers resolving at once: one succeeds, the
other is refused (``INVALID_STATUS_CHANGE``: the request is resolved already) and nothing is sent twice.

What the resident is told (texts in domain/texts.py):
- take (new → in_progress): an e-mail «принята в работу», only if they agreed to e-mail notifications
  (the form's «Согласен получать уведомления по E-mail»: SPEC §8 calls these «уведомления о статусе
  заявок»). A take by another engineer (in_progress → in_progress) only reassigns: nothing is sent.
- resolve: an SMS to the verified phone and an e-mail — always: it is the answer to their own request,
  promised on the screen («мы свяжемся с вами по указанному номеру телефона или электронной почте»).
- reject: the same, with the reason (the SMS carries at most SMS_REASON_MAX characters of it; the letter
  all of it).

A request is named by its id, or by a unique prefix of at least ID_PREFIX_MIN characters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from eirc.delivery.messages import queue_email, queue_sms
from eirc.domain import texts
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.phone import format_phone, mask_phone
from eirc.domain.requests import (
    RequestAction,
    RequestStatus,
    full_address,
    next_status,
    parse_actor,
    parse_reason,
)
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import ConnectionRequest, ConnectionRequestEvent

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.requests")

ID_PREFIX_MIN = 6
ID_LENGTH = 32
SMS_REASON_MAX = 300
_HEX = frozenset("0123456789abcdef")


class RequestNotFound(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.NOT_FOUND, None, message=message)


# --- reading ------------------------------------------------------------------------------------------------
def record_of(request: ConnectionRequest) -> dict[str, Any]:
    """Every field of a request, as support sees it."""
    return {
        "id": request.id,
        "status": request.status,
        "created_at": request.created_at,
        "updated_at": request.updated_at,
        "phone": request.phone,
        "last_name": request.last_name,
        "first_name": request.first_name,
        "middle_name": request.middle_name,
        "address": request.address,
        "flat": request.flat,
        "email": request.email,
        "email_notifications": request.email_notifications,
        "account_number": request.account_number,
        "account_period": request.account_period,
        "account_amount_due": request.account_amount_due,
        "assignee": request.assignee,
        "reason": request.reason,
    }


def row_of(request: ConnectionRequest) -> dict[str, Any]:
    """One line of `eirc requests list`."""
    name = " ".join(p for p in (request.last_name, request.first_name, request.middle_name) if p)
    return {
        "id": request.id,
        "status": request.status,
        "created_at": request.created_at,
        "phone": request.phone,
        "name": name,
        "address": full_address(request.address, request.flat),
        "email": request.email,
        "account_number": request.account_number,
        "assignee": request.assignee,
        "updated_at": request.updated_at,
    }


def event_of(event: ConnectionRequestEvent) -> dict[str, Any]:
    return {
        "at": event.at,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "actor": event.actor,
        "reason": event.reason,
    }


async def list_requests(deps: Deps, *, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first; `status` one of new, in_progress, resolved, rejected."""
    if status is not None:
        RequestStatus(status)  # ValueError on an unknown status (the CLI offers only the four)
    async with deps.uow() as tx:
        return [row_of(r) for r in await tx.requests.newest(status=status, limit=limit)]


async def _find(tx: UnitOfWork, key: str | None, *, lock: bool) -> ConnectionRequest:
    """The request named by `key`: its id, or a unique prefix of ≥ ID_PREFIX_MIN characters."""
    text = (key or "").strip().lower()
    if not text:
        raise RequestNotFound("no connection request id given")
    request_id = text
    if len(text) != ID_LENGTH:
        if len(text) < ID_PREFIX_MIN or len(text) > ID_LENGTH or not set(text) <= _HEX:
            raise RequestNotFound(
                f"no connection request {key!r} (give the id, or at least {ID_PREFIX_MIN} of its first characters)"
            )
        ids = await tx.requests.ids_starting_with(text, limit=2)
        if len(ids) > 1:
            raise RequestNotFound(f"{key!r} matches several connection requests: give more of the id")
        if not ids:
            raise RequestNotFound(f"no connection request {key!r}")
        request_id = ids[0]
    found = await tx.requests.get(request_id, lock=lock)
    if found is None:
        raise RequestNotFound(f"no connection request {key!r}")
    return found


async def _history(tx: UnitOfWork, request_id: str) -> list[dict[str, Any]]:
    return [event_of(e) for e in await tx.requests.history(request_id)]


async def show_request(deps: Deps, key: str) -> dict[str, Any]:
    """Every field of one request and its status history, oldest first."""
    async with deps.uow() as tx:
        request = await _find(tx, key, lock=False)
        return {**record_of(request), "history": await _history(tx, request.id)}


# --- changing the status ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    request: dict[str, Any]  # the request after the change (record_of), with its history
    from_status: str
    to_status: str
    changed: bool  # False: a take of a request already assigned to the same engineer
    notified: tuple[str, ...]  # channels the resident is told by: "sms", "email"

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.request,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "changed": self.changed,
            "notified": list(self.notified),
        }


async def take_request(deps: Deps, key: str, *, actor: str) -> Change:
    """Assign the request to `actor`; status in_progress."""
    who = parse_actor(actor)

    async def change(
        tx: UnitOfWork, request: ConnectionRequest, before: RequestStatus
    ) -> tuple[str, ...] | None:
        if before == RequestStatus.IN_PROGRESS and request.assignee == who:
            return None  # already theirs: nothing to record
        request.assignee = who
        if before == RequestStatus.NEW and request.email_notifications:
            await _letter(
                tx, deps, request, kind="connection_request_taken", subject=texts.REQUEST_TAKEN_SUBJECT,
                template=texts.REQUEST_TAKEN_LETTER,
            )  # fmt: skip
            return ("email",)
        return ()

    return await _change_status(deps, key, RequestAction.TAKE, who, change)


async def resolve_request(deps: Deps, key: str, *, actor: str) -> Change:
    """The address is in the system now: status resolved; the resident is told by SMS and e-mail."""
    who = parse_actor(actor)

    async def change(tx: UnitOfWork, request: ConnectionRequest, _before: RequestStatus) -> tuple[str, ...]:
        request.assignee = request.assignee or who
        await queue_sms(
            tx, deps, phone=request.phone, kind="connection_request_resolved", text=texts.REQUEST_RESOLVED_SMS
        )
        await _letter(
            tx, deps, request, kind="connection_request_resolved", subject=texts.REQUEST_RESOLVED_SUBJECT,
            template=texts.REQUEST_RESOLVED_LETTER,
        )  # fmt: skip
        return ("sms", "email")

    return await _change_status(deps, key, RequestAction.RESOLVE, who, change)


async def reject_request(deps: Deps, key: str, *, actor: str, reason: str | None) -> Change:
    """Status rejected with the reason; the resident is told by SMS and e-mail, with the reason."""
    who = parse_actor(actor)
    why = parse_reason(reason)

    async def change(tx: UnitOfWork, request: ConnectionRequest, _before: RequestStatus) -> tuple[str, ...]:
        request.assignee = request.assignee or who
        request.reason = why
        short = why if len(why) <= SMS_REASON_MAX else why[: SMS_REASON_MAX - 1].rstrip() + "…"
        await queue_sms(
            tx, deps, phone=request.phone, kind="connection_request_rejected",
            text=texts.REQUEST_REJECTED_SMS.format(reason=short),
        )  # fmt: skip
        await _letter(
            tx, deps, request, kind="connection_request_rejected", subject=texts.REQUEST_REJECTED_SUBJECT,
            template=texts.REQUEST_REJECTED_LETTER, reason=why,
        )  # fmt: skip
        return ("sms", "email")

    return await _change_status(deps, key, RequestAction.REJECT, who, change, reason=why)


async def _change_status(
    deps: Deps,
    key: str,
    action: RequestAction,
    actor: str,
    change: Any,
    *,
    reason: str | None = None,
) -> Change:
    now = deps.clock.now()
    async with deps.uow() as tx:
        request = await _find(tx, key, lock=True)
        before = RequestStatus(request.status)
        after = next_status(before, action)  # INVALID_STATUS_CHANGE: nothing changes, nothing is sent
        notified = await change(tx, request, before)
        if notified is None:
            return Change(
                request={**record_of(request), "history": await _history(tx, request.id)},
                from_status=before.value,
                to_status=after.value,
                changed=False,
                notified=(),
            )
        # The history is ordered by time: under the request's lock, each event is later than the one before
        # (even when two hosts' clocks disagree, or a test's clock stands still).
        last = await tx.requests.last_event_at(request.id)
        at = now if last is None or now > _aware(last) else _aware(last) + timedelta(microseconds=1)
        request.status = after.value
        request.updated_at = at
        await tx.requests.add_event(
            ConnectionRequestEvent(
                request_id=request.id,
                from_status=before.value,
                to_status=after.value,
                actor=actor,
                reason=reason,
                at=at,
            )
        )
        result = Change(
            request={**record_of(request), "history": await _history(tx, request.id)},
            from_status=before.value,
            to_status=after.value,
            changed=True,
            notified=notified,
        )
        await tx.commit()
    log.info(
        "connection request %s: %s → %s by %s (%s told by %s)",
        request.id,
        before.value,
        after.value,
        actor,
        mask_phone(request.phone),
        ", ".join(notified) or "nothing",
    )
    return result


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def _letter(
    tx: UnitOfWork,
    deps: Deps,
    request: ConnectionRequest,
    *,
    kind: str,
    subject: str,
    template: str,
    reason: str | None = None,
) -> None:
    name = " ".join(p for p in (request.first_name, request.middle_name) if p)
    text = template.format(
        name=name,
        address=full_address(request.address, request.flat),
        phone=format_phone(request.phone),
        link=deps.settings.public_url,
        reason=reason or "",
    )
    await queue_email(tx, deps, to=request.email, kind=kind, subject=subject, text=text)
