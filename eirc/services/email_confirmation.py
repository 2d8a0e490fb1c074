"""E-mail confirmation (SPEC §6): a single-use, expiring link, by browser (`GET /confirm-email`) or by API.

The token in the link is a random bearer token; `email_token` keeps only its SHA-256 and the address it
confirms. The letter goes through the outbox with the token as its `{secret}` (encrypted while pending,
wiped once sent). Confirming answers the same ``INVALID_TOKEN`` whether the token is unknown, expired,
already used, or was issued for an address the user has since replaced — nothing tells them apart.

`send_confirmation` is what sign-in (re-sending on an unconfirmed login) and the profile (a new e-mail) call.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from eirc.delivery.messages import queue_email
from eirc.domain import limits, texts
from eirc.domain.errors import DomainError, ErrorCode
from eirc.security import new_token, token_digest
from eirc.services.addresses import resume_ebills
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import EmailToken, User

if TYPE_CHECKING:
    from eirc.bootstrap import Container

log = logging.getLogger("eirc.email")

EMAIL_CONFIRMATION_KIND = "email_confirmation"
MAX_TOKEN_LENGTH = limits.TOKEN


def confirmation_link(c: Container, token: str) -> str:
    return f"{c.settings.public_url.rstrip('/')}/confirm-email?token={token}"


async def send_confirmation(tx: UnitOfWork, c: Container, *, user: User) -> None:
    """A new confirmation token for the user's current e-mail and the letter with its link (caller's tx)."""
    if not user.email:
        raise ValueError("the user has no e-mail to confirm")
    now = c.clock.now()
    ttl = c.settings.email_token_ttl_seconds
    token = new_token()
    tx.session.add(
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
        link=confirmation_link(c, "{secret}"),
        hours=max(1, ttl // 3600),
    )
    await queue_email(
        tx,
        c,
        to=user.email,
        kind=EMAIL_CONFIRMATION_KIND,
        subject=texts.EMAIL_CONFIRMATION_SUBJECT,
        text=text,
        secret=token,
        ttl_seconds=ttl,  # a letter whose link is already dead is not sent
    )


async def confirm_email(c: Container, *, token: str | None) -> User:
    """Confirm the e-mail the token was issued for; the user, or ``INVALID_TOKEN``."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise DomainError(ErrorCode.INVALID_TOKEN, "token")
    now = c.clock.now()
    digest = token_digest(token.strip())
    async with c.uow() as tx:
        # Single use even under a race: only the request that flips used_at goes on.
        used = await tx.session.execute(
            update(EmailToken)
            .where(EmailToken.id == digest, EmailToken.used_at.is_(None), EmailToken.expires_at > now)
            .values(used_at=now)
        )
        if not used.rowcount:
            raise DomainError(ErrorCode.INVALID_TOKEN, "token")
        row = (await tx.session.execute(select(EmailToken).where(EmailToken.id == digest))).scalar_one()
        # Locked, and read afresh: a racing e-mail change (services.profile locks the row too) is either
        # seen here (the token's address is no longer the user's) or waits for this confirmation.
        user = (
            await tx.session.execute(select(User).where(User.id == row.user_id).with_for_update())
        ).scalar_one_or_none()
        if user is None or user.email != row.email:
            raise DomainError(ErrorCode.INVALID_TOKEN, "token")  # rolled back: the e-mail changed since
        if not user.email_confirmed:
            user.email_confirmed = True
            await resume_ebills(tx, c, user)  # e-bills paused by an e-mail change go on (services.addresses)
        user.updated_at = now
        await tx.commit()
    log.info("e-mail confirmed for user %s", user.id)
    return user
