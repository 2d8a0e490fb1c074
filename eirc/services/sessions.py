"""Sessions: an opaque random bearer token, stored as its SHA-256, with expiry and last use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from eirc.security import new_token, token_digest
from eirc.storage.db import UnitOfWork, UnitOfWorkFactory
from eirc.storage.tables import Session, User

# Writing last_used_at on every request would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedSession:
    token: str  # shown once, to the client; never stored
    expires_at: datetime
    session_id: str


def new_session(
    *,
    user_id: str,
    now: datetime,
    ttl_seconds: int,
    client_ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[IssuedSession, dict]:
    """A new session: what the client gets, and the row's values (for a Core insert on a hot path)."""
    token = new_token()
    sid = token_digest(token)
    expires = now + timedelta(seconds=ttl_seconds)
    values = {
        "id": sid,
        "user_id": user_id,
        "created_at": now,
        "expires_at": expires,
        "last_used_at": now,
        "client_ip": client_ip,
        "user_agent": (user_agent or "")[:300] or None,
    }
    return IssuedSession(token=token, expires_at=expires, session_id=sid), values


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
    issued, values = new_session(
        user_id=user_id, now=now, ttl_seconds=ttl_seconds, client_ip=client_ip, user_agent=user_agent
    )
    tx.session.add(Session(**values))
    return issued


async def resolve(uow: UnitOfWorkFactory, token: str | None, *, now: datetime) -> tuple[Session, User] | None:
    """The live session and its user for a bearer token, or None (unknown, ended or expired)."""
    if not token or len(token) > 512:
        return None
    sid = token_digest(token)
    async with uow() as tx:
        row = (
            await tx.session.execute(
                select(Session, User)
                .join(User, User.id == Session.user_id)
                .where(Session.id == sid, Session.ended_at.is_(None), Session.expires_at > now)
            )
        ).one_or_none()
        if row is None:
            return None
        session, user = row
        if now - session.last_used_at >= LAST_USED_RESOLUTION:
            await tx.session.execute(update(Session).where(Session.id == sid).values(last_used_at=now))
            await tx.commit()
        tx.session.expunge_all()  # stay readable after the block (its closing rollback would expire them)
        return session, user


async def end_session(tx: UnitOfWork, token: str, *, now: datetime) -> bool:
    result = await tx.session.execute(
        update(Session)
        .where(Session.id == token_digest(token), Session.ended_at.is_(None))
        .values(ended_at=now)
    )
    return bool(result.rowcount)


async def end_all_sessions(
    tx: UnitOfWork, user_id: str, *, now: datetime, keep_session_id: str | None = None
) -> int:
    """End every live session of the user (except `keep_session_id`, the caller's own)."""
    stmt = update(Session).where(Session.user_id == user_id, Session.ended_at.is_(None))
    if keep_session_id:
        stmt = stmt.where(Session.id != keep_session_id)
    result = await tx.session.execute(stmt.values(ended_at=now))
    return result.rowcount or 0
