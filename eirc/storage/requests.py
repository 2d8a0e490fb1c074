"""Connection requests («Заявка на подключение») and their status history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from eirc.storage.repository import Repository
from eirc.storage.tables import ConnectionRequest, ConnectionRequestEvent


class ConnectionRequests(Repository):
    async def of_flow(self, flow_key: str) -> ConnectionRequest | None:
        stmt = select(ConnectionRequest).where(ConnectionRequest.flow_id == flow_key)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, request: ConnectionRequest, first_event: ConnectionRequestEvent) -> None:
        """A new request and its first event. A request of the same flow filed by a racing twin (the unique
        `flow_id`) is a `Conflict`; the transaction is then to be rolled back."""
        self.session.add(request)
        await self.flush()
        first_event.request_id = request.id
        self.session.add(first_event)

    async def add_event(self, event: ConnectionRequestEvent) -> None:
        self.session.add(event)
        await self.session.flush()

    async def get(self, request_id: str, *, lock: bool) -> ConnectionRequest | None:
        stmt = select(ConnectionRequest).where(ConnectionRequest.id == request_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def ids_starting_with(self, prefix: str, *, limit: int) -> list[str]:
        stmt = select(ConnectionRequest.id).where(ConnectionRequest.id.startswith(prefix)).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def newest(self, *, status: str | None, limit: int) -> list[ConnectionRequest]:
        stmt = select(ConnectionRequest).order_by(ConnectionRequest.created_at.desc(), ConnectionRequest.id.desc())
        if status:
            stmt = stmt.where(ConnectionRequest.status == status)
        return list((await self.session.execute(stmt.limit(max(1, limit)))).scalars())

    async def history(self, request_id: str) -> list[ConnectionRequestEvent]:
        stmt = (
            select(ConnectionRequestEvent)
            .where(ConnectionRequestEvent.request_id == request_id)
            .order_by(ConnectionRequestEvent.at, ConnectionRequestEvent.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def last_event_at(self, request_id: str) -> datetime | None:
        stmt = select(func.max(ConnectionRequestEvent.at)).where(ConnectionRequestEvent.request_id == request_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()
