"""Helpers for the registration tests: billing data, GraphQL documents, secrets read back from the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from eirc.bootstrap import Container
from eirc.storage.tables import Bill, BillingAccount, Delivery

ACCOUNT = "5012345678"
ADDRESS = "г.Москва, ул.Вяземская, д.34, к.2, кв.90"
OTHER_ACCOUNT = "5087654321"
OTHER_ADDRESS = "Г.О. ХИМКИ Р-Н., Г. ХИМКИ, МЕЛЬНИКОВА. ПР-Т., Д.2, КВ.15"
# The frozen clock stands at 2026-01-15: the newest billed month is 2025-12.
BILLS = {"2025-12": 123456, "2025-11": 30000, "2025-10": 30050}
PHONE = "+79161234567"
PASSWORD = "Parol2024a"
EMAIL = "ivan.petrov@example.com"

FLOW_FIELDS = """
fragment F on Flow {
  id kind step phone expiresAt resendAvailableInSeconds address phoneVerified
  data { period accountNumber amountDue lastName firstName middleName birthDate email emailNotifications }
}
"""
ERRORS = "errors { code field message failedRules hint }"
PROFILE_FIELDS = """
  id lastName firstName middleName birthDate phone email emailConfirmed emailNotifications gosuslugiLinked
  addresses { id number text accountNumber primary ebill }
"""

START = (
    FLOW_FIELDS
    + f"""
mutation($phone: String!, $consent: Boolean!) {{
  startPhone(phone: $phone, consent: $consent) {{ flow {{ ...F }} {ERRORS} }}
}}"""
)
RESEND = (
    FLOW_FIELDS
    + f"""
mutation($id: ID!) {{ resendCode(flowId: $id) {{ flow {{ ...F }} {ERRORS} }} }}"""
)
CONFIRM_CODE = (
    FLOW_FIELDS
    + f"""
mutation($id: ID!, $code: String!) {{ confirmCode(flowId: $id, code: $code) {{ flow {{ ...F }} {ERRORS} }} }}"""
)
PROVE = (
    FLOW_FIELDS
    + f"""
mutation($id: ID!, $period: String!, $account: String!, $amount: String!) {{
  proveAccount(flowId: $id, period: $period, accountNumber: $account, amountDue: $amount) {{
    flow {{ ...F }} {ERRORS}
  }}
}}"""
)
CONFIRM_ADDRESS = (
    FLOW_FIELDS
    + f"""
mutation($id: ID!) {{ confirmAddress(flowId: $id) {{ flow {{ ...F }} {ERRORS} }} }}"""
)
PERSONAL = (
    FLOW_FIELDS
    + f"""
mutation($id: ID!, $last: String!, $first: String!, $middle: String, $birth: Date, $email: String!,
         $notify: Boolean!) {{
  setPersonalData(flowId: $id, lastName: $last, firstName: $first, middleName: $middle, birthDate: $birth,
                  email: $email, emailNotifications: $notify) {{ flow {{ ...F }} {ERRORS} }}
}}"""
)
SET_PASSWORD = (
    FLOW_FIELDS
    + f"""
mutation($id: ID!, $password: String!) {{
  setPassword(flowId: $id, password: $password) {{
    session {{ token expiresAt }} profile {{ {PROFILE_FIELDS} }} flow {{ ...F }} {ERRORS}
  }}
}}"""
)
GO_BACK = (
    FLOW_FIELDS
    + f"""
mutation($id: ID!) {{ goBack(flowId: $id) {{ flow {{ ...F }} {ERRORS} }} }}"""
)
CANCEL = (
    FLOW_FIELDS
    + f"""
mutation($id: ID!) {{ cancelFlow(flowId: $id) {{ flow {{ ...F }} {ERRORS} }} }}"""
)
FLOW = (
    FLOW_FIELDS
    + """
query($id: ID!) { flow(id: $id) { ...F } }"""
)
ME = f"query {{ me {{ {PROFILE_FIELDS} }} }}"
CONFIRM_EMAIL = f"""
mutation($token: String!) {{ confirmEmail(token: $token) {{ profile {{ {PROFILE_FIELDS} }} {ERRORS} }} }}"""

PERSONAL_DEFAULTS: dict[str, Any] = {
    "last": "Петров",
    "first": "Иван",
    "middle": "Сергеевич",
    "birth": "1985-04-12",
    "email": EMAIL,
    "notify": True,
}


async def seed_billing(
    c: Container,
    accounts: list[tuple[str, str, dict[str, int]]] | None = None,
) -> None:
    """Billing accounts with their bills (period → kopecks)."""
    accounts = accounts or [(ACCOUNT, ADDRESS, BILLS), (OTHER_ACCOUNT, OTHER_ADDRESS, {"2025-12": 50000})]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    async with c.uow() as tx:
        for number, address, bills in accounts:
            tx.session.add(BillingAccount(account_number=number, address=address, updated_at=now))
            await tx.session.flush()
            for period, kopecks in bills.items():
                tx.session.add(Bill(account_number=number, period=period, amount_kopecks=kopecks))
        await tx.commit()


async def deliveries(c: Container, *, channel: str | None = None, kind: str | None = None) -> list[Delivery]:
    async with c.uow() as tx:
        stmt = select(Delivery).order_by(Delivery.created_at, Delivery.id)
        if channel:
            stmt = stmt.where(Delivery.channel == channel)
        if kind:
            stmt = stmt.where(Delivery.kind == kind)
        rows = list((await tx.session.execute(stmt)).scalars())
        tx.session.expunge_all()  # keep their loaded state past the rollback at the end of the block
        return rows


async def sms_ids(c: Container) -> set[str]:
    return {d.id for d in await deliveries(c, channel="sms")}


async def last_code(c: Container, phone: str = PHONE, *, before: set[str] | None = None) -> str:
    """The code of the newest pending SMS to `phone` (or of the one SMS not in `before`), decrypted from the
    outbox — what the provider would receive. With the frozen clock several SMS share a time: pass `before`
    (from `sms_ids`) when more than one flow of the number is open."""
    rows = [d for d in await deliveries(c, channel="sms") if d.recipient == phone and d.secret_enc]
    if before is not None:
        rows = [d for d in rows if d.id not in before]
        assert len(rows) == 1, f"expected one new SMS to {phone}, found {len(rows)}"
    assert rows, f"no pending SMS to {phone}"
    newest = max(rows, key=lambda d: d.created_at)
    code = c.secrets.decrypt(newest.secret_enc or "")
    assert code is not None
    return code


async def last_email_token(c: Container, email: str = EMAIL) -> str:
    rows = [d for d in await deliveries(c, channel="email") if d.recipient == email and d.secret_enc]
    assert rows, f"no pending letter to {email}"
    token = c.secrets.decrypt(rows[-1].secret_enc or "")
    assert token is not None
    return token


def errors_of(payload: dict) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def start(gql: Any, phone: str = PHONE, consent: bool = True) -> dict:
    return (await gql(START, {"phone": phone, "consent": consent}))["startPhone"]


async def to_account_step(gql: Any, c: Container, phone: str = PHONE) -> str:
    before = await sms_ids(c)
    payload = await start(gql, phone)
    assert payload["errors"] == [], payload
    flow_id = payload["flow"]["id"]
    code = await last_code(c, phone, before=before)
    confirmed = (await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"]
    assert confirmed["errors"] == [] and confirmed["flow"]["step"] == "ACCOUNT", confirmed
    return flow_id


async def prove(
    gql: Any, flow_id: str, *, period: str = "2025-12", account: str = ACCOUNT, amount: str = "1 234,56"
) -> dict:
    return (await gql(PROVE, {"id": flow_id, "period": period, "account": account, "amount": amount}))[
        "proveAccount"
    ]


async def to_password_step(gql: Any, c: Container, phone: str = PHONE, **personal: Any) -> str:
    flow_id = await to_account_step(gql, c, phone)
    assert (await prove(gql, flow_id))["errors"] == []
    assert (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]["errors"] == []
    answer = (await gql(PERSONAL, {"id": flow_id, **{**PERSONAL_DEFAULTS, **personal}}))["setPersonalData"]
    assert answer["errors"] == [] and answer["flow"]["step"] == "PASSWORD", answer
    return flow_id


async def register(
    gql: Any, c: Container, phone: str = PHONE, password: str = PASSWORD, **personal: Any
) -> dict:
    """A whole registration; the setPassword payload."""
    flow_id = await to_password_step(gql, c, phone, **personal)
    done = (await gql(SET_PASSWORD, {"id": flow_id, "password": password}))["setPassword"]
    assert done["errors"] == [], done
    return done
