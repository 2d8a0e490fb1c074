"""A bill for a month that has not begun (issue 17): the import refuses it, and whatever is already stored
cannot move `billingPeriods` — nor the account proof, which checks against it — past the current month.
On both backends, through the import service and GraphQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eirc.clock import FrozenClock
from eirc.services.billing import show_account
from eirc.services.billing_import import import_billing_csv
from tests.registration_kit import (
    ACCOUNT,
    ADDRESS,
    BILLS,
    OTHER_ACCOUNT,
    OTHER_ADDRESS,
    errors_of,
    prove,
    seed_billing,
    to_account_step,
)

HEADER = "account_number,period,amount_due,address"
PERIODS = "{ billingPeriods { value label } }"


def write(tmp_path: Path, rows: list[tuple[str, ...]]) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(rows)
    path = tmp_path / "bills.csv"
    path.write_text(HEADER + "\n" + out.getvalue(), encoding="utf-8")
    return path


async def offered(gql) -> list[str]:
    return [p["value"] for p in (await gql(PERIODS))["billingPeriods"]]


async def test_a_bill_for_a_month_not_begun_is_refused_with_what_it_was(container, gql, tmp_path):
    # The frozen clock stands at 2026-01-15: January has begun, February has not.
    report = await import_billing_csv(
        container.uow,
        container.clock,
        write(
            tmp_path,
            [
                ("5001", "2025-12", "100.00", ADDRESS),  # line 2
                ("5001", "2026-01", "110.00", ADDRESS),  # line 3: the current month is fine
                ("5001", "2099-01", "120.00", ADDRESS),  # line 4
                ("5002", "2026-02", "130.00", OTHER_ADDRESS),  # line 5: the only row of 5002
            ],
        ),
    )
    assert (report.added, report.refused_count) == (2, 2)
    assert {r.line: r.reason for r in report.refused} == {
        4: "a bill of account 5001 for 2099-01, a month after the current one (2026-01): "
        "bills are for months that have begun",
        5: "a bill of account 5002 for 2026-02, a month after the current one (2026-01): "
        "bills are for months that have begun",
    }
    assert await offered(gql) == ["2026-01", "2025-12", "2025-11"]
    assert await show_account(container.uow, "5002") is None  # nothing of a refused row is written
    assert [period for period, _ in (await show_account(container.uow, "5001")).bills] == [
        "2026-01",
        "2025-12",
    ]


@pytest.mark.parametrize("clock", [FrozenClock(datetime(2026, 1, 31, 22, 0, tzinfo=UTC))])
async def test_the_current_month_is_moscow_s(container, tmp_path, clock):
    # 22:00 UTC on 31 January is 01:00 on 1 February in Moscow: February's bills may come.
    report = await import_billing_csv(
        container.uow, container.clock, write(tmp_path, [("5001", "2026-02", "1.00", ADDRESS)])
    )
    assert (report.added, report.refused) == (1, [])


async def test_stored_periods_after_the_current_month_are_never_offered(container, gql):
    # Data an earlier version let in: a far-future bill and a value that is not a period at all.
    await seed_billing(
        container,
        [
            (ACCOUNT, ADDRESS, {**BILLS, "2099-01": 100, "2026-07": 200}),
            (OTHER_ACCOUNT, OTHER_ADDRESS, {"2025-1x": 300, "2025-12": 50000}),
        ],
    )
    assert await offered(gql) == ["2025-12", "2025-11", "2025-10"]
    flow_id = await to_account_step(gql, container)
    assert errors_of(await prove(gql, flow_id, period="2099-01", amount="1,00")) == [
        ("INVALID_PERIOD", "period")
    ]
    answer = await prove(gql, flow_id)  # 2025-12, the newest month that has begun
    assert answer["errors"] == [] and answer["flow"]["address"] == ADDRESS


async def test_only_future_or_broken_periods_stored_offers_the_months_before_today(container, gql):
    await seed_billing(container, [(ACCOUNT, ADDRESS, {"2099-01": 100, "0000-00": 1, "0001-01": 2})])
    assert await offered(gql) == ["2025-12", "2025-11", "2025-10"]
    flow_id = await to_account_step(gql, container)
    assert errors_of(await prove(gql, flow_id, period="2025-12")) == [("AMOUNT_MISMATCH", "amountDue")]
