"""Helpers for the profile tests: two residents registered through the API, billing accounts to add, GraphQL
documents of the profile mutations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eirc.bootstrap import Container
from tests.registration_kit import (
    ACCOUNT,
    ADDRESS,
    BILLS,
    ERRORS,
    OTHER_ACCOUNT,
    OTHER_ADDRESS,
    PROFILE_FIELDS,
    last_email_token,
    register,
    seed_billing,
)

PROFILE = PROFILE_FIELDS.replace("primary ebill }", "primary ebill ebillPaused }")
ME = f"query {{ me {{ {PROFILE} }} }}"
PAYLOAD = f"{{ profile {{ {PROFILE} }} {ERRORS} }}"

ADD = f"""
mutation($period: String!, $account: String!, $amount: String!) {{
  addAddress(period: $period, accountNumber: $account, amountDue: $amount) {PAYLOAD}
}}"""
CONFIRM_EMAIL = f"mutation($token: String!) {{ confirmEmail(token: $token) {PAYLOAD} }}"
SET_PRIMARY = f"mutation($id: ID!) {{ setPrimaryAddress(addressId: $id) {PAYLOAD} }}"
REMOVE = f"mutation($id: ID!) {{ removeAddress(addressId: $id) {PAYLOAD} }}"
SET_EBILL = f"mutation($id: ID!, $on: Boolean!) {{ setEbill(addressId: $id, enabled: $on) {PAYLOAD} }}"
LOGIN = f"""
mutation($login: String!, $password: String!) {{
  login(login: $login, password: $password) {{ session {{ token }} {ERRORS} }}
}}"""


def update_profile(**args: str) -> str:
    """An `updateProfile` document passing only the given arguments (so omitted ones are really omitted);
    `args` maps an argument to its GraphQL literal, e.g. ``middleName="null"``."""
    given = ", ".join(f"{k}: {v}" for k, v in args.items())
    call = f"updateProfile({given})" if given else "updateProfile"
    return f"mutation {{ {call} {PAYLOAD} }}"


# Two more accounts to add (three addresses for one resident).
THIRD_ACCOUNT = "5033333333"
THIRD_ADDRESS = "Г.О. ХИМКИ Р-Н., Г. ХИМКИ, МЕЛЬНИКОВА. ПР-Т.,"
FOURTH_ACCOUNT = "5044444444"
FOURTH_ADDRESS = "Г.О. ДМИТРОВСКИЙ, Д. ИВАНОВКА, УЛ. САДОВАЯ, Д.7"
AMOUNTS = {  # account → (period, amount as a resident types it)
    ACCOUNT: ("2025-12", "1 234,56"),
    OTHER_ACCOUNT: ("2025-12", "500"),
    THIRD_ACCOUNT: ("2025-11", "999,9"),
    FOURTH_ACCOUNT: ("2025-10", "12.34"),
}

PHONE_A = "+79161234567"
EMAIL_A = "ivan.petrov@example.com"
PHONE_B = "+79167654321"
EMAIL_B = "maria.petrova@example.com"
PASSWORD = "Parol2024a"


async def seed_accounts(c: Container) -> None:
    await seed_billing(
        c,
        [
            (ACCOUNT, ADDRESS, BILLS),
            (OTHER_ACCOUNT, OTHER_ADDRESS, {"2025-12": 50000}),
            (THIRD_ACCOUNT, THIRD_ADDRESS, {"2025-12": 10000, "2025-11": 99990}),
            (FOURTH_ACCOUNT, FOURTH_ADDRESS, {"2025-10": 1234}),
        ],
    )


@dataclass
class Resident:
    token: str
    phone: str
    email: str
    profile_id: str


async def two_residents(gql: Any, c: Container) -> tuple[Resident, Resident]:
    """Ivan and Maria: one family, both registered with the same account (each with their own profile)."""
    await seed_accounts(c)
    residents = []
    for phone, email, first in ((PHONE_A, EMAIL_A, "Иван"), (PHONE_B, EMAIL_B, "Мария")):
        done = await register(gql, c, phone, PASSWORD, email=email, first=first)
        residents.append(Resident(done["session"]["token"], phone, email, done["profile"]["id"]))
    return residents[0], residents[1]


async def confirm_email(gql: Any, c: Container, email: str, token: str | None = None) -> dict | None:
    """Open the e-mail's last link: the profile comes back only to that resident's own session (`token`)."""
    answer = (await gql(CONFIRM_EMAIL, {"token": await last_email_token(c, email)}, token=token))["confirmEmail"]
    assert answer["errors"] == [], answer
    return answer["profile"]


async def me(gql: Any, token: str | None) -> dict | None:
    return (await gql(ME, token=token))["me"]


async def add(
    gql: Any, token: str, account: str, *, period: str | None = None, amount: str | None = None
) -> dict:
    p, a = AMOUNTS[account]
    variables = {"period": period or p, "account": account, "amount": amount or a}
    return (await gql(ADD, variables, token=token))["addAddress"]


def numbered(profile: dict) -> list[tuple[int, str, bool]]:
    return [(a["number"], a["accountNumber"], a["primary"]) for a in profile["addresses"]]


def address_id(profile: dict, account: str) -> str:
    return next(a["id"] for a in profile["addresses"] if a["accountNumber"] == account)
