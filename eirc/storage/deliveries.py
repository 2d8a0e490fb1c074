"""The outbox: the `delivery` table (eirc/delivery/ sends what it holds)."""

from __future__ import annotations

from eirc.storage.repository import Repository
from eirc.storage.tables import Delivery


class Deliveries(Repository):
    async def add(self, delivery: Delivery) -> None:
        """Queued in the caller's transaction: the message exists if and only if its cause commits."""
        self.session.add(delivery)
