"""Sign-in sessions: the `user_session` table (the bearer token's SHA-256 is the key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from eirc.storage.repository import Repository
from eirc.storage.tables import Session, User


class Sessions(Repository):
    async def add(self, session: Session) -> None:
        self.session.add(session)

    async def live_with_user(self, session_id: str, *, now: datetime) -> tuple[Session, User] | None:
        stmt = (
            select(Session, User)
            .join(User, User.id == Session.user_id)
            .where(Session.id == session_id, Session.ended_at.is_(None), Session.expires_at > now)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def touch(self, session_id: str, *, now: datetime) -> None:
        await self.session.execute(update(Session).where(Session.id == session_id).values(last_used_at=now))

    async def end(self, session_id: str, *, now: datetime) -> bool:
        """End a live session; False when it was not live."""
        result = await self.session.execute(
            update(Session)
            .where(Session.id == session_id, Session.ended_at.is_(None), Session.expires_at > now)
            .values(ended_at=now)
        )
        return bool(result.rowcount)

    async def end_all(self, user_id: str, *, now: datetime, keep: str | None = None) -> int:
        """End every session of the user not ended yet (but `keep`); how many."""
        stmt = update(Session).where(Session.user_id == user_id, Session.ended_at.is_(None))
        if keep:
            stmt = stmt.where(Session.id != keep)
        result = await self.session.execute(stmt.values(ended_at=now))
        return result.rowcount or 0

    async def live_count(self, user_id: str, *, now: datetime) -> int:
        stmt = (
            select(func.count())
            .select_from(Session)
            .where(Session.user_id == user_id, Session.ended_at.is_(None), Session.expires_at > now)
        )
        return (await self.session.execute(stmt)).scalar_one()
