"""E-mail confirmation (SPEC §6): a single-use, expiring link, by browser (`GET /confirm-email`) or by API.

The token in the link is a random bearer token; `email_token` keeps only its SHA-256 and the address it
confirms. The letter goes through the outbox with the token as its `{secret}` (encrypted while pending,
wiped once sent). Confirming answers the same ``INVALID_TOKEN`` whether the token is unknown, expired,
already used, or was issued for an address the user has since replaced — nothing tells them apart.

`send_confirmation` is what sign-in (re-sending on an unconfirmed login) and the profile (a new e-mail) call.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from eirc.delivery.messages import queue_email
from eirc.domain import limits, texts
from eirc.domain.errors import DomainError, ErrorCode
from eirc.security import new_token, token_digest
from eirc.services.ebills import resume_ebills
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import EmailToken, User

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.email")

EMAIL_CONFIRMATION_KIND = "email_confirmation"
MAX_TOKEN_LENGTH = limits.TOKEN


def confirmation_link(deps: Deps, token: str) -> str:
    return f"{deps.settings.public_url.rstrip('/')}/confirm-email?token={token}"


async def send_confirmation(tx: UnitOfWork, deps: Deps, *, user: User, now: datetime | None = None) -> None:
    """A new confirmation token for the user's current e-mail and the letter with its link (caller's tx).
    `now`: the time of the change that sends it (the clock's, if not given)."""
    if not user.email:
        raise ValueError("the user has no e-mail to confirm")
    now = now or deps.clock.now()
    ttl = deps.settings.email_token_ttl_seconds
    token = new_token()
    await tx.email_tokens.add(
        EmailToken(
            id=token_digest(token),
            user_id=user.id,
            email=user.email,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    user.email_letter_sent_at = now
    text = texts.EMAIL_CONFIRMATION_LETTER.format(
        name=" ".join(p for p in (user.first_name, user.middle_name) if p),
        link=confirmation_link(deps, "{secret}"),
        hours=max(1, ttl // 3600),
    )
    await queue_email(
        tx,
        deps,
        to=user.email,
        kind=EMAIL_CONFIRMATION_KIND,
        subject=texts.EMAIL_CONFIRMATION_SUBJECT,
        text=text,
        secret=token,
        ttl_seconds=ttl,  # a letter whose link is already dead is not sent
    )


async def confirm_email(deps: Deps, *, token: str | None) -> User:
    """Confirm the e-mail the token was issued for; the user, or ``INVALID_TOKEN``."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise DomainError(ErrorCode.INVALID_TOKEN, "token")
    now = deps.clock.now()
    digest = token_digest(token.strip())
    async with deps.uow() as tx:
        row = await tx.email_tokens.use(digest, now=now)  # single use even under a race
        if row is None:
            raise DomainError(ErrorCode.INVALID_TOKEN, "token")
        # Locked, and read afresh: a racing e-mail change (services.profile_changes locks the row too) is
        # either seen here (the token's address is no longer the user's) or waits for this confirmation.
        user = await tx.users.locked(row.user_id)
        if user is None or user.email != row.email:
            raise DomainError(ErrorCode.INVALID_TOKEN, "token")  # rolled back: the e-mail changed since
        if not user.email_confirmed:
            user.email_confirmed = True
            await resume_ebills(
                tx, deps, user
            )  # e-bills paused by an e-mail change go on (services.addresses)
        user.updated_at = now
        await tx.commit()
    log.info("e-mail confirmed for user %s", user.id)
    return user


# «мы отправили повторное письмо»: at most one confirmation letter per this many seconds.
EMAIL_RESEND_SECONDS = 300


def letter_wait(sent_at: datetime | None, now: datetime) -> int:
    """Seconds until another confirmation letter may go out (0: now)."""
    if sent_at is None:
        return 0
    left = (sent_at + timedelta(seconds=EMAIL_RESEND_SECONDS) - now).total_seconds()
    return max(0, int(left + 0.999))


async def resend_confirmation(tx: UnitOfWork, deps: Deps, *, user_id: str) -> bool:
    """Queue a new confirmation letter unless one went out in the last EMAIL_RESEND_SECONDS; whether it was.

    The throttle is one conditional UPDATE, so concurrent attempts in several processes send one letter.
    """
    now = deps.clock.now()
    since = now - timedelta(seconds=EMAIL_RESEND_SECONDS)
    if not await tx.users.claim_letter_slot(user_id, now=now, since=since):
        return False
    user = await tx.users.get(user_id)
    assert user is not None
    await send_confirmation(tx, deps, user=user)
    return True


async def resend_confirmation_email(deps: Deps, *, user_id: str) -> User:
    """«Отправить письмо ещё раз» in the profile: a new letter for an e-mail that is not confirmed yet — at most
    one per EMAIL_RESEND_SECONDS (``RATE_LIMITED``, the message says in how many seconds); a confirmed e-mail
    needs none (``EMAIL_ALREADY_CONFIRMED``). The user, as changed."""
    async with deps.uow() as tx:
        user = await tx.users.locked(user_id)
        if user is None:
            raise DomainError(ErrorCode.NOT_AUTHENTICATED)
        if not user.email:
            raise DomainError(ErrorCode.REQUIRED, "email")
        if user.email_confirmed:
            raise DomainError(ErrorCode.EMAIL_ALREADY_CONFIRMED, "email")
        if not await resend_confirmation(tx, deps, user_id=user.id):
            wait = letter_wait(user.email_letter_sent_at, deps.clock.now())
            raise DomainError(
                ErrorCode.RATE_LIMITED,
                "email",
                message=texts.EMAIL_LETTER_TOO_EARLY.format(seconds=max(1, wait)),
            )
        await tx.commit()
    log.info("confirmation letter sent again for user %s", user_id)
    return user
