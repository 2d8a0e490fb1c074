"""The addresses of a profile (SPEC §8): add one by proving its account, choose the primary one, remove one.
(The e-bill of an address: services/ebills.py.)

- Every use case acts on the caller's own addresses only: an address id that is not one of theirs —
  another resident's, unknown, or not even shaped like an id — is ``NOT_FOUND``, and nothing changes.
- A resident's changes run one after the other (the user row is locked for the transaction), so the
  invariants hold under concurrent requests: positions grow, exactly one address is primary.
- `addAddress` proves the account with `accounts.prove_account` — registration's own code path, texts and
  attempt limit (`EIRC_ACCOUNT_MAX_ATTEMPTS` failed proofs an hour, counted per user).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from eirc.domain.errors import DomainError, ErrorCode
from eirc.services import accounts
from eirc.services.ebills import REASON_ADDRESS_REMOVED, own_address, queue_ebill
from eirc.services.profile import ProfileView, load_profile, lock_user
from eirc.storage.repository import Conflict
from eirc.storage.tables import UserAddress

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.addresses")


def account_limiter_key(user_id: str) -> str:
    return f"acct:user:{user_id}"


async def add_address(
    deps: Deps,
    *,
    user_id: str,
    period: str | None,
    account_number: str | None,
    amount_due: str | None,
) -> ProfileView:
    """«Регистрация нового адреса» → «Добавить»: the account proved as in registration, then added last
    («Адрес n+1»), not primary — unless the resident has no primary address yet (a user created without
    one), when it becomes primary. The same account twice: ``ACCOUNT_ALREADY_LINKED``."""
    async with deps.uow() as tx:
        # First: a failed proof commits its counted attempt before raising (nothing else is changed yet).
        proven = await accounts.prove_account(
            tx,
            deps,
            period=period,
            account_number=account_number,
            amount_due=amount_due,
            limiter_keys=(account_limiter_key(user_id),),
        )
        user = await lock_user(tx, user_id)
        rows = await tx.addresses.of_user(user.id)
        if any(a.account_number == proven.account_number for a in rows):
            raise DomainError(ErrorCode.ACCOUNT_ALREADY_LINKED, "accountNumber")
        try:
            await tx.addresses.add(
                UserAddress(
                    user_id=user.id,
                    account_number=proven.account_number,
                    position=max((a.position for a in rows), default=0) + 1,
                    primary=not any(a.primary for a in rows),
                    created_at=deps.clock.now(),
                )
            )
        except Conflict:  # the unique (user, account) of a racing twin
            raise DomainError(ErrorCode.ACCOUNT_ALREADY_LINKED, "accountNumber") from None
        view = await load_profile(tx, user)
        await tx.commit()
    log.info("user %s added an address (%d in all)", user_id, len(view.addresses))
    return view


async def set_primary_address(deps: Deps, *, user_id: str, address_id: str | None) -> ProfileView:
    async with deps.uow() as tx:
        user = await lock_user(tx, user_id)
        chosen = await own_address(tx, user, address_id)
        for row in await tx.addresses.of_user(user.id):
            row.primary = row.id == chosen.id
        view = await load_profile(tx, user)
        await tx.commit()
    return view


async def remove_address(deps: Deps, *, user_id: str, address_id: str | None) -> ProfileView:
    """Not the last one (``LAST_ADDRESS``). Removing the primary one makes the first remaining one primary;
    the numbers of the others close up. A subscribed address's e-bill ends («Домопульт» is told)."""
    async with deps.uow() as tx:
        user = await lock_user(tx, user_id)
        doomed = await own_address(tx, user, address_id)
        rows = await tx.addresses.of_user(user.id)
        if len(rows) <= 1:
            raise DomainError(ErrorCode.LAST_ADDRESS, "addressId")
        rest = [a for a in rows if a.id != doomed.id]
        if doomed.primary or not any(a.primary for a in rest):
            for a in rest:
                a.primary = a is rest[0]
        if doomed.ebill:
            await queue_ebill(tx, deps, user, doomed, enabled=False, reason=REASON_ADDRESS_REMOVED)
        await tx.addresses.remove(doomed)
        view = await load_profile(tx, user)
        await tx.commit()
    log.info("user %s removed an address (%d left)", user_id, len(view.addresses))
    return view
