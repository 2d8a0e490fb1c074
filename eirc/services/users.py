"""Creating residents: the one place a user row (and its first address) is written.

Registration completion and `eirc users create` both go through `insert_user`, so the same rules hold:
a phone belongs to one user (``PHONE_TAKEN``), an e-mail to one user (``EMAIL_TAKEN`` — confirmed or
not: the column is unique, so two residents can never both sign in with one address).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from eirc.domain.errors import DomainError, DomainErrors, ErrorCode
from eirc.domain.password import check_password, normalize_password
from eirc.domain.personal import PersonalData, local_today, parse_personal_data
from eirc.domain.phone import mask_phone, parse_phone
from eirc.services import accounts
from eirc.services.email_confirmation import send_confirmation
from eirc.services.profile import ProfileView, load_profile
from eirc.storage.db import UnitOfWork
from eirc.storage.repository import Conflict
from eirc.storage.tables import User, UserAddress

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.users")


async def insert_user(
    tx: UnitOfWork,
    deps: Deps,
    *,
    phone: str,
    personal: PersonalData,
    password_hash: str | None,
    source: str,
    account_number: str | None,
    email_confirmed: bool = False,
    letter_at: datetime | None = None,
) -> User:
    """A new user (and, with `account_number`, their primary address «Адрес 1») in the caller's tx.

    The unique columns answer whether the phone or the e-mail is taken (a racing twin included): a taken one
    is ``PHONE_TAKEN`` / ``EMAIL_TAKEN``, and the caller's transaction is to be rolled back. `letter_at`:
    the time of the confirmation letter going out with this change (`send_confirmation(…, now=letter_at)`),
    written with the user rather than by an UPDATE after it."""
    now = deps.clock.now()
    user = User(
        phone=phone,
        email=personal.email,
        email_confirmed=email_confirmed,
        email_notifications=personal.email_notifications,
        last_name=personal.last_name,
        first_name=personal.first_name,
        middle_name=personal.middle_name,
        birth_date=personal.birth_date,
        password_hash=password_hash,
        password_changed_at=now if password_hash else None,
        source=source,
        email_letter_sent_at=letter_at,
        created_at=now,
        updated_at=now,
    )
    first = (
        UserAddress(user_id=user.id, account_number=account_number, position=1, primary=True, created_at=now)
        if account_number
        else None
    )
    try:
        await tx.users.add(user, first)
    except Conflict as conflict:
        if "phone" in conflict.columns:
            raise DomainError(ErrorCode.PHONE_TAKEN, "phone") from None
        raise DomainError(ErrorCode.EMAIL_TAKEN, "email") from None
    return user


@dataclass(frozen=True)
class AccountProof:
    account_number: str
    period: str
    amount_due: str


async def create_user(
    deps: Deps,
    *,
    phone: str,
    password: str,
    last_name: str,
    first_name: str,
    email: str,
    middle_name: str | None = None,
    birth_date: date | None = None,
    email_notifications: bool = False,
    email_confirmed: bool = False,
    account: AccountProof | None = None,
    source: str = "cli",
) -> ProfileView:
    """A resident created without SMS (support and CI: `eirc users create`), by registration's rules.

    Every field is checked as in registration (all broken fields reported together); with `account` the
    account is proved exactly as in registration (period, number, amount to the kopeck) but without an
    attempt limit. A confirmation letter is sent unless `email_confirmed`. No «Домопульт» delivery: this
    is not a resident's registration.
    """
    errors: list[DomainError] = []
    parsed_phone = ""
    personal: PersonalData | None = None
    try:
        parsed_phone = parse_phone(phone)
    except DomainError as exc:
        errors.append(exc)
    try:
        personal = parse_personal_data(
            last_name=last_name,
            first_name=first_name,
            middle_name=middle_name,
            birth_date=birth_date,
            email=email,
            email_notifications=email_notifications,
            today=local_today(deps.clock.now()),
        )
    except DomainErrors as exc:
        errors.extend(exc.errors)
    try:
        check_password(password)
    except DomainError as exc:
        errors.append(exc)
    if errors:
        raise DomainErrors(errors)
    assert personal is not None
    password_hash = await deps.hasher.hash(normalize_password(password))
    now = deps.clock.now()
    async with deps.uow() as tx:
        account_number = None
        if account is not None:
            proven = await accounts.prove_account(
                tx,
                deps,
                period=account.period,
                account_number=account.account_number,
                amount_due=account.amount_due,
                limiter_keys=(),
            )
            account_number = proven.account_number
        user = await insert_user(
            tx,
            deps,
            phone=parsed_phone,
            personal=personal,
            password_hash=password_hash,
            source=source,
            account_number=account_number,
            email_confirmed=email_confirmed,
            letter_at=None if email_confirmed else now,
        )
        if not email_confirmed:
            await send_confirmation(tx, deps, user=user, now=now)
        profile = await load_profile(tx, user)
        await tx.commit()
    log.info("user %s created (%s) for %s", user.id, source, mask_phone(parsed_phone))
    return profile
