"""Personal data and password steps over GraphQL, on both backends: SPEC's texts, one error per field, the
terms acceptance, EMAIL_TAKEN, dates, and the password rules."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from eirc.storage.tables import Consent
from tests.registration_kit import (
    CONFIRM_ADDRESS,
    PERSONAL,
    PERSONAL_DEFAULTS,
    SET_PASSWORD,
    errors_of,
    prove,
    register,
    seed_billing,
    to_account_step,
    to_password_step,
)

REQUIRED = "Пожалуйста, заполните обязательное поле"
INVALID_EMAIL = "Это не похоже на e-mail. Убедитесь, что вы используете символ «@»"
WEAK_PASSWORD = (
    "Не все необходимые условия выполнены. Убедитесь, что пароль полностью соответствует перечисленным ниже "
    "условиям"
)


@pytest.fixture
async def flow_id(gql, container):
    await seed_billing(container)
    flow_id = await to_account_step(gql, container)
    assert (await prove(gql, flow_id))["errors"] == []
    assert (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]["errors"] == []
    return flow_id


async def personal(gql, flow_id, **values):
    return (await gql(PERSONAL, {"id": flow_id, **{**PERSONAL_DEFAULTS, **values}}))["setPersonalData"]


async def test_every_empty_required_field_is_reported(gql, flow_id):
    answer = await personal(gql, flow_id, last=" ", first="", middle="", birth=None, email="")
    assert errors_of(answer) == [("REQUIRED", "lastName"), ("REQUIRED", "firstName"), ("REQUIRED", "email")]
    assert {e["message"] for e in answer["errors"]} == {REQUIRED}
    assert answer["flow"]["step"] == "PERSONAL"


@pytest.mark.parametrize(
    "email", ["ivan.example.com", "ivan@", "@example.com", "ivan@@example.com", "a b@example.com"]
)
async def test_malformed_email(gql, flow_id, email):
    answer = await personal(gql, flow_id, email=email)
    assert answer["errors"] == [
        {
            "code": "INVALID_EMAIL",
            "field": "email",
            "message": INVALID_EMAIL,
            "failedRules": None,
            "hint": None,
        }
    ]


async def test_several_broken_fields_at_once(gql, flow_id):
    answer = await personal(gql, flow_id, first="", email="nope", birth="2999-01-01")
    assert errors_of(answer) == [
        ("REQUIRED", "firstName"),
        ("INVALID_DATE", "birthDate"),
        ("INVALID_EMAIL", "email"),
    ]


@pytest.mark.parametrize("birth", ["2026-01-16", "1899-12-31"])
async def test_future_or_absurd_birth_date(gql, flow_id, birth):
    assert errors_of(await personal(gql, flow_id, birth=birth)) == [("INVALID_DATE", "birthDate")]


async def test_optional_fields_may_be_left_out(gql, flow_id):
    answer = await personal(gql, flow_id, middle=None, birth=None, notify=False)
    assert answer["errors"] == [] and answer["flow"]["step"] == "PASSWORD"
    assert (
        answer["flow"]["data"]["middleName"] is None and answer["flow"]["data"]["emailNotifications"] is False
    )


async def test_names_are_cleaned(gql, flow_id):
    answer = await personal(gql, flow_id, last="  Петрова-\tВодкина  ", first="Анна")
    assert answer["flow"]["data"]["lastName"] == "Петрова- Водкина"


async def test_too_long_name(gql, flow_id):
    assert errors_of(await personal(gql, flow_id, last="Я" * 101)) == [("TOO_LONG", "lastName")]


async def test_terms_acceptance_is_recorded(gql, container, clock, flow_id):
    clock.advance(30)
    assert (await personal(gql, flow_id))["errors"] == []
    async with container.uow() as tx:
        terms = (await tx.session.execute(select(Consent).where(Consent.kind == "terms"))).scalar_one()
        assert terms.terms_version == container.settings.terms_version and terms.accepted_at == clock.now()


async def test_email_taken_by_another_resident(gql, container, flow_id):
    await register(gql, container, phone="+79031112233", email="Taken@Example.com")
    answer = await personal(gql, flow_id, email="taken@example.com")
    assert errors_of(answer) == [("EMAIL_TAKEN", "email")]
    assert (
        answer["errors"][0]["message"]
        == "Этот e-mail уже используется другим пользователем. Укажите другой e-mail"
    )


async def test_email_taken_between_the_steps(gql, container):
    await seed_billing(container)
    flow_id = await to_password_step(gql, container, email="race@example.com")
    await register(gql, container, phone="+79031112233", email="race@example.com")
    answer = (await gql(SET_PASSWORD, {"id": flow_id, "password": "Parol2024"}))["setPassword"]
    assert errors_of(answer) == [("EMAIL_TAKEN", "email")] and answer["session"] is None


@pytest.mark.parametrize(
    ("password", "rules"),
    [
        ("abc12", ["MIN_LENGTH"]),
        ("abc 123", ["LETTERS_AND_DIGITS_ONLY"]),
        ("пароль!", ["LETTERS_AND_DIGITS_ONLY"]),
        ("abc112", ["NO_REPEATED_ADJACENT_DIGITS"]),
        ("1_1", ["MIN_LENGTH", "LETTERS_AND_DIGITS_ONLY"]),
        ("11", ["MIN_LENGTH", "NO_REPEATED_ADJACENT_DIGITS"]),
    ],
)
async def test_weak_passwords(gql, container, password, rules):
    await seed_billing(container)
    flow_id = await to_password_step(gql, container)
    answer = (await gql(SET_PASSWORD, {"id": flow_id, "password": password}))["setPassword"]
    assert answer["errors"] == [
        {
            "code": "WEAK_PASSWORD",
            "field": "password",
            "message": WEAK_PASSWORD,
            "failedRules": rules,
            "hint": None,
        }
    ]
    assert answer["session"] is None and answer["flow"]["step"] == "PASSWORD"


async def test_empty_password(gql, container):
    await seed_billing(container)
    flow_id = await to_password_step(gql, container)
    answer = (await gql(SET_PASSWORD, {"id": flow_id, "password": ""}))["setPassword"]
    assert errors_of(answer) == [("REQUIRED", "password")] and answer["errors"][0]["message"] == REQUIRED


@pytest.mark.parametrize("password", ["Пароль1а2б", "1a1a1a", "abcdef"])
async def test_acceptable_passwords(gql, container, password):
    await seed_billing(container)
    done = await register(gql, container, password=password)
    assert done["session"]["token"]
