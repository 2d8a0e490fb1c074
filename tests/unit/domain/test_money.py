"""Amounts: typed text → integer kopecks, exactly; never a float on the way."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from eirc.domain import money
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.money import MAX_KOPECKS, MAX_RAW_LENGTH, format_amount, parse_amount


@pytest.mark.parametrize(
    ("raw", "kopecks"),
    [
        # SPEC §2 step 3
        ("300", 30000),
        ("300.00", 30000),
        ("300,5", 30050),
        ("1 234,56", 123456),
        # and the other spellings people use
        ("300,50", 30050),
        ("300.5", 30050),
        ("300,05", 30005),
        ("1 234.56", 123456),
        ("0", 0),
        ("0,01", 1),
        ("0.1", 10),
        ("007", 700),
        ("1234567", 123456700),
        ("1 234 567,89", 123456789),
        ("12 345", 1234500),
        ("1\u00a0234,56", 123456),
        ("1\u202f234,56", 123456),
        ("1\u2009234,56", 123456),
        ("1\u00a0234\u202f567\u2009890,12", 123456789012),
        ("  300,50  ", 30050),
        ("\t300\n", 30000),
        ("\u00a0300\u00a0", 30000),
        ("300 ₽", 30000),
        ("300₽", 30000),
        ("1 234,56 ₽", 123456),
        ("300 руб", 30000),
        ("300 руб.", 30000),
        ("300руб.", 30000),
        ("300 р.", 30000),
        ("300р.", 30000),
        ("300 р", 30000),
        ("300 РУБ.", 30000),
        ("300\u00a0₽", 30000),
        ("10000000000", MAX_KOPECKS),
        ("10 000 000 000,00", MAX_KOPECKS),
    ],
)
def test_accepted(raw: str, kopecks: int) -> None:
    assert parse_amount(raw) == kopecks


@pytest.mark.parametrize(
    "raw",
    [
        # garbage
        "abc",
        "три сотни",
        "300 рублей 50 копеек",
        "300 USD",
        "$300",
        "₽300",
        "300 ₽ ₽",
        "300 руб руб",
        "30O",
        "3 0 0",
        "12 34",
        "1 2345",
        "1234 567",
        " 1 234 56",
        "1  234",
        "1_234",
        "1'234",
        # signs
        "-1",
        "-0",
        "+300",
        "−300",
        "(300)",
        # decimal separators
        "300.",
        "300,",
        ".5",
        ",5",
        "300,555",
        "300.001",
        "1,234.56",
        "1.234,56",
        "1,234",
        "300.00.00",
        "300,,5",
        "300. 50",
        # floats in disguise
        "1e3",
        "1E3",
        "3.0e2",
        "0x10",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        # non-ASCII digits
        "３００",
        "٣٠٠",
        "३००",
        # hostile
        "300\x00",
        "300\ud800",
        "300\n50",
        # too big
        "10000000000,01",
        "10000000001",
        "99999999999999999999",
    ],
)
def test_refused(raw: str) -> None:
    with pytest.raises(DomainError) as info:
        parse_amount(raw)
    assert info.value.code == ErrorCode.INVALID_AMOUNT
    assert info.value.field == "amountDue"


@pytest.mark.parametrize("raw", [None, "", " ", "\t\n", "\u00a0\u202f"])
def test_empty_is_required(raw: str | None) -> None:
    with pytest.raises(DomainError) as info:
        parse_amount(raw)
    assert info.value.code == ErrorCode.REQUIRED
    assert info.value.field == "amountDue"


def test_field_is_reported() -> None:
    with pytest.raises(DomainError) as info:
        parse_amount("abc", field="amount")
    assert info.value.field == "amount"
    with pytest.raises(DomainError) as info:
        parse_amount("", field="amount")
    assert info.value.field == "amount"


def test_oversized_input() -> None:
    raw = "300".rjust(MAX_RAW_LENGTH)
    assert parse_amount(raw) == 30000
    for too_long in ["300".rjust(MAX_RAW_LENGTH + 1), "1" * (MAX_RAW_LENGTH + 1), " " * 1000]:
        with pytest.raises(DomainError) as info:
            parse_amount(too_long)
        assert info.value.code == ErrorCode.INVALID_AMOUNT


def test_module_never_uses_float() -> None:
    import inspect

    source = inspect.getsource(money)
    assert "float(" not in source
    assert "Decimal" not in source


@pytest.mark.parametrize(
    ("kopecks", "text"),
    [
        (0, "0,00"),
        (1, "0,01"),
        (10, "0,10"),
        (30050, "300,50"),
        (99999, "999,99"),
        (100000, "1 000,00"),
        (123456, "1 234,56"),
        (123456789, "1 234 567,89"),
        (MAX_KOPECKS, "10 000 000 000,00"),
        (-150, "-1,50"),
        (-123456, "-1 234,56"),
    ],
)
def test_format_amount(kopecks: int, text: str) -> None:
    assert format_amount(kopecks) == text


# --- properties ------------------------------------------------------------------------------------

kopecks_in_range = st.integers(min_value=0, max_value=MAX_KOPECKS)


@given(kopecks_in_range)
@example(0)
@example(MAX_KOPECKS)
@example(99)
@example(100)
def test_format_then_parse_round_trips(kopecks: int) -> None:
    text = format_amount(kopecks)
    assert parse_amount(text) == kopecks
    assert set(text) <= set("0123456789 ,")  # only a regular space separates thousands


@given(kopecks_in_range, st.sampled_from([".", ","]), st.sampled_from(["", " ₽", " руб.", "р."]))
def test_plain_spellings_round_trip(kopecks: int, point: str, currency: str) -> None:
    roubles, rest = divmod(kopecks, 100)
    assert parse_amount(f"{roubles}{point}{rest:02d}{currency}") == kopecks
    if rest % 10 == 0:
        assert parse_amount(f"{roubles}{point}{rest // 10}") == kopecks
    if rest == 0:
        assert parse_amount(f"{roubles}") == kopecks


@given(kopecks_in_range, st.sampled_from([" ", "\u00a0", "\u202f", "\u2009"]))
def test_any_thousands_separator(kopecks: int, sep: str) -> None:
    text = format_amount(kopecks).replace(" ", sep)
    assert parse_amount(text) == kopecks


@given(st.integers(min_value=MAX_KOPECKS + 1, max_value=10**20))
def test_too_large_is_refused(kopecks: int) -> None:
    with pytest.raises(DomainError) as info:
        parse_amount(format_amount(kopecks))
    assert info.value.code == ErrorCode.INVALID_AMOUNT


@given(st.integers(min_value=1, max_value=MAX_KOPECKS))
def test_negative_is_refused(kopecks: int) -> None:
    with pytest.raises(DomainError) as info:
        parse_amount(format_amount(-kopecks))
    assert info.value.code == ErrorCode.INVALID_AMOUNT


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**6))
def test_more_than_two_decimals_is_refused(roubles: int, frac: int) -> None:
    with pytest.raises(DomainError):
        parse_amount(f"{roubles}.{frac:03d}")


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_reprs_with_exponent_or_specials_are_refused(value: float) -> None:
    text = repr(value)
    try:
        result = parse_amount(text)
    except DomainError as exc:
        assert exc.code == ErrorCode.INVALID_AMOUNT
    else:
        # only plain reprs like "300.5" may pass, and then exactly
        assert "e" not in text.lower() and "n" not in text.lower()
        roubles, _, frac = text.partition(".")
        assert result == int(roubles) * 100 + int(frac.ljust(2, "0"))


@given(st.text(max_size=80))
@example("1 234,56")
@example("-")
def test_arbitrary_text_only_ever_raises_domain_errors(raw: str) -> None:
    try:
        result = parse_amount(raw)
    except DomainError as exc:
        assert exc.code in (ErrorCode.INVALID_AMOUNT, ErrorCode.REQUIRED)
    else:
        assert isinstance(result, int)
        assert 0 <= result <= MAX_KOPECKS
