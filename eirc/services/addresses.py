"""The addresses of a profile (SPEC §8): add one by proving its account, choose the primary one, remove one,
subscribe an address to the e-bill.

- Every use case acts on the caller's own addresses only: an address id that is not one of theirs —
  another resident's, unknown, or not even shaped like an id — is ``NOT_FOUND``, and nothing changes.
- A resident's changes run one after the other (the user row is locked for the transaction), so the
  invariants hold under concurrent requests: positions grow, exactly one address is primary.
- `addAddress` proves the account with `accounts.prove_account` — registration's own code path, texts and
  attempt limit (`EIRC_ACCOUNT_MAX_ATTEMPTS` failed proofs an hour, counted per user).
- An e-bill choice, and every change of whether it is in effect, is delivered to «Домопульт» through the
  outbox as an `ebill_subscription` event (docs/profile.md lists its fields).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from eirc.delivery.messages import queue_crm
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.texts import ADDRESS_NOT_FOUND
from eirc.services import accounts
from eirc.services.profile import ProfileView, load_profile, lock_user
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import BillingAccount, User, UserAddress

if TYPE_CHECKING:
    from eirc.bootstrap import Container

log = logging.getLogger("eirc.addresses")

CRM_EBILL = "ebill_subscription"
# Why an `ebill_subscription` event was sent.
REASON_RESIDENT = "resident"  # setEbill
REASON_EMAIL_CHANGED = "email_changed"  # a new, unconfirmed e-mail: paused
REASON_EMAIL_CONFIRMED = "email_confirmed"  # the new e-mail confirmed: resumed
REASON_ADDRESS_REMOVED = "address_removed"

ADDRESS_ID = re.compile(r"[0-9a-f]{32}")  # storage.tables.new_id: uuid4 hex


def account_limiter_key(user_id: str) -> str:
    return f"acct:user:{user_id}"


async def _own_address(tx: UnitOfWork, user: User, address_id: str | None) -> UserAddress:
    if not address_id or not ADDRESS_ID.fullmatch(address_id):
        raise DomainError(ErrorCode.NOT_FOUND, "addressId", message=ADDRESS_NOT_FOUND)  # no query
    row = (
        await tx.session.execute(
            select(UserAddress).where(UserAddress.id == address_id, UserAddress.user_id == user.id)
        )
    ).scalar_one_or_none()
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, "addressId", message=ADDRESS_NOT_FOUND)
    return row


async def _addresses(tx: UnitOfWork, user: User) -> list[UserAddress]:
    return list(
        (
            await tx.session.execute(
                select(UserAddress)
                .where(UserAddress.user_id == user.id)
                .order_by(UserAddress.position, UserAddress.created_at)
            )
        ).scalars()
    )


# --- add ------------------------------------------------------------------------------------------------------
async def add_address(
    c: Container,
    *,
    user_id: str,
    period: str | None,
    account_number: str | None,
    amount_due: str | None,
) -> ProfileView:
    """«Регистрация нового адреса» → «Добавить»: the account proved as in registration, then added last
    («Адрес n+1»), not primary — unless the resident has no primary address yet (a user created without
    one), when it becomes primary. The same account twice: ``ACCOUNT_ALREADY_LINKED``."""
    async with c.uow() as tx:
        # First: a failed proof commits its counted attempt before raising (nothing else is changed yet).
        proven = await accounts.prove_account(
            tx,
            c,
            period=period,
            account_number=account_number,
            amount_due=amount_due,
            limiter_keys=(account_limiter_key(user_id),),
        )
        user = await lock_user(tx, user_id)
        rows = await _addresses(tx, user)
        if any(a.account_number == proven.account_number for a in rows):
            raise DomainError(ErrorCode.ACCOUNT_ALREADY_LINKED, "accountNumber")
        now = c.clock.now()
        try:
            async with tx.session.begin_nested():
                tx.session.add(
                    UserAddress(
                        user_id=user.id,
                        account_number=proven.account_number,
                        position=max((a.position for a in rows), default=0) + 1,
                        primary=not any(a.primary for a in rows),
                        created_at=now,
                    )
                )
        except IntegrityError:  # the unique (user, account) of a racing twin
            raise DomainError(ErrorCode.ACCOUNT_ALREADY_LINKED, "accountNumber") from None
        view = await load_profile(tx.session, user)
        await tx.commit()
    log.info("user %s added an address (%d in all)", user_id, len(view.addresses))
    return view


# --- primary, remove ------------------------------------------------------------------------------------------
async def set_primary_address(c: Container, *, user_id: str, address_id: str | None) -> ProfileView:
    async with c.uow() as tx:
        user = await lock_user(tx, user_id)
        chosen = await _own_address(tx, user, address_id)
        for row in await _addresses(tx, user):
            row.primary = row.id == chosen.id
        await tx.session.flush()
        view = await load_profile(tx.session, user)
        await tx.commit()
    return view


async def remove_address(c: Container, *, user_id: str, address_id: str | None) -> ProfileView:
    """Not the last one (``LAST_ADDRESS``). Removing the primary one makes the first remaining one primary;
    the numbers of the others close up. A subscribed address's e-bill ends («Домопульт» is told)."""
    async with c.uow() as tx:
        user = await lock_user(tx, user_id)
        doomed = await _own_address(tx, user, address_id)
        rows = await _addresses(tx, user)
        if len(rows) <= 1:
            raise DomainError(ErrorCode.LAST_ADDRESS, "addressId")
        rest = [a for a in rows if a.id != doomed.id]
        if doomed.primary or not any(a.primary for a in rest):
            for a in rest:
                a.primary = a is rest[0]
        if doomed.ebill:
            await _queue_ebill(tx, c, user, doomed, enabled=False, reason=REASON_ADDRESS_REMOVED)
        await tx.session.delete(doomed)
        await tx.session.flush()
        view = await load_profile(tx.session, user)
        await tx.commit()
    log.info("user %s removed an address (%d left)", user_id, len(view.addresses))
    return view


# --- e-bill ---------------------------------------------------------------------------------------------------
async def set_ebill(c: Container, *, user_id: str, address_id: str | None, enabled: bool) -> ProfileView:
    """«Электронная платежка» of one address. Enabling needs a confirmed e-mail
    (``EBILL_NEEDS_CONFIRMED_EMAIL``); disabling is always allowed. A change is delivered to «Домопульт»;
    asking for what already is changes nothing and sends nothing."""
    async with c.uow() as tx:
        user = await lock_user(tx, user_id)
        row = await _own_address(tx, user, address_id)
        if enabled and not (user.email and user.email_confirmed):
            raise DomainError(ErrorCode.EBILL_NEEDS_CONFIRMED_EMAIL, "enabled")
        if row.ebill != enabled:
            row.ebill = enabled
            await _queue_ebill(tx, c, user, row, enabled=enabled, reason=REASON_RESIDENT)
            await tx.session.flush()
        view = await load_profile(tx.session, user)
        await tx.commit()
    return view


async def pause_ebills(tx: UnitOfWork, c: Container, user: User, *, previous_email: str | None) -> int:
    """The e-mail changed (now unconfirmed): every subscribed address is paused — its choice kept, «Домопульт»
    told to stop sending to the previous address. The caller's transaction; the number of addresses."""
    rows = [a for a in await _addresses(tx, user) if a.ebill]
    for row in rows:
        await _queue_ebill(
            tx, c, user, row, enabled=False, reason=REASON_EMAIL_CHANGED, previous_email=previous_email
        )
    return len(rows)


async def resume_ebills(tx: UnitOfWork, c: Container, user: User) -> int:
    """The (new) e-mail was just confirmed: every address whose e-bill was chosen is in effect again and
    «Домопульт» gets the address to send to. The caller's transaction; the number of addresses."""
    rows = [a for a in await _addresses(tx, user) if a.ebill]
    for row in rows:
        await _queue_ebill(tx, c, user, row, enabled=True, reason=REASON_EMAIL_CONFIRMED)
    return len(rows)


async def _queue_ebill(
    tx: UnitOfWork,
    c: Container,
    user: User,
    row: UserAddress,
    *,
    enabled: bool,
    reason: str,
    previous_email: str | None = None,
) -> None:
    now = c.clock.now()
    address = (
        await tx.session.execute(
            select(BillingAccount.address).where(BillingAccount.account_number == row.account_number)
        )
    ).scalar_one_or_none()
    data: dict[str, Any] = {
        "user_id": user.id,
        "phone": user.phone,
        "last_name": user.last_name,
        "first_name": user.first_name,
        "middle_name": user.middle_name,
        "email": user.email,
        "email_confirmed": user.email_confirmed,
        "account_number": row.account_number,
        "address": address,
        "enabled": enabled,
        "reason": reason,
        "changed_at": now,
    }
    if previous_email is not None:
        data["previous_email"] = previous_email
    await queue_crm(tx, c, type=CRM_EBILL, data=data, occurred_at=now)
