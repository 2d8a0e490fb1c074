"""Connection requests from the resident's side (SPEC §3): «Заявка» at the account step, then the form.

- `open_connection_request`: a REGISTRATION flow whose phone is verified, at ACCOUNT (after a failed proof
  or straight away) → CONNECTION_REQUEST. Pressing it twice is harmless (the flow stays there). «Назад»
  (`registration.go_back`) returns to ACCOUNT.
- `submit_connection_request`: the form (domain.requests), the phone verified in the flow, the account the
  resident tried (if any). In ONE transaction: the request (status new) with its first event, the
  «Домопульт» delivery (type ``connection_request``, every field entered), the flow at DONE.

A flow files at most one request (the ``flow_id`` column is unique). A second submission of the same flow —
a retry after a lost answer, a double tap, a racing twin — answers the same request id and changes
nothing, whatever it holds: the first submission stands (support can see and change the rest).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eirc.delivery.messages import queue_crm
from eirc.domain import flows as machine
from eirc.domain.errors import DomainError, DomainErrors, ErrorCode
from eirc.domain.flows import FlowKind, FlowStep
from eirc.domain.phone import mask_phone
from eirc.domain.requests import RequestForm, RequestStatus, full_address, parse_request_form
from eirc.services.flows import (
    FlowView,
    failure_mark,
    find_flow,
    load_flow,
    note_failure,
    state_of,
    store,
    view_of,
    with_flow,
)
from eirc.storage.db import UnitOfWork
from eirc.storage.repository import Conflict
from eirc.storage.tables import ConnectionRequest, ConnectionRequestEvent, Flow

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.connection_requests")

CRM_CONNECTION_REQUEST = "connection_request"
RESIDENT_ACTOR = "resident"
_PERIOD = re.compile(r"[0-9]{4}-[0-9]{2}")


@dataclass(frozen=True)
class Submitted:
    request_id: str
    flow: FlowView
    created: bool  # False: an earlier submission of this flow is answered again


def _require_verified_registration(row: Flow) -> None:
    """Only a resident registering, with the phone proven by SMS (or by Госуслуги), may file a request."""
    if row.kind != FlowKind.REGISTRATION.value or not row.code_verified:
        raise DomainError(ErrorCode.WRONG_STEP, "flowId")


async def open_connection_request(deps: Deps, *, flow_id: str | None) -> FlowView:
    """«Заявка» on the account screen → CONNECTION_REQUEST."""
    now = deps.clock.now()
    mark = None
    try:
        async with deps.uow() as tx:
            row = await load_flow(tx, flow_id, now=now)
            try:
                _require_verified_registration(row)
                state = state_of(row)
                if state.step == FlowStep.CONNECTION_REQUEST and not state.finished:
                    return view_of(flow_id or "", row, deps)  # pressed twice: already there
                store(row, machine.advance(state, FlowStep.CONNECTION_REQUEST, now), now=now)
            except DomainError as exc:
                mark = failure_mark(row)
                with_flow(exc, view_of(flow_id or "", row, deps))
                raise
            await tx.commit()
    except DomainError as exc:
        await note_failure(deps, mark, exc)  # for the funnel
        raise
    return view_of(flow_id or "", row, deps)


async def submit_connection_request(
    deps: Deps,
    *,
    flow_id: str | None,
    last_name: str | None,
    first_name: str | None,
    middle_name: str | None,
    address: str | None,
    flat: str | None,
    email: str | None,
    email_notifications: bool,
) -> Submitted:
    """«Отправить заявку». Expected failures carry the flow's view (`exc.flow`)."""
    try:
        return await _submit(
            deps,
            flow_id,
            dict(
                last_name=last_name,
                first_name=first_name,
                middle_name=middle_name,
                address=address,
                flat=flat,
                email=email,
                email_notifications=email_notifications,
            ),
        )
    except Conflict:
        # A twin submission of the same flow committed first (the unique flow_id): answer its request.
        async with deps.uow() as tx:
            row = await find_flow(tx, flow_id, lock=False)
            existing = await tx.requests.of_flow(row.id) if row is not None else None
            if row is None or existing is None:
                raise
            log.info("connection request %s: a racing twin submission answered with it", existing.id)
            return Submitted(request_id=existing.id, flow=view_of(flow_id or "", row, deps), created=False)


async def _submit(deps: Deps, flow_id: str | None, fields: dict[str, Any]) -> Submitted:
    mark: list[tuple[str, str]] = []
    try:
        return await _submit_once(deps, flow_id, fields, mark)
    except (DomainError, DomainErrors) as exc:
        await note_failure(deps, mark[0] if mark else None, exc)  # for the funnel
        raise


async def _submit_once(
    deps: Deps, flow_id: str | None, fields: dict[str, Any], mark: list[tuple[str, str]]
) -> Submitted:
    now = deps.clock.now()
    async with deps.uow() as tx:
        row = await find_flow(tx, flow_id, lock=True)
        if row is None:
            raise DomainError(ErrorCode.FLOW_NOT_FOUND, "flowId")
        existing = await tx.requests.of_flow(row.id)
        if existing is not None:  # filed already (even if the flow has expired since): the same answer
            return Submitted(request_id=existing.id, flow=view_of(flow_id or "", row, deps), created=False)
        state = state_of(row)
        machine.check_alive(state, now)  # cancelled or expired: no flow to show
        try:
            machine.require_step(state, FlowStep.CONNECTION_REQUEST, now)
            _require_verified_registration(row)
            form = parse_request_form(**fields)
            request = await _store_request(tx, deps, row, form)
            store(
                row,
                machine.advance(state, FlowStep.DONE, now),
                now=now,
                data={
                    # what `flow` shows once done: the entered values, the address as the resident gave it
                    "last_name": form.last_name,
                    "first_name": form.first_name,
                    "middle_name": form.middle_name,
                    "email": form.email,
                    "email_notifications": form.email_notifications,
                    "address": full_address(form.address, form.flat),
                    "connection_request_id": request.id,
                },
            )
        except (DomainError, DomainErrors) as exc:
            mark.append(failure_mark(row))
            with_flow(exc, view_of(flow_id or "", row, deps))
            raise
        await tx.commit()
    log.info("connection request %s filed for %s", request.id, mask_phone(row.phone))
    return Submitted(request_id=request.id, flow=view_of(flow_id or "", row, deps), created=True)


def _tried(data: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """The account number, period and amount of the resident's last account proof in this flow, if any."""
    number = (data.get("tried_account_number") or "")[:64] or None
    period = data.get("tried_period") or ""
    amount = (data.get("tried_amount_due") or "")[:64] or None
    if number is None:
        return None, None, None
    return number, period if _PERIOD.fullmatch(period) else None, amount


async def _store_request(tx: UnitOfWork, deps: Deps, row: Flow, form: RequestForm) -> ConnectionRequest:
    now = deps.clock.now()
    data = row.data or {}
    account_number, period, amount_due = _tried(data)
    request = ConnectionRequest(
        flow_id=row.id,
        phone=row.phone,
        last_name=form.last_name,
        first_name=form.first_name,
        middle_name=form.middle_name,
        address=form.address,
        flat=form.flat,
        email=form.email,
        email_notifications=form.email_notifications,
        account_number=account_number,
        account_period=period,
        account_amount_due=amount_due,
        status=RequestStatus.NEW.value,
        created_at=now,
        updated_at=now,
    )
    await tx.requests.add(  # a twin's request surfaces here as a Conflict (the unique flow_id)
        request,
        ConnectionRequestEvent(
            request_id="", from_status=None, to_status=RequestStatus.NEW.value, actor=RESIDENT_ACTOR, at=now
        ),
    )
    account_known = await tx.billing.account(account_number) is not None if account_number else None
    await queue_crm(
        tx,
        deps,
        type=CRM_CONNECTION_REQUEST,
        data=crm_record(
            request, account_known=account_known, consent_at=data.get("personal_data_consent_at")
        ),
        occurred_at=now,
    )
    return request


def crm_record(
    request: ConnectionRequest, *, account_known: bool | None, consent_at: str | None
) -> dict[str, Any]:
    """What «Домопульт» receives (SPEC §7): every field the resident entered, the verified phone, the id."""
    return {
        "request_id": request.id,
        "submitted_at": request.created_at.isoformat(),
        "status": request.status,
        "phone": request.phone,
        "last_name": request.last_name,
        "first_name": request.first_name,
        "middle_name": request.middle_name,
        "address": request.address,
        "flat": request.flat,
        "email": request.email,
        "email_notifications": request.email_notifications,
        "account_number": request.account_number,
        "period": request.account_period,
        "amount_due": request.account_amount_due,
        "account_known": account_known,
        "personal_data_consent_at": consent_at,
    }
