"""Registration (SPEC §1, §2): the phone screen, the SMS code, the account, the address, personal data, the
password — and the end of a password reset (SPEC §5), which shares the code and password steps.

Each use case is one transaction over one flow, locked for its duration, so two racing requests of one flow
run one after the other and the second finds the flow already moved on (``WRONG_STEP``): two racing
completions never create two users (and the phone column is unique besides).

Expected failures are `DomainError`s; when the flow is known, the error carries its current view
(`exc.flow`) so the client can show where the flow stands.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from eirc.delivery.messages import queue_crm
from eirc.domain import flows as machine
from eirc.domain.errors import DomainError, DomainErrors, ErrorCode
from eirc.domain.flows import FlowKind, FlowStep
from eirc.domain.password import check_password, normalize_password
from eirc.domain.personal import PersonalData, local_today, parse_personal_data
from eirc.domain.phone import mask_phone, parse_phone
from eirc.services import accounts, codes, gosuslugi, sessions
from eirc.services.email_confirmation import send_confirmation
from eirc.services.flows import (
    FlowView,
    create_flow,
    failure_mark,
    find_flow,
    load_flow,
    note_failure,
    state_of,
    store,
    view_of,
    with_flow,
)
from eirc.services.profile import ProfileView, load_profile
from eirc.services.recovery import complete_reset
from eirc.services.throttle import count_call, throttle
from eirc.services.users import insert_user
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import Consent, Flow, User

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.registration")

# «Далее» on «Имя, e-mail» tells whether the e-mail is taken: at most this many times in one flow.
EMAIL_CHECKS_PER_FLOW = 10
CONSENT_PERSONAL_DATA = "personal_data"
CONSENT_TERMS = "terms"
CRM_REGISTRATION = "registration"


@dataclass(frozen=True)
class Completion:
    """The end of the password step: registration signs the resident in; a reset does not."""

    flow: FlowView
    session: sessions.IssuedSession | None = None
    profile: ProfileView | None = None


# --- the phone screen ---------------------------------------------------------------------------------------
async def start_phone(deps: Deps, *, phone: str | None, consent: bool, client_ip: str | None) -> FlowView:
    """«Далее» on the phone screen: REGISTRATION (SMS sent), LOGIN (no SMS) or PASSWORD_RESET (SMS sent)."""
    errors: list[DomainError] = []
    parsed = ""
    try:
        parsed = parse_phone(phone)
    except DomainError as exc:
        errors.append(exc)
    if not consent:
        errors.append(DomainError(ErrorCode.CONSENT_REQUIRED, "consent"))
    if errors:
        raise errors[0] if len(errors) == 1 else DomainErrors(errors)

    # The answer tells a registered number from a new one (SPEC §11): throttled per client address, the count
    # committed on its own before the work — it stands whatever the answer, and the client's counter row is
    # held for one statement, not for the whole phone screen (every resident behind one NAT shares it).
    await throttle(
        deps,
        action="start",
        client_ip=client_ip,
        limit=deps.settings.start_phone_per_client_per_hour,
        window_seconds=3600,
        field="phone",
    )
    now = deps.clock.now()
    async with deps.uow() as tx:
        flow_id, row, kind, wait = await _open_flow(tx, deps, parsed, client_ip, now)
        await tx.commit()
    log.info("flow %s started for %s", kind.value, mask_phone(parsed))
    return view_of(flow_id, row, deps, caps_wait=wait)


async def _open_flow(
    tx: UnitOfWork, deps: Deps, parsed: str, client_ip: str | None, now: datetime
) -> tuple[str, Flow, FlowKind, int]:
    """The flow of the phone screen's «Далее», its consent and (unless LOGIN) its SMS code."""
    user = await tx.users.by_phone(parsed)
    if user is None:
        kind = FlowKind.REGISTRATION
    elif user.password_hash:
        kind = FlowKind.LOGIN
    else:
        kind = FlowKind.PASSWORD_RESET  # imported without a password: set one by SMS first (SPEC §1, §5)
    flow_id, row = await create_flow(
        tx,
        deps,
        kind=kind,
        phone=parsed,
        user_id=user.id if user else None,
        data={"personal_data_consent_at": now.isoformat()},
    )
    await tx.consents.add(
        Consent(
            kind=CONSENT_PERSONAL_DATA,
            phone=parsed,
            flow_id=row.id,
            user_id=user.id if user else None,
            client_ip=client_ip,
            accepted_at=now,
        )
    )
    if kind != FlowKind.LOGIN:
        await codes.send_code(tx, deps, row, client_ip=client_ip)
    return flow_id, row, kind, await codes.caps_wait(tx, deps, row)


# --- one step of a flow -------------------------------------------------------------------------------------
Step = Callable[[UnitOfWork, Flow], Awaitable[Any]]


async def _run_step(deps: Deps, flow_id: str | None, step: Step) -> FlowView:
    """Load and lock the flow, run the step, commit; an expected failure carries the flow's view (and its
    code is recorded on the flow for the funnel, once the step's transaction has ended)."""
    mark = None
    try:
        async with deps.uow() as tx:
            row = await load_flow(tx, flow_id, now=deps.clock.now())
            try:
                await step(tx, row)
            except (DomainError, DomainErrors) as exc:
                mark = failure_mark(row)
                with_flow(
                    exc, view_of(flow_id or "", row, deps, caps_wait=await codes.caps_wait(tx, deps, row))
                )
                raise
            wait = await codes.caps_wait(tx, deps, row)
            await tx.commit()
    except (DomainError, DomainErrors) as exc:
        await note_failure(deps, mark, exc)
        raise
    return view_of(flow_id or "", row, deps, caps_wait=wait)


def _move(deps: Deps, row: Flow, to: FlowStep, data: dict[str, Any] | None = None) -> None:
    now = deps.clock.now()
    store(row, machine.advance(state_of(row), to, now), now=now, data=data)


def _require(deps: Deps, row: Flow, step: FlowStep) -> None:
    machine.require_step(state_of(row), step, deps.clock.now())


async def get_flow(deps: Deps, *, flow_id: str | None) -> FlowView | None:
    """The flow, or None when unknown, malformed, cancelled or expired."""
    async with deps.uow() as tx:
        row = await find_flow(tx, flow_id, lock=False)
        if row is None:
            return None
        try:
            machine.check_alive(state_of(row), deps.clock.now())
        except DomainError:
            return None
        return view_of(flow_id or "", row, deps, caps_wait=await codes.caps_wait(tx, deps, row))


async def resend_code(deps: Deps, *, flow_id: str | None, client_ip: str | None) -> FlowView:
    async def step(tx: UnitOfWork, row: Flow) -> None:
        _require(deps, row, FlowStep.CODE)
        if row.code_verified:  # back at CODE with the number already confirmed: nothing to send
            raise DomainError(ErrorCode.WRONG_STEP, "flowId")
        await codes.resend_code(tx, deps, row, client_ip=client_ip)

    return await _run_step(deps, flow_id, step)


async def confirm_code(deps: Deps, *, flow_id: str | None, code: str | None) -> FlowView:
    """«Подтвердить номер». Back at CODE after the number was confirmed, it moves on without a code."""

    async def step(tx: UnitOfWork, row: Flow) -> None:
        _require(deps, row, FlowStep.CODE)
        if not row.code_verified:
            try:
                codes.verify_code(deps, row, code)
            except DomainError as exc:
                if exc.code == ErrorCode.INVALID_CODE:
                    await tx.commit()  # the wrong try counts
                raise
        _move(deps, row, FlowStep.ACCOUNT if row.kind == FlowKind.REGISTRATION else FlowStep.PASSWORD)

    return await _run_step(deps, flow_id, step)


async def prove_account(
    deps: Deps,
    *,
    flow_id: str | None,
    period: str | None,
    account_number: str | None,
    amount_due: str | None,
    client_ip: str | None = None,
) -> FlowView:
    async def step(tx: UnitOfWork, row: Flow) -> None:
        _require(deps, row, FlowStep.ACCOUNT)
        # Guessing is bounded per flow and per phone (services.accounts); per client address besides, so one
        # source cannot spread its guesses over many flows. Counted first, and the count stands.
        if await count_call(
            tx,
            deps,
            action="prove",
            client_ip=client_ip,
            limit=deps.settings.prove_account_per_client_per_hour,
            window_seconds=3600,
        ):
            await tx.commit()
            raise DomainError(ErrorCode.RATE_LIMITED, "accountNumber")
        # What was tried, kept with the flow: a failed proof commits (it counts), and a connection request
        # filed next carries the account the resident tried (services.connection_requests).
        row.data = {
            **(row.data or {}),
            "tried_account_number": accounts.normalize_account_number(account_number),
            "tried_period": (period or "").strip(),
            "tried_amount_due": (amount_due or "").strip(),
        }
        proven = await accounts.prove_account(
            tx,
            deps,
            period=period,
            account_number=account_number,
            amount_due=amount_due,
            limiter_keys=(f"acct:flow:{row.id}", f"acct:phone:{row.phone}"),
        )
        _move(
            deps,
            row,
            FlowStep.ADDRESS,
            {
                "period": proven.period,
                "account_number": proven.account_number,
                "amount_due": proven.amount_due,
                "amount_kopecks": proven.amount_kopecks,
                "address": proven.address,
            },
        )

    return await _run_step(deps, flow_id, step)


async def confirm_address(deps: Deps, *, flow_id: str | None) -> FlowView:
    async def step(_tx: UnitOfWork, row: Flow) -> None:
        _require(deps, row, FlowStep.ADDRESS)
        _move(deps, row, FlowStep.PERSONAL)

    return await _run_step(deps, flow_id, step)


async def set_personal_data(
    deps: Deps,
    *,
    flow_id: str | None,
    last_name: str | None,
    first_name: str | None,
    middle_name: str | None,
    birth_date: date | None,
    email: str | None,
    email_notifications: bool,
    client_ip: str | None,
) -> FlowView:
    """«Далее» on «Регистрация: личные данные»: also the acceptance of the terms of use, recorded.

    Whether an e-mail is taken is told only within limits — per flow and per client address, counted before
    the answer and committed whatever it is (`_email_checks_over`) — so this step leaks registered e-mails no
    faster than the phone screen does registered numbers (SPEC §11)."""

    async def step(tx: UnitOfWork, row: Flow) -> None:
        _require(deps, row, FlowStep.PERSONAL)
        now = deps.clock.now()
        personal = parse_personal_data(
            last_name=last_name,
            first_name=first_name,
            middle_name=middle_name,
            birth_date=birth_date,
            email=email,
            email_notifications=email_notifications,
            today=local_today(now),
        )
        if await _email_checks_over(tx, deps, row, client_ip):
            await tx.commit()
            raise DomainError(ErrorCode.RATE_LIMITED, "email")
        if await tx.users.email_taken(personal.email):
            await tx.commit()  # the check counted
            raise DomainError(ErrorCode.EMAIL_TAKEN, "email")
        version = deps.settings.terms_version
        await tx.consents.add(
            Consent(
                kind=CONSENT_TERMS,
                phone=row.phone,
                flow_id=row.id,
                terms_version=version,
                client_ip=client_ip,
                accepted_at=now,
            )
        )
        _move(
            deps,
            row,
            FlowStep.PASSWORD,
            {
                "last_name": personal.last_name,
                "first_name": personal.first_name,
                "middle_name": personal.middle_name,
                "birth_date": personal.birth_date.isoformat() if personal.birth_date else None,
                "email": personal.email,
                "email_notifications": personal.email_notifications,
                "terms_version": version,
                "terms_accepted_at": now.isoformat(),
            },
        )

    return await _run_step(deps, flow_id, step)


async def _email_checks_over(tx: UnitOfWork, deps: Deps, row: Flow, client_ip: str | None) -> bool:
    """Count one e-mail check of the flow (a well-formed e-mail: a malformed one is refused as it is, telling
    nothing); whether a limit is passed: EMAIL_CHECKS_PER_FLOW in the flow's life, the phone screen's
    `EIRC_START_PHONE_PER_CLIENT_PER_HOUR` per client address."""
    hits = [(f"personal:email:flow:{row.id}", deps.settings.flow_ttl_seconds)]
    if client_ip:
        hits.append((f"personal:email:client:{client_ip}", 3600))
    windows = await tx.counters.hit_many(hits, now=deps.clock.now())
    over = windows[hits[0][0]].count > EMAIL_CHECKS_PER_FLOW or (
        client_ip is not None and windows[hits[1][0]].count > deps.settings.start_phone_per_client_per_hour
    )
    if over:
        log.info("e-mail checks refused for %s: over the limits", mask_phone(row.phone))
    return over


async def go_back(deps: Deps, *, flow_id: str | None) -> FlowView:
    async def step(_tx: UnitOfWork, row: Flow) -> None:
        now = deps.clock.now()
        store(row, machine.back(state_of(row), now), now=now)

    return await _run_step(deps, flow_id, step)


async def cancel_flow(deps: Deps, *, flow_id: str | None) -> None:
    async def step(_tx: UnitOfWork, row: Flow) -> None:
        now = deps.clock.now()
        store(row, machine.cancel(state_of(row), now), now=now)

    await _run_step(deps, flow_id, step)


# --- the password step: completion ---------------------------------------------------------------------------
async def set_password(
    deps: Deps,
    *,
    flow_id: str | None,
    password: str | None,
    client_ip: str | None = None,
    user_agent: str | None = None,
    with_profile: bool = True,
) -> Completion:
    """Registration: the user, their primary address, a session, the letter and «Домопульт», in ONE
    transaction. Password reset: the new password, every session ended, the flow at LOGIN, no session.
    `with_profile`: read the new resident's profile for the answer (a client that does not select it saves
    the read)."""
    mark = None
    try:
        # Cheap checks first, so a wrong-step or weak password never costs an argon2 hash.
        async with deps.uow() as tx:
            row = await load_flow(tx, flow_id, now=deps.clock.now(), lock=False)
            try:
                _require(deps, row, FlowStep.PASSWORD)
                check_password(password)
            except DomainError as exc:
                mark = failure_mark(row)
                with_flow(exc, view_of(flow_id or "", row, deps))
                raise
        assert password is not None
        password_hash = await deps.hasher.hash(normalize_password(password))  # in the hasher's thread pool

        async with deps.uow() as tx:
            row = await load_flow(tx, flow_id, now=deps.clock.now())
            try:
                _require(deps, row, FlowStep.PASSWORD)  # again, under the lock: a racing twin may have finished
                if row.kind == FlowKind.REGISTRATION:
                    completion = await _complete_registration(
                        tx, deps, row, flow_id or "", password_hash, client_ip, user_agent, with_profile
                    )
                else:
                    completion = Completion(
                        flow=await complete_reset(tx, deps, row, flow_id or "", password_hash)
                    )
            except (DomainError, DomainErrors) as exc:
                # Nothing of the refused completion stands (a taken phone may have failed the insert itself):
                # the flow is shown as it is stored.
                await tx.rollback()
                row = await load_flow(tx, flow_id, now=deps.clock.now(), lock=False)
                mark = failure_mark(row)
                with_flow(exc, view_of(flow_id or "", row, deps))
                raise
            await tx.commit()
    except (DomainError, DomainErrors) as exc:
        await note_failure(deps, mark, exc)  # a registration's, for the funnel
        raise
    return completion


def _personal_from(data: dict[str, Any]) -> PersonalData:
    birth = data.get("birth_date")
    return PersonalData(
        last_name=data["last_name"],
        first_name=data["first_name"],
        middle_name=data.get("middle_name"),
        birth_date=date.fromisoformat(birth) if birth else None,
        email=data["email"],
        email_notifications=bool(data.get("email_notifications")),
    )


async def _complete_registration(
    tx: UnitOfWork,
    deps: Deps,
    row: Flow,
    flow_id: str,
    password_hash: str,
    client_ip: str | None,
    user_agent: str | None,
    with_profile: bool,
) -> Completion:
    now = deps.clock.now()
    data = dict(row.data or {})
    user = await insert_user(
        tx,
        deps,
        phone=row.phone,
        personal=_personal_from(data),
        password_hash=password_hash,
        source="registration",
        account_number=data["account_number"],
        letter_at=now,  # send_confirmation below: its time is written with the user, not after
    )
    await gosuslugi.link_new_user(tx, deps, user, data)  # a flow started by «Вход через портал Госуслуги»
    await tx.consents.attach_user(row.id, user.id)
    issued = await sessions.create_session(
        tx,
        user_id=user.id,
        now=now,
        ttl_seconds=deps.settings.session_ttl_seconds,
        client_ip=client_ip,
        user_agent=user_agent,
    )
    await send_confirmation(tx, deps, user=user, now=now)
    await queue_crm(
        tx, deps, type=CRM_REGISTRATION, data=registration_record(row, user, now=now), occurred_at=now
    )
    row.user_id = user.id
    _move(deps, row, FlowStep.DONE)
    profile = await load_profile(tx, user) if with_profile else None
    log.info("registration completed: user %s, %s", user.id, mask_phone(row.phone))
    return Completion(flow=view_of(flow_id, row, deps), session=issued, profile=profile)


def registration_record(row: Flow, user: User, *, now: Any) -> dict[str, Any]:
    """What «Домопульт» receives (SPEC §7): every field the resident entered — never the password."""
    data = row.data or {}
    return {
        "user_id": user.id,
        "registered_at": now.isoformat(),
        "phone": row.phone,
        "last_name": user.last_name,
        "first_name": user.first_name,
        "middle_name": user.middle_name,
        "birth_date": user.birth_date.isoformat() if user.birth_date else None,
        "email": user.email,
        "email_confirmed": user.email_confirmed,
        "email_notifications": user.email_notifications,
        "account_number": data.get("account_number"),
        "period": data.get("period"),
        "amount_due": data.get("amount_due"),
        "amount_due_kopecks": data.get("amount_kopecks"),
        "address": data.get("address"),
        "personal_data_consent_at": data.get("personal_data_consent_at"),
        "terms_version": data.get("terms_version"),
        "terms_accepted_at": data.get("terms_accepted_at"),
    }
