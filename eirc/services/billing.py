"""Billing data use cases: the periods a resident may choose, an account's bills."""

from __future__ import annotations

from datetime import datetime

from eirc.clock import Clock
from eirc.domain.errors import DomainError
from eirc.domain.periods import Period, last_billed_periods
from eirc.domain.personal import local_today
from eirc.storage.billing import AccountBills
from eirc.storage.db import UnitOfWork, UnitOfWorkFactory

__all__ = ["AccountBills", "billing_periods", "periods_in", "show_account"]


async def billing_periods(uow: UnitOfWorkFactory, clock: Clock) -> list[Period]:
    """The last three billed months, newest first (docs/billing.md, «Billing periods»).

    "Billed" means: the newest period of a bill that is not after the current month (Moscow time), and the
    two months before it. With no such bill, the three months before the current one (a bill is issued
    after its month ends). A bill stored for a later month (the import refuses them now; older data may
    hold one) is never offered, so it cannot move every resident's choice into the future.
    """
    async with uow() as tx:
        return await periods_in(tx, now=clock.now())


async def periods_in(tx: UnitOfWork, *, now: datetime) -> list[Period]:
    """`billing_periods` inside the caller's transaction (account proofs run in one)."""
    current = Period.from_date(local_today(now))
    bound = current.next().value
    while (newest := await tx.billing.newest_period(before=bound)) is not None:
        try:
            return last_billed_periods(Period.parse(newest))
        except (DomainError, ValueError):  # not a period we can offer (no import of ours wrote it)
            bound = newest
    return last_billed_periods(current.previous())


async def show_account(uow: UnitOfWorkFactory, account_number: str) -> AccountBills | None:
    async with uow() as tx:
        return await tx.billing.account_bills(account_number.strip())
