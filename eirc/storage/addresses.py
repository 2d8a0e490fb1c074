"""A resident's addresses: the `user_address` table (each row one billing account of the user)."""

from __future__ import annotations

from sqlalchemy import select

from eirc.storage.repository import Repository
from eirc.storage.tables import BillingAccount, UserAddress


class Addresses(Repository):
    async def of_user(self, user_id: str) -> list[UserAddress]:
        """In the order they were added (what «Адрес N» numbers)."""
        stmt = (
            select(UserAddress)
            .where(UserAddress.user_id == user_id)
            .order_by(UserAddress.position, UserAddress.created_at)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def with_texts(self, user_id: str) -> list[tuple[UserAddress, str]]:
        """The user's addresses, in order, each with the billing centre's address text."""
        stmt = (
            select(UserAddress, BillingAccount.address)
            .join(BillingAccount, BillingAccount.account_number == UserAddress.account_number)
            .where(UserAddress.user_id == user_id)
            .order_by(UserAddress.position, UserAddress.created_at)
        )
        return [(a, text) for a, text in (await self.session.execute(stmt)).all()]

    async def own(self, user_id: str, address_id: str) -> UserAddress | None:
        stmt = select(UserAddress).where(UserAddress.id == address_id, UserAddress.user_id == user_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add(self, address: UserAddress) -> None:
        """In a savepoint: the same account added by a racing twin is a `Conflict`."""
        async with self.savepoint():
            self.session.add(address)

    async def remove(self, address: UserAddress) -> None:
        await self.session.delete(address)

    async def save(self) -> None:
        await self.session.flush()
