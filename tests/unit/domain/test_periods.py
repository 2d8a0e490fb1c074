"""Billing periods: the exact ``YYYY-MM`` value, Russian labels, month arithmetic."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.periods import MONTH_NAMES, Period, last_billed_periods

periods = st.builds(Period, st.integers(min_value=3, max_value=9998), st.integers(min_value=1, max_value=12))


def test_parse() -> None:
    period = Period.parse("2021-06")
    assert period == Period(2021, 6)
    assert period.year == 2021
    assert period.month == 6
    assert period.value == "2021-06"
    assert str(period) == "2021-06"
    assert period.label == "июнь 2021"


@pytest.mark.parametrize(
    ("month", "label"),
    [
        (1, "январь 2021"),
        (2, "февраль 2021"),
        (3, "март 2021"),
        (4, "апрель 2021"),
        (5, "май 2021"),
        (6, "июнь 2021"),
        (7, "июль 2021"),
        (8, "август 2021"),
        (9, "сентябрь 2021"),
        (10, "октябрь 2021"),
        (11, "ноябрь 2021"),
        (12, "декабрь 2021"),
    ],
)
def test_labels(month: int, label: str) -> None:
    assert Period(2021, month).label == label


def test_month_names_are_lowercase_nominative() -> None:
    assert len(MONTH_NAMES) == 12
    assert all(name == name.lower() for name in MONTH_NAMES)


@pytest.mark.parametrize(
    "raw",
    [
        "2021-6",
        "2021-13",
        "2021-00",
        "0000-01",
        "21-06",
        "02021-06",
        "2021/06",
        "2021.06",
        "06.2021",
        "06-2021",
        "2021-06-01",
        "202106",
        " 2021-06",
        "2021-06 ",
        "2021-06\n",
        "2021 - 06",
        "июнь 2021",
        "２０２１-０６",
        "٢٠٢١-٠٦",
        "abcd-ef",
        "-2021-06",
        "+2021-06",
        "2021-+6",
        "2021-06\x00",
        "2021-06" * 100,
    ],
)
def test_refused(raw: str) -> None:
    with pytest.raises(DomainError) as info:
        Period.parse(raw)
    assert info.value.code == ErrorCode.INVALID_PERIOD
    assert info.value.field == "period"


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_empty_is_required(raw: str | None) -> None:
    with pytest.raises(DomainError) as info:
        Period.parse(raw)
    assert info.value.code == ErrorCode.REQUIRED
    assert info.value.field == "period"


def test_field_is_reported() -> None:
    with pytest.raises(DomainError) as info:
        Period.parse("nope", field="billingPeriod")
    assert info.value.field == "billingPeriod"


@pytest.mark.parametrize(("year", "month"), [(2021, 0), (2021, 13), (0, 1), (10000, 1), (2021, -1)])
def test_constructor_refuses_impossible_months(year: int, month: int) -> None:
    with pytest.raises(ValueError):
        Period(year, month)


def test_frozen_and_hashable() -> None:
    period = Period(2021, 6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        period.month = 7  # type: ignore[misc]
    assert {Period(2021, 6), Period.parse("2021-06")} == {period}


def test_previous_and_next_cross_years() -> None:
    assert Period(2021, 6).previous() == Period(2021, 5)
    assert Period(2021, 6).next() == Period(2021, 7)
    assert Period(2021, 1).previous() == Period(2020, 12)
    assert Period(2020, 12).next() == Period(2021, 1)


def test_ordering() -> None:
    assert Period(2020, 12) < Period(2021, 1) < Period(2021, 2) < Period(2021, 10)
    assert max(Period(2021, 2), Period(2020, 12)) == Period(2021, 2)
    assert sorted([Period(2021, 10), Period(2021, 2), Period(2020, 12)]) == [
        Period(2020, 12),
        Period(2021, 2),
        Period(2021, 10),
    ]


def test_from_date_and_first_day() -> None:
    assert Period.from_date(date(2021, 6, 30)) == Period(2021, 6)
    assert Period.from_date(date(2021, 1, 1)) == Period(2021, 1)
    assert Period(2021, 6).first_day() == date(2021, 6, 1)


def test_last_billed_periods() -> None:
    assert last_billed_periods(Period(2021, 6)) == [Period(2021, 6), Period(2021, 5), Period(2021, 4)]
    assert last_billed_periods(Period(2021, 2)) == [Period(2021, 2), Period(2021, 1), Period(2020, 12)]
    assert last_billed_periods(Period(2021, 6), count=1) == [Period(2021, 6)]
    assert last_billed_periods(Period(2021, 6), count=0) == []
    assert [p.label for p in last_billed_periods(Period(2021, 1))] == [
        "январь 2021",
        "декабрь 2020",
        "ноябрь 2020",
    ]


def test_last_billed_periods_does_not_step_past_the_calendar() -> None:
    assert last_billed_periods(Period(1, 1), count=1) == [Period(1, 1)]


def test_last_billed_periods_refuses_negative_count() -> None:
    with pytest.raises(ValueError):
        last_billed_periods(Period(2021, 6), count=-1)


# --- properties ------------------------------------------------------------------------------------


@given(st.builds(Period, st.integers(min_value=1, max_value=9999), st.integers(min_value=1, max_value=12)))
def test_parse_value_round_trips(period: Period) -> None:
    assert Period.parse(period.value) == period
    assert len(period.value) == 7


@given(periods)
def test_previous_and_next_are_inverse(period: Period) -> None:
    assert period.previous().next() == period
    assert period.next().previous() == period
    assert period.previous() < period < period.next()


@given(periods)
def test_previous_is_the_month_before_first_day(period: Period) -> None:
    from datetime import timedelta

    assert period.previous() == Period.from_date(period.first_day() - timedelta(days=1))


@given(st.lists(periods, max_size=20))
def test_ordering_is_chronological(items: list[Period]) -> None:
    assert sorted(items) == sorted(items, key=lambda p: p.first_day())
    assert sorted(items) == sorted(items, key=lambda p: p.value)


@given(periods, st.integers(min_value=0, max_value=24))
def test_last_billed_periods_are_consecutive_newest_first(newest: Period, count: int) -> None:
    result = last_billed_periods(newest, count)
    assert len(result) == count
    if result:
        assert result[0] == newest
    for later, earlier in itertools.pairwise(result):
        assert earlier.next() == later


@given(st.text(max_size=20))
def test_arbitrary_text_only_ever_raises_domain_errors(raw: str) -> None:
    try:
        period = Period.parse(raw)
    except DomainError as exc:
        assert exc.code in (ErrorCode.INVALID_PERIOD, ErrorCode.REQUIRED)
    else:
        assert period.value == raw
