"""Billing data use cases: the periods a resident may choose, an account's bills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from eirc.clock import Clock
from eirc.domain.periods import Period, last_billed_periods
from eirc.storage.db import UnitOfWorkFactory
from eirc.storage.tables import Bill, BillingAccount


async def billing_periods(uow: UnitOfWorkFactory, clock: Clock) -> list[Period]:
    """The last three billed months, newest first.

    "Billed" means: the newest period present in the bills table and the two months before it. With no
    bills at all, the three months before the current one (a bill is issued after its month ends).
    """
    async with uow() as tx:
        return await periods_in(tx.session, now=clock.now())


async def periods_in(session: AsyncSession, *, now: datetime) -> list[Period]:
    """`billing_periods` inside the caller's transaction (account proofs run in one)."""
    newest = (await session.execute(select(func.max(Bill.period)))).scalar_one_or_none()
    if newest:
        return last_billed_periods(Period.parse(newest))
    return last_billed_periods(Period.from_date(now.date()).previous())


@dataclass(frozen=True)
class AccountBills:
    account_number: str
    address: str
    bills: list[tuple[str, int]]  # (period, kopecks), newest first


async def show_account(uow: UnitOfWorkFactory, account_number: str) -> AccountBills | None:
    async with uow() as tx:
        account = await tx.session.get(BillingAccount, account_number.strip())
        if account is None:
            return None
        rows = (
            await tx.session.execute(
                select(Bill.period, Bill.amount_kopecks)
                .where(Bill.account_number == account.account_number)
                .order_by(Bill.period.desc())
            )
        ).all()
        # Built inside the transaction: leaving it rolls back, which expires the loaded account.
        return AccountBills(account.account_number, account.address, [(p, k) for p, k in rows])
