"""Sessions (SPEC §4): an opaque random bearer token, stored as its SHA-256, with expiry and last use — and
signing out (`logout`, `logoutEverywhere`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from eirc.domain import limits
from eirc.security import new_token, token_digest
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import Session, User

if TYPE_CHECKING:
    from collections.abc import Callable

    from eirc.services.deps import Deps

log = logging.getLogger("eirc.sessions")

# Writing last_used_at on every request would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
USER_AGENT_MAX_LENGTH = 300


@dataclass(frozen=True)
class IssuedSession:
    token: str  # shown once, to the client; never stored
    expires_at: datetime
    session_id: str


async def create_session(
    tx: UnitOfWork,
    *,
    user_id: str,
    now: datetime,
    ttl_seconds: int,
    client_ip: str | None = None,
    user_agent: str | None = None,
) -> IssuedSession:
    """A new session inside the caller's transaction."""
    token = new_token()
    sid = token_digest(token)
    expires = now + timedelta(seconds=ttl_seconds)
    await tx.sessions.add(
        Session(
            id=sid,
            user_id=user_id,
            created_at=now,
            expires_at=expires,
            last_used_at=now,
            client_ip=client_ip,
            user_agent=(user_agent or "")[:USER_AGENT_MAX_LENGTH] or None,
        )
    )
    return IssuedSession(token=token, expires_at=expires, session_id=sid)


def session_key(token: str | None) -> str | None:
    """The stored key of a bearer token, or None for a token that cannot be one."""
    if not token or len(token) > limits.TOKEN:
        return None
    return token_digest(token)


async def resolve(
    uow: Callable[[], UnitOfWork], token: str | None, *, now: datetime
) -> tuple[Session, User] | None:
    """The live session and its user for a bearer token, or None (unknown, ended or expired)."""
    sid = session_key(token)
    if sid is None:
        return None
    async with uow() as tx:
        found = await tx.sessions.live_with_user(sid, now=now)
        if found is None:
            return None
        session, user = found
        if now - session.last_used_at >= LAST_USED_RESOLUTION:
            await tx.sessions.touch(sid, now=now)
            await tx.commit()
        tx.sessions.detach(session, user)
        return session, user


async def logout(deps: Deps, *, token: str | None) -> bool:
    """End the caller's session; False when there is no live session."""
    sid = session_key(token)
    if sid is None:
        return False
    async with deps.uow() as tx:
        ended = await tx.sessions.end(sid, now=deps.clock.now())
        await tx.commit()
    return ended


async def logout_everywhere(deps: Deps, *, token: str | None) -> bool:
    """End every live session of the caller's user; False when there is no live session."""
    found = await resolve(deps.uow, token, now=deps.clock.now())
    if found is None:
        return False
    _session, user = found
    async with deps.uow() as tx:
        ended = await tx.sessions.end_all(user.id, now=deps.clock.now())
        await tx.commit()
    log.info("signed out everywhere: user %s, %s sessions", user.id, ended)
    return True
