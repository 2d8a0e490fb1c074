"""Helpers shared by the sign-in tests: residents created through the real services, GraphQL documents."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from eirc.bootstrap import Container
from eirc.services.users import create_user
from eirc.storage.tables import Bill, BillingAccount, Counter, Delivery, User

PHONE = "+79161234567"
PASSWORD = "Secret7a"
NEW_PASSWORD = "Another8b"
EMAIL = "ivan.petrov@example.com"
ACCOUNT = "5012345678"
ADDRESS = "г.Москва, ул.Вяземская, д.34, к.2, кв.90"

LOGIN = """
mutation($login: String!, $password: String!) {
  login(login: $login, password: $password) {
    session { token expiresAt }
    profile { id phone email emailConfirmed addresses { number accountNumber primary } }
    errors { code field message failedRules }
  }
}"""

ME = "{ me { id phone email } }"

FLOW_FIELDS = "flow { id kind step phone expiresAt resendAvailableInSeconds } errors { code field message }"


async def add_account(c: Container, number: str = ACCOUNT, address: str = ADDRESS) -> None:
    now = c.clock.now()
    async with c.uow() as tx:
        tx.session.add(BillingAccount(account_number=number, address=address, updated_at=now))
        await tx.session.flush()
        tx.session.add(Bill(account_number=number, period="2025-12", amount_kopecks=123456))
        await tx.commit()


async def make_user(
    c: Container,
    *,
    phone: str = PHONE,
    password: str = PASSWORD,
    email: str = EMAIL,
    email_confirmed: bool = True,
) -> str:
    profile = await create_user(
        c,
        phone=phone,
        password=password,
        last_name="Петров",
        first_name="Иван",
        email=email,
        email_confirmed=email_confirmed,
    )
    return profile.id


async def user_by_phone(c: Container, phone: str = PHONE) -> User:
    async with c.uow() as tx:
        user = (await tx.session.execute(select(User).where(User.phone == phone))).scalar_one()
        tx.session.expunge(user)  # keep its loaded values after the read-only transaction ends
        return user


async def deliveries(c: Container, kind: str | None = None, recipient: str | None = None) -> list[Delivery]:
    async with c.uow() as tx:
        stmt = select(Delivery).order_by(Delivery.created_at)
        if kind:
            stmt = stmt.where(Delivery.kind == kind)
        if recipient:
            stmt = stmt.where(Delivery.recipient == recipient)
        rows = list((await tx.session.execute(stmt)).scalars())
        tx.session.expunge_all()
        return rows


async def login_counter_rows(c: Container) -> int:
    async with c.uow() as tx:
        return (
            await tx.session.execute(
                select(func.count()).select_from(Counter).where(Counter.key.like("login:%"))
            )
        ).scalar_one()


async def login(gql: Any, login: str, password: str) -> dict:
    return (await gql(LOGIN, {"login": login, "password": password}))["login"]


def codes_of(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


class CountingVerify:
    """Wraps the container's hasher to count argon2 verifications (every verification, on the loop's
    behalf or in the sign-in's worker thread, is a `verify_sync`)."""

    def __init__(self, c: Container, monkeypatch: Any) -> None:
        self.calls = 0
        self._inner = c.hasher.verify_sync
        monkeypatch.setattr(
            c.hasher, "verify_sync", self
        )  # the hasher is shared by the session: undone after

    def __call__(self, stored: str | None, password: str) -> bool:
        self.calls += 1
        return self._inner(stored, password)
