"""«Электронная платежка» (SPEC §8): per address, the e-bill by e-mail instead of paper.

- Enabling needs a confirmed e-mail (``EBILL_NEEDS_CONFIRMED_EMAIL``); disabling is always allowed.
- The stored choice is kept when the e-mail changes; it is in effect only while the e-mail is confirmed
  (services/profile.py shows it as paused meanwhile).
- Every change of whether an e-bill is in effect — the resident's choice, an e-mail change that pauses it, the
  new e-mail confirmed, the address removed — is delivered to «Домопульт» through the outbox as an
  `ebill_subscription` event (docs/profile.md lists its fields).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eirc.delivery.messages import queue_crm
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.ids import is_row_id
from eirc.domain.texts import ADDRESS_NOT_FOUND
from eirc.services.profile import ProfileView, load_profile, lock_user
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import User, UserAddress

if TYPE_CHECKING:
    from eirc.services.deps import Deps

CRM_EBILL = "ebill_subscription"
# Why an `ebill_subscription` event was sent.
REASON_RESIDENT = "resident"  # setEbill
REASON_EMAIL_CHANGED = "email_changed"  # a new, unconfirmed e-mail: paused
REASON_EMAIL_CONFIRMED = "email_confirmed"  # the new e-mail confirmed: resumed
REASON_ADDRESS_REMOVED = "address_removed"


async def own_address(tx: UnitOfWork, user: User, address_id: str | None) -> UserAddress:
    """One of the user's own addresses; anything else — another resident's, unknown, not even shaped like an
    id — is ``NOT_FOUND``."""
    if not address_id or not is_row_id(address_id):
        raise DomainError(ErrorCode.NOT_FOUND, "addressId", message=ADDRESS_NOT_FOUND)  # no query
    row = await tx.addresses.own(user.id, address_id)
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, "addressId", message=ADDRESS_NOT_FOUND)
    return row


async def set_ebill(deps: Deps, *, user_id: str, address_id: str | None, enabled: bool) -> ProfileView:
    """The e-bill of one address on or off. Asking for what already is changes nothing and sends nothing."""
    async with deps.uow() as tx:
        user = await lock_user(tx, user_id)
        row = await own_address(tx, user, address_id)
        if enabled and not (user.email and user.email_confirmed):
            raise DomainError(ErrorCode.EBILL_NEEDS_CONFIRMED_EMAIL, "enabled")
        if row.ebill != enabled:
            row.ebill = enabled
            await queue_ebill(tx, deps, user, row, enabled=enabled, reason=REASON_RESIDENT)
        view = await load_profile(tx, user)
        await tx.commit()
    return view


async def pause_ebills(tx: UnitOfWork, deps: Deps, user: User, *, previous_email: str | None) -> int:
    """The e-mail changed (now unconfirmed): every subscribed address is paused — its choice kept, «Домопульт»
    told to stop sending to the previous address. The caller's transaction; the number of addresses."""
    rows = [a for a in await tx.addresses.of_user(user.id) if a.ebill]
    for row in rows:
        await queue_ebill(
            tx, deps, user, row, enabled=False, reason=REASON_EMAIL_CHANGED, previous_email=previous_email
        )
    return len(rows)


async def resume_ebills(tx: UnitOfWork, deps: Deps, user: User) -> int:
    """The (new) e-mail was just confirmed: every address whose e-bill was chosen is in effect again and
    «Домопульт» gets the address to send to. The caller's transaction; the number of addresses."""
    rows = [a for a in await tx.addresses.of_user(user.id) if a.ebill]
    for row in rows:
        await queue_ebill(tx, deps, user, row, enabled=True, reason=REASON_EMAIL_CONFIRMED)
    return len(rows)


async def queue_ebill(
    tx: UnitOfWork,
    deps: Deps,
    user: User,
    row: UserAddress,
    *,
    enabled: bool,
    reason: str,
    previous_email: str | None = None,
) -> None:
    now = deps.clock.now()
    data: dict[str, Any] = {
        "user_id": user.id,
        "phone": user.phone,
        "last_name": user.last_name,
        "first_name": user.first_name,
        "middle_name": user.middle_name,
        "email": user.email,
        "email_confirmed": user.email_confirmed,
        "account_number": row.account_number,
        "address": await tx.billing.address_of(row.account_number),
        "enabled": enabled,
        "reason": reason,
        "changed_at": now,
    }
    if previous_email is not None:
        data["previous_email"] = previous_email
    await queue_crm(tx, deps, type=CRM_EBILL, data=data, occurred_at=now)
