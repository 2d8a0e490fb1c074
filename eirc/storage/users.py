"""Residents: the `app_user` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update

from eirc.storage.repository import Repository
from eirc.storage.tables import User, UserAddress


class Users(Repository):
    async def get(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def locked(self, user_id: str) -> User | None:
        """The user row, locked for the transaction (`SELECT … FOR UPDATE` on PostgreSQL; SQLite serialises
        transactions with BEGIN IMMEDIATE): one resident's changes run one after the other."""
        stmt = select(User).where(User.id == user_id).with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_phone(self, phone: str) -> User | None:
        return (await self.session.execute(select(User).where(User.phone == phone))).scalar_one_or_none()

    async def by_email(self, email: str) -> User | None:
        return (await self.session.execute(select(User).where(User.email == email))).scalar_one_or_none()

    async def by_gosuslugi_sub(self, sub: str) -> User | None:
        stmt = select(User).where(User.gosuslugi_sub == sub)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def phone_taken(self, phone: str) -> bool:
        return (await self.session.execute(select(User.id).where(User.phone == phone))).first() is not None

    async def email_taken(self, email: str, *, except_user_id: str | None = None) -> bool:
        stmt = select(User.id).where(User.email == email)
        if except_user_id:
            stmt = stmt.where(User.id != except_user_id)
        return (await self.session.execute(stmt)).first() is not None

    async def add(self, user: User, first_address: UserAddress | None = None) -> None:
        """A new user (and their first address), written now: a phone or e-mail that is another user's is a
        `Conflict` naming the column (the transaction is then to be rolled back)."""
        self.session.add(user)
        if first_address is not None:
            first_address.user_id = user.id
            self.session.add(first_address)
        await self.flush()

    async def save(self) -> None:
        """Write the changes made to loaded users now (a unique e-mail or Госуслуги identity taken by a
        racing twin is a `Conflict`; the transaction is then to be rolled back)."""
        await self.flush()

    async def set_gosuslugi_sub(self, user: User, sub: str, *, now: datetime) -> None:
        """Link a provider identity in a savepoint: one taken meanwhile by another user is a `Conflict`."""
        async with self.savepoint():
            user.gosuslugi_sub = sub
            user.updated_at = now

    async def claim_letter_slot(self, user_id: str, *, now: datetime, since: datetime) -> bool:
        """Mark a confirmation letter as going out now unless one went out after `since` — one conditional
        UPDATE, so concurrent requests in several processes claim it once."""
        result = await self.session.execute(
            update(User)
            .where(
                User.id == user_id,
                or_(User.email_letter_sent_at.is_(None), User.email_letter_sent_at <= since),
            )
            .values(email_letter_sent_at=now)
        )
        return bool(result.rowcount)
