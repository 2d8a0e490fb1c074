"""Onboarding flows: the `flow` table (the public flow id's SHA-256 is the key)."""

from __future__ import annotations

from sqlalchemy import select, update

from eirc.storage.repository import Repository
from eirc.storage.tables import Flow


class Flows(Repository):
    async def add(self, flow: Flow) -> None:
        self.session.add(flow)

    async def get(self, key: str, *, lock: bool) -> Flow | None:
        """With `lock`, locked for the transaction (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
        transactions are serialised already): two racing requests of one flow run one after the other."""
        stmt = select(Flow).where(Flow.id == key)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def note_error(self, key: str, code: str) -> None:
        """The code of the last expected failure the flow met (the onboarding funnel)."""
        await self.session.execute(update(Flow).where(Flow.id == key).values(last_error=code[:40]))
