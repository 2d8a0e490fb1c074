"""Recorded consents and acceptances: the `consent` table."""

from __future__ import annotations

from sqlalchemy import update

from eirc.storage.repository import Repository
from eirc.storage.tables import Consent


class Consents(Repository):
    async def add(self, consent: Consent) -> None:
        self.session.add(consent)

    async def attach_user(self, flow_key: str, user_id: str) -> None:
        """The consents given in a flow belong to the user it created."""
        await self.session.execute(update(Consent).where(Consent.flow_id == flow_key).values(user_id=user_id))
