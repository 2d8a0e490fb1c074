"""E-mail confirmation tokens: the `email_token` table (the token's SHA-256 is the key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from eirc.storage.repository import Repository
from eirc.storage.tables import EmailToken


class EmailTokens(Repository):
    async def add(self, token: EmailToken) -> None:
        self.session.add(token)

    async def use(self, key: str, *, now: datetime) -> EmailToken | None:
        """Mark a live token used — single use even under a race: only the request whose UPDATE flips
        `used_at` gets the row; None for an unknown, used or expired token."""
        used = await self.session.execute(
            update(EmailToken)
            .where(EmailToken.id == key, EmailToken.used_at.is_(None), EmailToken.expires_at > now)
            .values(used_at=now)
        )
        if not used.rowcount:
            return None
        return (await self.session.execute(select(EmailToken).where(EmailToken.id == key))).scalar_one()

    async def retire_all(self, user_id: str, *, now: datetime) -> None:
        """Every unused token of the user confirms nothing any more (the e-mail changed)."""
        await self.session.execute(
            update(EmailToken)
            .where(EmailToken.user_id == user_id, EmailToken.used_at.is_(None))
            .values(used_at=now)
        )
