"""The profile a resident sees («Мой профиль», SPEC §8): the user and their numbered addresses.

Read in one statement (storage/profiles.py): the user's columns and the addresses joined with the billing
accounts for the address text — no query per address; `profile_for_token` finds the live session in the same
statement (what `me` runs on every screen). Addresses are numbered 1..n in the order they were added
(`position`), so numbers close up after a removal.

E-bills and the e-mail (SPEC §6, §8): the stored e-bill choice of an address (`user_address.ebill`) is kept
when the e-mail changes, but it is *in effect* only while the e-mail is confirmed: the view shows
`ebill = choice and confirmed` and `ebill_paused = choice and not confirmed`. docs/profile.md has the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from eirc.domain.errors import DomainError, ErrorCode
from eirc.services.sessions import LAST_USED_RESOLUTION, session_key
from eirc.storage.db import UnitOfWork, UnitOfWorkFactory
from eirc.storage.tables import User


@dataclass(frozen=True)
class AddressView:
    id: str
    number: int
    text: str
    account_number: str
    primary: bool
    ebill: bool  # in effect: chosen and the e-mail is confirmed
    ebill_paused: bool = False  # chosen, but waiting for the (new) e-mail to be confirmed


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
    email_letter_sent_at: datetime | None = None  # the last confirmation letter (its resend is throttled)


def profile_view(user: Any, addresses: list[AddressView]) -> ProfileView:
    """`user`: a User, or a row with the same column names (storage/profiles.py)."""
    if not user.email_confirmed:  # e-bills go to a confirmed e-mail only: paused until it is confirmed
        addresses = [replace(a, ebill=False, ebill_paused=a.ebill or a.ebill_paused) for a in addresses]
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
        email_letter_sent_at=user.email_letter_sent_at,
    )


def _from_rows(rows: list[Any]) -> ProfileView:
    addresses = [
        AddressView(
            id=r.address_id,
            number=i,
            text=r.address,
            account_number=r.account_number,
            primary=r.primary,
            ebill=r.ebill,
        )
        for i, r in enumerate((r for r in rows if r.address_id is not None), start=1)
    ]
    return profile_view(rows[0], addresses)


async def addresses_of(tx: UnitOfWork, user_id: str) -> list[AddressView]:
    """The user's addresses, numbered, as stored (`ebill` is the stored choice; `profile_view` applies the
    e-mail rule)."""
    return [
        AddressView(
            id=a.id, number=i, text=text, account_number=a.account_number, primary=a.primary, ebill=a.ebill
        )
        for i, (a, text) in enumerate(await tx.addresses.with_texts(user_id), start=1)
    ]


async def load_profile(tx: UnitOfWork, user: User) -> ProfileView:
    """The profile of a user the caller holds (as changed in `tx`, not yet committed)."""
    await tx.addresses.save()  # the caller's changes to the addresses are part of what is shown
    return profile_view(user, await addresses_of(tx, user.id))


async def profile_of(uow: Callable[[], UnitOfWork], user_id: str) -> ProfileView | None:
    """The user's profile as it is now (e.g. to show beside an error), or None if the user is gone."""
    async with uow() as tx:
        rows = await tx.profiles.by_user(user_id)
    return _from_rows(rows) if rows else None


async def profile_for_token(
    uow: UnitOfWorkFactory, token: str | None, *, now: datetime
) -> ProfileView | None:
    """`me`: the profile of a bearer token's live session — or None (unknown, ended, expired). One statement,
    read without a transaction around it (`UnitOfWorkFactory.read`), finds the session and reads the profile;
    `last_used_at` is written at most once a minute, as `sessions.resolve` does."""
    sid = session_key(token)
    if sid is None:
        return None
    rows = await uow.read(lambda reads: reads.profiles.by_session(sid, now=now))
    if not rows:
        return None
    if now - rows[0].last_used_at >= LAST_USED_RESOLUTION:
        async with uow() as tx:
            await tx.profiles.touch_session(sid, now=now)
            await tx.commit()
    return _from_rows(rows)


async def lock_user(tx: UnitOfWork, user_id: str) -> User:
    """The user row, locked for the transaction: a resident's profile changes run one after the other."""
    user = await tx.users.locked(user_id)
    if user is None:  # removed since the session was resolved
        raise DomainError(ErrorCode.NOT_AUTHENTICATED)
    return user
