"""Billing data imported from the billing centre: accounts (`billing_account`) and their bills (`bill`)."""

from __future__ import annotations

from sqlalchemy import select

from eirc.storage.repository import Repository
from eirc.storage.tables import Bill, BillingAccount


class Billing(Repository):
    async def account(self, account_number: str) -> BillingAccount | None:
        return await self.session.get(BillingAccount, account_number)

    async def address_of(self, account_number: str) -> str | None:
        stmt = select(BillingAccount.address).where(BillingAccount.account_number == account_number)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def amount_due(self, account_number: str, period: str) -> int | None:
        """The bill's amount in kopecks for that account and period, or None when there is no such bill."""
        stmt = select(Bill.amount_kopecks).where(Bill.account_number == account_number, Bill.period == period)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def latest_periods(self, *, not_after: str, limit: int) -> list[str]:
        """The newest `limit` periods that have bills, none later than `not_after` ("YYYY-MM"), newest first."""
        stmt = (
            select(Bill.period)
            .where(Bill.period <= not_after)
            .group_by(Bill.period)
            .order_by(Bill.period.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())
