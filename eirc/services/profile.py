"""The profile a resident sees («Мой профиль», SPEC §8): the user and their numbered addresses — and
`update_profile`, the changes a resident makes to it (names, birth date, e-mail, notifications).

Reading: built from the user row the caller already has plus ONE query for the addresses (joined with the
billing accounts for the address text) — no query per address; `profile_for_token` does the session lookup
and the profile in one query (what `me` runs). Addresses are numbered 1..n in the order they were added
(`position`), so numbers close up after a removal.

E-bills and the e-mail (SPEC §6, §8): the stored e-bill choice of an address (`user_address.ebill`) is kept
when the e-mail changes, but it is *in effect* only while the e-mail is confirmed: the view shows
`ebill = choice and confirmed` and `ebill_paused = choice and not confirmed`. docs/profile.md has the rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from eirc.domain import limits
from eirc.domain.email import parse_email
from eirc.domain.errors import DomainError, DomainErrors, ErrorCode
from eirc.domain.names import clean_optional, clean_required
from eirc.domain.personal import check_birth_date, local_today
from eirc.security import token_digest
from eirc.storage import counters
from eirc.storage.db import UnitOfWork, UnitOfWorkFactory
from eirc.storage.driver import DriverStatement
from eirc.storage.tables import BillingAccount, EmailToken, Session, User, UserAddress
from eirc.storage.types import UTCDateTime

if TYPE_CHECKING:
    from eirc.bootstrap import Container

log = logging.getLogger("eirc.profile")

# Each accepted e-mail change sends a letter: a resident cannot turn the profile into a mail cannon.
EMAIL_CHANGES_PER_HOUR = 5
# sessions.resolve writes last_used_at at most this often; `profile_for_token` follows the same rule.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_TOKEN_LENGTH = limits.TOKEN


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


def _addresses_query():
    return select(UserAddress, BillingAccount.address).join(
        BillingAccount, BillingAccount.account_number == UserAddress.account_number
    )


def _numbered(rows: Any) -> list[AddressView]:
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


async def addresses_of(session: AsyncSession, user_id: str) -> list[AddressView]:
    """The user's addresses, numbered, as stored (`ebill` is the stored choice; `profile_view` applies the
    e-mail rule)."""
    rows = (
        await session.execute(
            _addresses_query()
            .where(UserAddress.user_id == user_id)
            .order_by(UserAddress.position, UserAddress.created_at)
        )
    ).all()
    return _numbered(rows)


def profile_view(user: User | Row, addresses: list[AddressView]) -> ProfileView:
    """`user`: a User, or a row with the same column names (`profile_for_token`)."""
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
    )


async def load_profile(session: AsyncSession, user: User) -> ProfileView:
    return profile_view(user, await addresses_of(session, user.id))


async def profile_of(c: Container, user_id: str) -> ProfileView | None:
    """The profile as it is now (e.g. to show beside an error), or None if the user is gone."""
    async with c.uow() as tx:
        user = await tx.session.get(User, user_id)
        return await load_profile(tx.session, user) if user is not None else None


_S, _U = Session.__table__.c, User.__table__.c  # type: ignore[attr-defined]
_A, _B = UserAddress.__table__.c, BillingAccount.__table__.c  # type: ignore[attr-defined]
# The profile's columns: the user's, and the user's addresses (by their user_id index) with the billing
# centre's address text — one row per address (one row with null address columns when there is none).
_PROFILE_COLUMNS = (
    _U.id,
    _U.last_name,
    _U.first_name,
    _U.middle_name,
    _U.birth_date,
    _U.phone,
    _U.email,
    _U.email_confirmed,
    _U.email_notifications,
    _U.gosuslugi_sub,
    _A.id.label("address_id"),
    _A.account_number,
    _A.primary,
    _A.ebill,
    _B.address,
)
_WITH_ADDRESSES = (
    User.__table__.outerjoin(UserAddress.__table__, _A.user_id == _U.id).outerjoin(  # type: ignore[attr-defined]
        BillingAccount.__table__, _B.account_number == _A.account_number
    )  # type: ignore[attr-defined]
)
_ADDRESS_ORDER = (_A.position, _A.created_at)
# `me`'s one statement, built once: the live session by its primary key, its user and the profile. Plain
# columns on the driver (storage.hot), not ORM entities: loading entities cost as much as the database
# round trip itself (scripts/bench_me.py).
_ME = DriverStatement(
    select(_S.last_used_at, *_PROFILE_COLUMNS)
    .select_from(Session.__table__.join(_WITH_ADDRESSES, _U.id == _S.user_id))  # type: ignore[attr-defined]
    .where(
        _S.id == bindparam("sid"), _S.ended_at.is_(None), _S.expires_at > bindparam("now", type_=UTCDateTime)
    )
    .order_by(*_ADDRESS_ORDER)
)
# The profile of a user by id (a `login` that asks for it), the same way.
_PROFILE = DriverStatement(
    select(*_PROFILE_COLUMNS)
    .select_from(_WITH_ADDRESSES)
    .where(_U.id == bindparam("uid"))
    .order_by(*_ADDRESS_ORDER)
)


def _profile_of_rows(rows: list[Any]) -> ProfileView:
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


async def profile_for_token(
    uow: UnitOfWorkFactory, token: str | None, *, now: datetime
) -> ProfileView | None:
    """`me` in one round trip: the profile of a bearer token's live session — or None (unknown, ended,
    expired). ONE statement: no query per address, and no separate session lookup.

    The same rules as `sessions.resolve`: live = not ended and not expired; `last_used_at` is written at
    most once a minute. No unit of work: one statement sees one consistent state by itself (`storage.hot`).
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    sid = token_digest(token)
    rows = await uow.hot.all(_ME, {"sid": sid, "now": now})
    if not rows:
        return None
    if now - rows[0].last_used_at >= LAST_USED_RESOLUTION:
        async with uow() as tx:
            await tx.session.execute(update(Session).where(Session.id == sid).values(last_used_at=now))
            await tx.commit()
    return _profile_of_rows(rows)


async def profile_for_user(uow: UnitOfWorkFactory, user_id: str) -> ProfileView | None:
    """The user's profile by one statement (storage.hot), or None if the user is gone."""
    rows = await uow.hot.all(_PROFILE, {"uid": user_id})
    return _profile_of_rows(rows) if rows else None


async def lock_user(tx: UnitOfWork, user_id: str) -> User:
    """The user row, locked for the transaction: a resident's profile changes run one after the other
    (`SELECT … FOR UPDATE` on PostgreSQL; SQLite serialises transactions with BEGIN IMMEDIATE)."""
    user = (
        await tx.session.execute(select(User).where(User.id == user_id).with_for_update())
    ).scalar_one_or_none()
    if user is None:  # removed since the session was resolved
        raise DomainError(ErrorCode.NOT_AUTHENTICATED)
    return user


# --- updateProfile --------------------------------------------------------------------------------------------
class _Keep:
    """«Not given»: the field stays as it is (GraphQL: the argument omitted). Compared by identity."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


@dataclass(frozen=True)
class ProfileChanges:
    """What `updateProfile` was given. `KEEP` = omitted (unchanged); `None` = explicitly empty: clears
    `middle_name` and `birth_date`, and is ``REQUIRED`` for the others."""

    last_name: Any = KEEP
    first_name: Any = KEEP
    middle_name: Any = KEEP
    birth_date: Any = KEEP
    email: Any = KEEP
    email_notifications: Any = KEEP


def _parse_changes(changes: ProfileChanges, today: date) -> dict[str, Any]:
    """The cleaned new values (only the given fields), or DomainErrors — one per broken field, in screen
    order, all at once (as in registration)."""
    errors: list[DomainError] = []
    values: dict[str, Any] = {}

    def notifications() -> bool:
        if changes.email_notifications is None:
            raise DomainError(ErrorCode.REQUIRED, "emailNotifications")
        return bool(changes.email_notifications)

    checks = (
        ("last_name", lambda v: clean_required(v, "lastName")),
        ("first_name", lambda v: clean_required(v, "firstName")),
        ("middle_name", lambda v: clean_optional(v, "middleName")),
        ("birth_date", lambda v: check_birth_date(v, today)),
        ("email", lambda v: parse_email(v, "email")),
        ("email_notifications", lambda _v: notifications()),
    )
    for name, check in checks:
        given = getattr(changes, name)
        if given is KEEP:
            continue
        try:
            values[name] = check(given)
        except DomainError as exc:
            errors.append(exc)
    if errors:
        raise DomainErrors(errors)
    return values


async def update_profile(c: Container, *, user_id: str, changes: ProfileChanges) -> ProfileView:
    """«Мой профиль» edits. A new e-mail is stored unconfirmed and a confirmation letter goes out; the old
    address stops being a login at once (it is no longer the user's e-mail), links sent to any earlier
    address die, and e-bills pause until the new address is confirmed (their choice is kept, «Домопульт»
    is told). Nothing changes unless every given field is valid."""
    # Imported here: these modules import this one's read model.
    from eirc.services.addresses import pause_ebills
    from eirc.services.email_confirmation import send_confirmation
    from eirc.services.users import email_taken

    now = c.clock.now()
    values = _parse_changes(changes, local_today(now))
    async with c.uow() as tx:
        user = await lock_user(tx, user_id)
        new_email = values.pop("email", None)
        email_changed = new_email is not None and new_email != user.email
        if email_changed:
            if await email_taken(tx, new_email, except_user_id=user.id):
                raise DomainError(ErrorCode.EMAIL_TAKEN, "email")
            window = await counters.hit(
                tx.session, f"profile:email:user:{user.id}", now=now, window_seconds=3600
            )
            if window.count > EMAIL_CHANGES_PER_HOUR:
                raise DomainError(ErrorCode.RATE_LIMITED, "email")
        for name, value in values.items():
            setattr(user, name, value)
        if email_changed:
            previous, was_confirmed = user.email, user.email_confirmed
            user.email = new_email
            user.email_confirmed = False
            # Links already sent (to this or an earlier address) confirm nothing any more.
            await tx.session.execute(
                update(EmailToken)
                .where(EmailToken.user_id == user.id, EmailToken.used_at.is_(None))
                .values(used_at=now)
            )
            if was_confirmed:
                await pause_ebills(tx, c, user, previous_email=previous)
        user.updated_at = now
        try:
            await tx.session.flush()
        except IntegrityError:  # a racing twin took the e-mail meanwhile (the column is unique)
            raise DomainError(ErrorCode.EMAIL_TAKEN, "email") from None
        if email_changed:
            await send_confirmation(tx, c, user=user)
        view = await load_profile(tx.session, user)
        await tx.commit()
    if email_changed:
        log.info("user %s changed the e-mail: confirmation sent, e-bills paused", user_id)
    return view
