"""The profile a resident sees («Мой профиль», SPEC §8): the user and their numbered addresses.

Built from the user row the caller already has plus ONE query for the addresses (joined with the billing
accounts for the address text) — no query per address. Addresses are numbered 1..n in the order they were
added (`position`), so numbers close up after a removal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eirc.storage.tables import BillingAccount, User, UserAddress


@dataclass(frozen=True)
class AddressView:
    id: str
    number: int
    text: str
    account_number: str
    primary: bool
    ebill: bool


@dataclass(frozen=True)
class ProfileView:
    id: str
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date | None
    phone: str
    email: str | None
    email_confirmed: bool
    email_notifications: bool
    gosuslugi_linked: bool
    addresses: list[AddressView]


async def addresses_of(session: AsyncSession, user_id: str) -> list[AddressView]:
    rows = (
        await session.execute(
            select(UserAddress, BillingAccount.address)
            .join(BillingAccount, BillingAccount.account_number == UserAddress.account_number)
            .where(UserAddress.user_id == user_id)
            .order_by(UserAddress.position, UserAddress.created_at)
        )
    ).all()
    return [
        AddressView(
            id=a.id,
            number=i,
            text=text,
            account_number=a.account_number,
            primary=a.primary,
            ebill=a.ebill,
        )
        for i, (a, text) in enumerate(rows, start=1)
    ]


def profile_view(user: User, addresses: list[AddressView]) -> ProfileView:
    return ProfileView(
        id=user.id,
        last_name=user.last_name,
        first_name=user.first_name,
        middle_name=user.middle_name,
        birth_date=user.birth_date,
        phone=user.phone,
        email=user.email,
        email_confirmed=user.email_confirmed,
        email_notifications=user.email_notifications,
        gosuslugi_linked=user.gosuslugi_sub is not None,
        addresses=addresses,
    )


async def load_profile(session: AsyncSession, user: User) -> ProfileView:
    return profile_view(user, await addresses_of(session, user.id))
