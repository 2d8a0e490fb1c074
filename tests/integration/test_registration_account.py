"""The billing-account proof over GraphQL, on both backends: SPEC's texts, amounts in any spelling, the
connection-request hint, and the attempt limit that keeps the amount from being found by trying."""

from __future__ import annotations

import pytest

from eirc.domain import texts
from tests.registration_kit import (
    ACCOUNT,
    ADDRESS,
    OTHER_ACCOUNT,
    errors_of,
    prove,
    seed_billing,
    to_account_step,
)

UNKNOWN_ACCOUNT = (
    "Вы ввели неправильный номер лицевого счета. Пожалуйста, введите правильные данные и попробуйте еще раз"
)
AMOUNT_MISMATCH = (
    "Введенная сумма не соответствует расчетному периоду. Убедитесь в ее верности и соответствии указанному "
    "периоду и попробуйте еще раз"
)
HINT = "В случае ошибки вы можете оставить заявку на подключение, мы ее обязательно рассмотрим"
REQUIRED = "Пожалуйста, заполните обязательное поле"


@pytest.fixture
async def flow_id(gql, container):
    await seed_billing(container)
    return await to_account_step(gql, container)


@pytest.mark.parametrize("amount", ["1234.56", "1 234,56", "1234,56", " 1 234,56 ₽", "1\u00a0234,56"])
async def test_amount_in_any_spelling(gql, flow_id, amount):
    answer = await prove(gql, flow_id, amount=amount)
    assert answer["errors"] == [] and answer["flow"]["address"] == ADDRESS
    assert answer["flow"]["data"]["amountDue"] == amount.strip()


@pytest.mark.parametrize(
    ("period", "amount"), [("2025-11", "300"), ("2025-11", "300.00"), ("2025-10", "300,5")]
)
async def test_older_periods(gql, flow_id, period, amount):
    assert (await prove(gql, flow_id, period=period, amount=amount))["errors"] == []


async def test_account_number_with_spaces(gql, flow_id):
    assert (await prove(gql, flow_id, account=" 50 1234 5678 "))["errors"] == []


async def test_unknown_account(gql, flow_id):
    answer = await prove(gql, flow_id, account="9999999999")
    assert answer["errors"] == [
        {
            "code": "UNKNOWN_ACCOUNT",
            "field": "accountNumber",
            "message": UNKNOWN_ACCOUNT,
            "failedRules": None,
            "hint": HINT,
        }
    ]
    assert answer["flow"]["step"] == "ACCOUNT"


@pytest.mark.parametrize(
    ("period", "account", "amount"),
    [
        ("2025-12", ACCOUNT, "1234.55"),  # off by a kopeck
        ("2025-11", ACCOUNT, "1234.56"),  # another month's amount
        ("2025-11", OTHER_ACCOUNT, "500"),  # no bill for that period at all
    ],
)
async def test_amount_mismatch(gql, flow_id, period, account, amount):
    answer = await prove(gql, flow_id, period=period, account=account, amount=amount)
    assert answer["errors"] == [
        {
            "code": "AMOUNT_MISMATCH",
            "field": "amountDue",
            "message": AMOUNT_MISMATCH,
            "failedRules": None,
            "hint": HINT,
        }
    ]


async def test_empty_fields_are_each_required(gql, flow_id):
    answer = await prove(gql, flow_id, period="", account=" ", amount="")
    assert errors_of(answer) == [
        ("REQUIRED", "period"),
        ("REQUIRED", "accountNumber"),
        ("REQUIRED", "amountDue"),
    ]
    assert {e["message"] for e in answer["errors"]} == {REQUIRED}


@pytest.mark.parametrize("period", ["2025-09", "2026-01", "июнь 2021", "2025-13", "2025-1"])
async def test_period_must_be_one_of_the_billing_periods(gql, flow_id, period):
    answer = await prove(gql, flow_id, period=period)
    assert errors_of(answer) == [("INVALID_PERIOD", "period")]
    assert answer["errors"][0]["message"] == texts.ERROR_TEXTS["INVALID_PERIOD"]


@pytest.mark.parametrize("amount", ["-5", "1e3", "abc", "1,234.56", "12.345"])
async def test_malformed_amount(gql, flow_id, amount):
    assert errors_of(await prove(gql, flow_id, amount=amount)) == [("INVALID_AMOUNT", "amountDue")]


async def test_oversized_arguments_are_refused_before_any_work(gql, flow_id):
    assert errors_of(await prove(gql, flow_id, account="1" * 10_000)) == [("TOO_LONG", "accountNumber")]


async def test_failed_proofs_are_limited_per_flow_and_per_phone(gql, container, clock, flow_id):
    limit = container.settings.account_max_attempts
    for i in range(limit):
        answer = (
            await prove(gql, flow_id, amount=f"{i}.01") if i % 2 else await prove(gql, flow_id, account="42")
        )
        assert answer["errors"][0]["code"] in ("AMOUNT_MISMATCH", "UNKNOWN_ACCOUNT")
    # The limit is checked before comparing: now even the right amount is refused.
    answer = await prove(gql, flow_id)
    assert errors_of(answer) == [("ACCOUNT_ATTEMPTS_EXCEEDED", "accountNumber")]
    assert answer["errors"][0]["message"] == texts.ERROR_TEXTS["ACCOUNT_ATTEMPTS_EXCEEDED"]
    # Malformed input is not counted but does not get through either.
    assert errors_of(await prove(gql, flow_id, period="")) == [("REQUIRED", "period")]
    # A new flow for the same phone does not reset it.
    clock.advance(60)
    other = await to_account_step(gql, container)
    assert errors_of(await prove(gql, other)) == [("ACCOUNT_ATTEMPTS_EXCEEDED", "accountNumber")]
    # An hour later the resident may try again.
    clock.advance(3600)
    fresh = await to_account_step(gql, container)
    assert (await prove(gql, fresh))["errors"] == []


async def test_successes_do_not_use_up_attempts(gql, container, flow_id):
    from tests.registration_kit import GO_BACK

    for _ in range(container.settings.account_max_attempts + 2):
        assert (await prove(gql, flow_id))["errors"] == []
        assert (await gql(GO_BACK, {"id": flow_id}))["goBack"]["flow"]["step"] == "ACCOUNT"
    assert (await prove(gql, flow_id, amount="1"))["errors"][0]["code"] == "AMOUNT_MISMATCH"
