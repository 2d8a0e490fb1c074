"""«Я забыл пароль» (SPEC §5, §11): `forgotPassword(login)` starts a PASSWORD_RESET flow at CODE.

The rest of the path is registration's: `confirmCode` → PASSWORD, `setPassword` → LOGIN (every session
ended, the lockout lifted), no session.

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

from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.flows import FlowKind
from eirc.domain.phone import mask_phone
from eirc.services import codes
from eirc.services.flows import FlowView, create_flow, view_of
from eirc.services.signin import find_user_by_login, parse_login
from eirc.services.throttle import throttle

if TYPE_CHECKING:
    from eirc.bootstrap import Container

log = logging.getLogger("eirc.recovery")

DECOY = "decoy"
PHONE_DISPLAY = "phone_display"


def _fake_masked_phone(c: Container, email: str) -> str:
    digest = c.secrets.mac("decoy-phone", email)
    digits = "".join(str(int(ch, 16) % 10) for ch in digest[:4])
    return f"+7 9{digits[0]}{digits[1]} ***-**-{digits[2]}{digits[3]}"


def _decoy_phone_key(c: Container, email: str) -> str:
    # Stored as the decoy flow's phone and used for its SMS caps: never a real number (it starts with "x").
    return "x" + c.secrets.mac("decoy-key", email)[:15]


async def forgot_password(c: Container, *, login: str | None, client_ip: str | None) -> FlowView:
    """A PASSWORD_RESET flow at CODE (the SMS queued), or a decoy that looks the same for an unknown login.

    A login that is neither a phone number nor an e-mail is refused as such (``INVALID_PHONE`` /
    ``INVALID_EMAIL``): it cannot belong to anyone, so saying so reveals nothing.
    """
    # Before anything else: an unknown login and a known one must be counted alike.
    await throttle(
        c,
        action="forgot",
        client_ip=client_ip,
        limit=c.settings.forgot_password_per_client_per_hour,
        window_seconds=3600,
        field="login",
    )
    text = (login or "").strip()
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "login")
    parsed = parse_login(text)
    if parsed.kind == "invalid":
        raise DomainError(ErrorCode.INVALID_EMAIL if "@" in text else ErrorCode.INVALID_PHONE, "login")

    async with c.uow() as tx:
        user = await find_user_by_login(tx, parsed)
        if user is not None and parsed.kind == "email" and not user.email_confirmed:
            user = None  # an unconfirmed e-mail is not a login (SPEC §4)
        if user is not None:
            data = {PHONE_DISPLAY: mask_phone(user.phone)} if parsed.kind == "email" else {}
            flow_id, row = await create_flow(
                tx, c, kind=FlowKind.PASSWORD_RESET, phone=user.phone, user_id=user.id, data=data
            )
        else:
            if parsed.kind == "email":
                phone = _decoy_phone_key(c, parsed.value)
                data = {DECOY: True, PHONE_DISPLAY: _fake_masked_phone(c, parsed.value)}
            else:
                phone, data = parsed.value, {DECOY: True}
            flow_id, row = await create_flow(tx, c, kind=FlowKind.PASSWORD_RESET, phone=phone, data=data)
        await codes.send_code(tx, c, row, client_ip=client_ip)
        await tx.commit()
    if user is not None:
        log.info("password reset started for user %s", user.id)
    else:
        log.info("password reset asked for an unknown login: decoy flow, no SMS")
    return view_of(flow_id, row, c)
