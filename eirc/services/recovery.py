"""«Я забыл пароль» (SPEC §5, §11): `forgotPassword(login)` starts a PASSWORD_RESET flow at CODE.

The rest of the path is registration's: `confirmCode` → PASSWORD, `setPassword` → LOGIN (every session
ended, the lockout lifted), no session — `setPassword` hands a reset flow to `complete_reset` here.

Enumeration: the answer must look the same whether or not the login belongs to someone. For an unknown
login (or an e-mail that is not confirmed, which is not a login) a *decoy* flow is created: a real flow row,
kind PASSWORD_RESET at CODE, with the same lifetime, the same resend countdown, the same SMS caps counted
(so ``SMS_LIMIT`` comes at the same moment) — but no SMS is queued and its code hash is the HMAC of a random
secret, so `confirmCode` answers ``INVALID_CODE`` (then ``CODE_ATTEMPTS_EXCEEDED``, ``CODE_EXPIRED``)
exactly as a real flow does to wrong codes. `resendCode` on a decoy sends nothing either (services.codes).

When the login is an e-mail the flow must not show the phone number it was sent to (anyone who knows the
address could read it): `flow.phone` is the masked number (``+7 916 ***-**-67``), kept in the flow's
`data["phone_display"]`. A decoy by e-mail shows a made-up masked number, derived from the address so that
asking twice shows the same one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from eirc.domain import flows as machine
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.flows import FlowKind, FlowStep
from eirc.domain.phone import mask_phone
from eirc.services import codes, lockout
from eirc.services.flows import FlowView, create_flow, state_of, store, view_of
from eirc.services.signin import find_user_by_login, parse_login
from eirc.services.throttle import throttle
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import Flow

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.recovery")

DECOY = "decoy"
PHONE_DISPLAY = "phone_display"


def _fake_masked_phone(deps: Deps, email: str) -> str:
    digest = deps.secrets.mac("decoy-phone", email)
    digits = "".join(str(int(ch, 16) % 10) for ch in digest[:4])
    return f"+7 9{digits[0]}{digits[1]} ***-**-{digits[2]}{digits[3]}"


def _decoy_phone_key(deps: Deps, email: str) -> str:
    # Stored as the decoy flow's phone and used for its SMS caps: never a real number (it starts with "x").
    return "x" + deps.secrets.mac("decoy-key", email)[:15]


async def forgot_password(deps: Deps, *, login: str | None, client_ip: str | None) -> FlowView:
    """A PASSWORD_RESET flow at CODE (the SMS queued), or a decoy that looks the same for an unknown login.

    A login that is neither a phone number nor an e-mail is refused as such (``INVALID_PHONE`` /
    ``INVALID_EMAIL``): it cannot belong to anyone, so saying so reveals nothing.
    """
    # Before anything else: an unknown login and a known one must be counted alike.
    await throttle(
        deps,
        action="forgot",
        client_ip=client_ip,
        limit=deps.settings.forgot_password_per_client_per_hour,
        window_seconds=3600,
        field="login",
    )
    text = (login or "").strip()
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "login")
    parsed = parse_login(text)
    if parsed.kind == "invalid":
        raise DomainError(ErrorCode.INVALID_EMAIL if "@" in text else ErrorCode.INVALID_PHONE, "login")

    async with deps.uow() as tx:
        user = await find_user_by_login(tx, parsed)
        if user is not None and parsed.kind == "email" and not user.email_confirmed:
            user = None  # an unconfirmed e-mail is not a login (SPEC §4)
        if user is not None:
            data = {PHONE_DISPLAY: mask_phone(user.phone)} if parsed.kind == "email" else {}
            flow_id, row = await create_flow(
                tx, deps, kind=FlowKind.PASSWORD_RESET, phone=user.phone, user_id=user.id, data=data
            )
        else:
            if parsed.kind == "email":
                phone = _decoy_phone_key(deps, parsed.value)
                data = {DECOY: True, PHONE_DISPLAY: _fake_masked_phone(deps, parsed.value)}
            else:
                phone, data = parsed.value, {DECOY: True}
            flow_id, row = await create_flow(tx, deps, kind=FlowKind.PASSWORD_RESET, phone=phone, data=data)
        await codes.send_code(tx, deps, row, client_ip=client_ip)
        wait = await codes.caps_wait(tx, deps, row)
        await tx.commit()
    if user is not None:
        log.info("password reset started for user %s", user.id)
    else:
        log.info("password reset asked for an unknown login: decoy flow, no SMS")
    return view_of(flow_id, row, deps, caps_wait=wait)


async def complete_reset(tx: UnitOfWork, deps: Deps, row: Flow, flow_id: str, password_hash: str) -> FlowView:
    """The password step of a PASSWORD_RESET flow (registration's `setPassword` hands it over, under the
    flow's lock): the new password, every session ended, the sign-in lock lifted (the phone was proven by
    SMS), the flow at LOGIN — and no session: the resident signs in with the new password."""
    now = deps.clock.now()
    if (row.data or {}).get(DECOY):  # cannot get here (its code never matches); never set a password
        raise DomainError(ErrorCode.FLOW_NOT_FOUND, "flowId")
    user = await tx.users.get(row.user_id) if row.user_id else None
    if user is None:
        user = await tx.users.by_phone(row.phone)
    if user is None:  # the user was removed meanwhile
        raise DomainError(ErrorCode.FLOW_NOT_FOUND, "flowId")
    user.password_hash = password_hash
    user.password_changed_at = now
    user.updated_at = now
    ended = await tx.sessions.end_all(user.id, now=now)
    await lockout.clear_user(tx, user.id)
    row.user_id = user.id
    store(row, machine.advance(state_of(row), FlowStep.LOGIN, now), now=now)
    log.info("password set by SMS for user %s (%d sessions ended)", user.id, ended)
    return view_of(flow_id, row, deps)
