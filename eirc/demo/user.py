"""The demo resident of `make serve` / `eirc serve --demo`: created once, through the same service as
`eirc users create` (so by registration's rules), with a demo billing account as its primary address.

Idempotent: run again, it finds the user by phone and changes nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import func, select

from eirc.domain.money import format_amount
from eirc.domain.phone import format_phone
from eirc.settings import Settings

DEMO_PHONE = "+79990000001"
DEMO_PASSWORD = "demo2024"
DEMO_EMAIL = "demo@example.com"
DEMO_LAST_NAME = "Демонстрационный"
DEMO_FIRST_NAME = "Пользователь"


@dataclass(frozen=True)
class DemoUser:
    phone: str
    password: str
    email: str
    account_number: str | None
    created: bool  # False: it was there already

    def what_to_try(self) -> list[str]:
        return [
            f"Demo resident: login {format_phone(self.phone)} (or {self.email}), password {self.password}",
            '  e.g. mutation { login(login: "' + self.phone + '", password: "' + self.password + '") '
            "{ session { token } errors { message } } }",
        ]


def create_demo_user(settings: Settings) -> DemoUser:
    return asyncio.run(_create(settings))


def demo_user_step(settings: Settings) -> list[str]:
    """A step of `eirc.demo.DEMO_STEPS`: the demo resident, and its lines of the "what to try" block."""
    return create_demo_user(settings).what_to_try()


async def _create(settings: Settings) -> DemoUser:
    from eirc.bootstrap import build_container
    from eirc.services.users import AccountProof, create_user
    from eirc.storage.tables import Bill, User, UserAddress

    container = build_container(settings)
    try:
        async with container.uow() as tx:
            existing = (
                await tx.session.execute(select(User).where(User.phone == DEMO_PHONE))
            ).scalar_one_or_none()
            if existing is not None:
                account = (
                    await tx.session.execute(
                        select(UserAddress.account_number)
                        .where(UserAddress.user_id == existing.id)
                        .order_by(UserAddress.position)
                    )
                ).scalar()
                return DemoUser(
                    DEMO_PHONE, DEMO_PASSWORD, existing.email or DEMO_EMAIL, account, created=False
                )
            # The first account billed in the newest period: the proof uses its real bill.
            newest = (await tx.session.execute(select(func.max(Bill.period)))).scalar()
            bill = None
            if newest:
                bill = (
                    await tx.session.execute(
                        select(Bill).where(Bill.period == newest).order_by(Bill.account_number).limit(1)
                    )
                ).scalar_one_or_none()
            proof = (
                AccountProof(
                    account_number=bill.account_number,
                    period=bill.period,
                    amount_due=format_amount(bill.amount_kopecks),
                )
                if bill is not None and bill.amount_kopecks >= 0
                else None
            )
        profile = await create_user(
            container,
            phone=DEMO_PHONE,
            password=DEMO_PASSWORD,
            last_name=DEMO_LAST_NAME,
            first_name=DEMO_FIRST_NAME,
            email=DEMO_EMAIL,
            email_confirmed=True,
            email_notifications=True,
            account=proof,
            source="cli",
        )
        return DemoUser(
            DEMO_PHONE,
            DEMO_PASSWORD,
            DEMO_EMAIL,
            proof.account_number if proof else None,
            created=profile is not None,
        )
    finally:
        await container.dispose()
