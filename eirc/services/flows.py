"""Flow rows ↔ the domain state machine: create, load (locked), store, and the view the faces show.

The client holds the flow id (a random bearer token, `new_token`); the table keeps only its SHA-256, so a
database dump does not let anyone continue someone's registration. Every flow is bound to its phone.

Journeys other than registration use this module too: forgot-password creates a PASSWORD_RESET flow with
`create_flow` + `codes.send_code`; connection requests `load_flow(..., lock=True)`, check the step with
`domain.flows.require_step`, move with `domain.flows.advance` and `store`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from eirc.domain import flows as machine
from eirc.domain import funnel, limits
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.flows import FlowKind, FlowState, FlowStatus, FlowStep
from eirc.security import new_token, token_digest
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import Flow

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.flows")

MAX_FLOW_ID_LENGTH = limits.FLOW_ID

# Steps at which the proven account's address is shown (`Flow.address`).
ADDRESS_SHOWN_AT = frozenset({FlowStep.ADDRESS, FlowStep.PERSONAL, FlowStep.PASSWORD, FlowStep.DONE})

# Entered values a screen may prefill after «Назад» (keys of `Flow.data`).
ENTERED_KEYS = (
    "period",
    "account_number",
    "amount_due",
    "last_name",
    "first_name",
    "middle_name",
    "birth_date",
    "email",
    "email_notifications",
)


@dataclass(frozen=True)
class FlowView:
    """What a face shows of a flow (CONTRACT §3 `Flow`)."""

    id: str
    kind: FlowKind
    step: FlowStep
    phone: str
    expires_at: datetime
    resend_available_in_seconds: int
    address: str | None
    phone_verified: bool
    entered: dict[str, Any] = field(default_factory=dict)


def flow_key(flow_id: str) -> str:
    return token_digest(flow_id)


async def create_flow(
    tx: UnitOfWork,
    deps: Deps,
    *,
    kind: FlowKind,
    phone: str,
    user_id: str | None = None,
    step: FlowStep | None = None,
    phone_verified: bool = False,
    data: dict[str, Any] | None = None,
) -> tuple[str, Flow]:
    """A new flow in the caller's transaction; returns (the public id — shown once —, the row)."""
    now = deps.clock.now()
    state = machine.start(
        kind,
        expires_at=now + timedelta(seconds=deps.settings.flow_ttl_seconds),
        step=step,
        phone_verified=phone_verified,
    )
    flow_id = new_token()
    row = Flow(
        id=flow_key(flow_id),
        kind=state.kind.value,
        step=state.step.value,
        status=state.status.value,
        phone=phone,
        user_id=user_id,
        data=dict(data or {}),
        history=[],
        code_verified=state.phone_verified,
        created_at=now,
        updated_at=now,
        expires_at=state.expires_at,
        furthest_step=state.step.value if state.kind == FlowKind.REGISTRATION else None,
    )
    await tx.flows.add(row)
    return flow_id, row


async def find_flow(tx: UnitOfWork, flow_id: str | None, *, lock: bool) -> Flow | None:
    if not flow_id or len(flow_id) > MAX_FLOW_ID_LENGTH:
        return None
    return await tx.flows.get(flow_key(flow_id), lock=lock)


async def load_flow(tx: UnitOfWork, flow_id: str | None, *, now: datetime, lock: bool = True) -> Flow:
    """The live flow (``FLOW_NOT_FOUND`` unknown, malformed or cancelled; ``FLOW_EXPIRED``).

    With `lock` the row is locked for the transaction (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
    transactions are serialised already), so two racing requests of one flow run one after the other and
    the second sees the first one's step.
    """
    row = await find_flow(tx, flow_id, lock=lock)
    if row is None:
        raise DomainError(ErrorCode.FLOW_NOT_FOUND, "flowId")
    machine.check_alive(state_of(row), now)
    return row


def state_of(row: Flow) -> FlowState:
    return FlowState(
        kind=FlowKind(row.kind),
        step=FlowStep(row.step),
        expires_at=row.expires_at,
        status=FlowStatus(row.status),
        history=tuple(FlowStep(s) for s in row.history or ()),
        phone_verified=row.code_verified,
    )


def store(row: Flow, state: FlowState, *, now: datetime, data: dict[str, Any] | None = None) -> None:
    """Write a new state (and, optionally, entered values merged into `data`) onto the row; a registration
    also records its progress for the funnel (domain/funnel.py)."""
    moved = funnel.progress(
        row.kind, old_step=row.step, new_step=state.step.value, furthest_step=row.furthest_step
    )
    row.furthest_step = moved.furthest_step
    if moved.clear_error:
        row.last_error = None
    row.step = state.step.value
    row.status = state.status.value
    row.history = [s.value for s in state.history]  # a new list, so the JSON column is seen as changed
    row.code_verified = state.phone_verified
    if data:
        row.data = {**(row.data or {}), **data}
    row.updated_at = now
    row.version = (row.version or 0) + 1


def resend_wait(row: Flow, *, now: datetime, resend_seconds: int) -> int:
    """Seconds until «Отправить код повторно» is allowed (0 when it is, or when no code is pending)."""
    if row.code_sent_at is None or row.code_verified or row.step != FlowStep.CODE:
        return 0
    left = (row.code_sent_at + timedelta(seconds=resend_seconds) - now).total_seconds()
    return max(0, int(left + 0.999))


# After a failed account proof, what the resident typed comes back as the entered values (a screen keeps them).
_TRIED = {
    "period": "tried_period",
    "account_number": "tried_account_number",
    "amount_due": "tried_amount_due",
}


def view_of(flow_id: str, row: Flow, deps: Deps, *, caps_wait: int = 0) -> FlowView:
    """What the faces show of a flow. `caps_wait`: seconds until the per-number SMS caps allow another code
    (services.codes.caps_wait) — the resend countdown says when a resend will really be accepted."""
    data = row.data or {}
    step = FlowStep(row.step)
    entered = {k: data[k] for k in ENTERED_KEYS if data.get(k) is not None}
    if step == FlowStep.ACCOUNT:
        entered.update(
            {k: data[tried] for k, tried in _TRIED.items() if k not in entered and data.get(tried)}
        )
    wait = resend_wait(row, now=deps.clock.now(), resend_seconds=deps.settings.code_resend_seconds)
    return FlowView(
        id=flow_id,
        kind=FlowKind(row.kind),
        step=step,
        # a reset asked by e-mail shows the number masked (services.recovery), never in full
        phone=data.get("phone_display") or row.phone,
        expires_at=row.expires_at,
        resend_available_in_seconds=max(wait, caps_wait),
        address=data.get("address") if step in ADDRESS_SHOWN_AT else None,
        phone_verified=row.code_verified,
        entered=entered,
    )


def with_flow(exc: DomainError | Exception, view: FlowView) -> None:
    """Attach the flow's current view to an expected failure, so the payload can show where the flow is."""
    exc.flow = view  # type: ignore[attr-defined]


def failure_mark(row: Flow) -> tuple[str, str]:
    """What `note_failure` needs of the row, taken while its unit of work is open (a rollback expires it)."""
    return row.id, row.kind


async def note_failure(deps: Deps, mark: tuple[str, str] | None, exc: Exception) -> None:
    """Record the code of an expected failure on a registration flow, for the funnel (`eirc stats funnel`):
    in a transaction of its own, once the failed step's has ended (it held the flow's lock) — the code only,
    never a value. Bookkeeping: if it cannot be written, the resident still gets the step's answer."""
    if mark is None or mark[1] != FlowKind.REGISTRATION.value:
        return
    errors = getattr(exc, "errors", None) or [exc]
    code = getattr(errors[0], "code", None)
    if code is None:
        return
    try:
        async with deps.uow() as tx:
            await tx.flows.note_error(mark[0], str(code))
            await tx.commit()
    except Exception as failure:  # never let the funnel's bookkeeping change the answer
        log.warning("could not record %s on a flow for the funnel: %s", code, type(failure).__name__)
