"""SMS codes (SPEC §2 step 2, §11): send, resend after a cooldown, verify with a few attempts.

- `EIRC_CODE_LENGTH` digits from a CSPRNG; stored only as an HMAC bound to the flow and its phone, so a
  code is useless in any other flow and a database dump does not reveal it;
- it expires after `EIRC_CODE_TTL_SECONDS` (``CODE_EXPIRED``), dies after `EIRC_CODE_MAX_ATTEMPTS` wrong
  tries (``CODE_ATTEMPTS_EXCEEDED`` until a new code is sent) and is single-use;
- a new code only after `EIRC_CODE_RESEND_SECONDS` (``RESEND_TOO_EARLY``, «… через N сек.»);
- sends are capped per number per hour and per day (``SMS_LIMIT``), per client address per hour and by a
  global hourly budget (``RATE_LIMITED``; the budget is logged when reached) — database counters, so the
  caps hold across gateway processes. A refused send rolls the caller's transaction back, so nothing of it
  counts;
- the SMS goes through the outbox in the caller's transaction with the code as its `{secret}`, and it is
  useless after the code's lifetime.

Used by registration and by forgot-password (`send_code` on a PASSWORD_RESET flow, then `verify_code`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from eirc.delivery.messages import queue_sms_code
from eirc.domain import limits
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.flows import FlowStep
from eirc.domain.phone import mask_phone
from eirc.security import new_code, new_token
from eirc.services.flows import resend_wait
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import Flow

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.codes")

HOUR = 3600
GLOBAL_SMS_KEY = "sms:global:h"  # the global hourly SMS budget's counter (also read by /metrics)
DAY = 86400
MAX_CODE_LENGTH = limits.SMS_CODE


def code_digest(deps: Deps, row: Flow, code: str) -> str:
    return deps.secrets.mac("sms-code", row.id, row.phone, code)


async def check_sms_caps(
    tx: UnitOfWork, deps: Deps, *, phone: str, client_ip: str | None, now: datetime
) -> None:
    """Count one SMS to `phone` against every cap, or refuse (the caller's transaction then rolls back)."""
    s = deps.settings
    caps: list[tuple[str, float, int, ErrorCode]] = [
        (f"sms:phone:h:{phone}", HOUR, s.sms_per_hour, ErrorCode.SMS_LIMIT),
        (f"sms:phone:d:{phone}", DAY, s.sms_per_day, ErrorCode.SMS_LIMIT),
    ]
    if client_ip:
        caps.append((f"sms:client:h:{client_ip}", HOUR, s.sms_per_client_per_hour, ErrorCode.RATE_LIMITED))
    caps.append((GLOBAL_SMS_KEY, HOUR, s.sms_global_per_hour, ErrorCode.RATE_LIMITED))
    windows = await tx.counters.hit_many([(key, window) for key, window, _limit, _code in caps], now=now)
    for key, _window, limit, code in caps:  # the caps in this order: the first one passed is the answer
        hit = windows[key]
        if hit.count > limit:
            if key == GLOBAL_SMS_KEY:
                log.warning("global SMS budget of %s per hour reached: sends refused", limit)
            else:
                log.info("SMS refused by cap %s for %s", key.rsplit(":", 1)[0], mask_phone(phone))
            raise DomainError(code, "phone" if code == ErrorCode.SMS_LIMIT else None)


async def caps_wait(tx: UnitOfWork, deps: Deps, row: Flow) -> int:
    """Seconds until the per-number caps would allow one more SMS to the flow's phone (0: they do, or the
    flow is not waiting for a code)."""
    if row.step != FlowStep.CODE or row.code_verified or row.code_sent_at is None:
        return 0
    s = deps.settings
    now = deps.clock.now()
    limits_of = {f"sms:phone:h:{row.phone}": s.sms_per_hour, f"sms:phone:d:{row.phone}": s.sms_per_day}
    windows = await tx.counters.peek_many(list(limits_of), now=now)
    return max(
        (w.seconds_left(now) for key, w in windows.items() if w.count >= limits_of[key]),
        default=0,
    )


async def send_code(tx: UnitOfWork, deps: Deps, row: Flow, *, client_ip: str | None) -> None:
    """A fresh code for the flow (the previous one dies), queued as an SMS in the caller's transaction."""
    now = deps.clock.now()
    code = new_code(deps.settings.code_length)
    ttl = deps.settings.code_ttl_seconds
    # A decoy (forgotPassword for an unknown login, services.recovery): the same caps and timings, but no
    # SMS and a hash no typed code can match, so confirmCode answers as to a wrong code.
    decoy = bool((row.data or {}).get("decoy"))
    before = (row.code_hash, row.code_sent_at, row.code_expires_at, row.code_attempts)
    row.code_hash = code_digest(deps, row, new_token() if decoy else code)
    row.code_sent_at = now
    row.code_expires_at = now + timedelta(seconds=ttl)
    row.code_attempts = 0
    if not decoy:
        await queue_sms_code(tx, deps, phone=row.phone, code=code, ttl_seconds=ttl)
    # Everything of this send written first: the caps are the transaction's last write, so their rows — the
    # region's SMS budget is one row for every send — stay locked only until the caller commits.
    await tx.flush()
    try:
        await check_sms_caps(tx, deps, phone=row.phone, client_ip=client_ip, now=now)
    except DomainError:  # refused: the caller rolls back; the flow it answers with keeps its previous code
        row.code_hash, row.code_sent_at, row.code_expires_at, row.code_attempts = before
        raise
    if not decoy:
        log.info("SMS code queued for %s", mask_phone(row.phone))


async def resend_code(tx: UnitOfWork, deps: Deps, row: Flow, *, client_ip: str | None) -> None:
    wait = resend_wait(row, now=deps.clock.now(), resend_seconds=deps.settings.code_resend_seconds)
    if wait > 0:
        raise DomainError(ErrorCode.RESEND_TOO_EARLY, None, params={"seconds": wait})
    await send_code(tx, deps, row, client_ip=client_ip)


def verify_code(deps: Deps, row: Flow, code: str | None) -> None:
    """Check a typed code against the flow's; a wrong one uses up an attempt (the caller commits it).

    Order: empty → ``REQUIRED`` (no attempt used); no live code (none sent, or already used) or past its
    lifetime → ``CODE_EXPIRED``; attempts used up → ``CODE_ATTEMPTS_EXCEEDED`` (checked before comparing,
    so the limit cannot be outrun); wrong → ``INVALID_CODE``. Success makes the code single-use.
    """
    typed = "".join((code or "").split())
    if not typed:
        raise DomainError(ErrorCode.REQUIRED, "code")
    if len(typed) > MAX_CODE_LENGTH:
        raise DomainError(ErrorCode.TOO_LONG, "code")
    now = deps.clock.now()
    if row.code_hash is None or row.code_expires_at is None or now >= row.code_expires_at:
        raise DomainError(ErrorCode.CODE_EXPIRED, "code")
    if row.code_attempts >= deps.settings.code_max_attempts:
        raise DomainError(ErrorCode.CODE_ATTEMPTS_EXCEEDED, "code")
    if not deps.secrets.mac_equals(row.code_hash, "sms-code", row.id, row.phone, typed):
        row.code_attempts += 1
        raise DomainError(ErrorCode.INVALID_CODE, "code")
    row.code_hash = None
    row.code_expires_at = None
    row.code_verified = True
