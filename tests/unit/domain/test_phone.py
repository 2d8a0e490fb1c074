"""Phone numbers: every spelling of SPEC §1 lands on one E.164 value; nothing but a Russian mobile passes."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from eirc.domain import phone as phone_module
from eirc.domain import texts
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.phone import MAX_RAW_LENGTH, format_phone, mask_phone, parse_phone

NORMALIZED = "+79161234567"


@pytest.mark.parametrize(
    "raw",
    [
        # SPEC §1
        "+7 916 123 45 67",
        "89161234567",
        "8 (916) 123-45-67",
        "9161234567",
        # and what else people type
        "+7(916)123-45-67",
        "7 916 1234567",
        "79161234567",
        "+79161234567",
        "  9161234567  ",
        "\t+7 916 123 45 67\n",
        "+7-916-123-45-67",
        "8.916.123.45.67",
        "+7 (916) 123 45 67",
        "8\u00a0916\u00a0123\u00a045\u00a067",
        "8 916 123 45 67",
    ],
)
def test_accepted_spellings_are_normalized(raw: str) -> None:
    assert parse_phone(raw) == NORMALIZED


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+79001234567", "+79001234567"),
        ("89991234567", "+79991234567"),
        ("+7 958 000 00 00", "+79580000000"),
        ("8 (926) 555-35-35", "+79265553535"),
    ],
)
def test_other_mobile_ranges(raw: str, expected: str) -> None:
    assert parse_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        # Russian landlines
        "+7 495 123 45 67",
        "8 (499) 123-45-67",
        "84951234567",
        "+7 812 123 45 67",
        # toll-free, not a mobile
        "8-800-555-35-35",
        "+78001234567",
        # Kazakhstan shares +7
        "+7 700 123 45 67",
        "+7 771 123 45 67",
        # foreign numbers
        "+12025550123",
        "+1 202 555 0123",
        "+380501234567",
        "+375291234567",
        "+44 7911 123456",
        "8 10 1 202 555 0123",
        # too short / too long
        "916123456",
        "+7916123456",
        "8916123456",
        "+7916123456789",
        "891612345678",
        "123",
        "9",
        # letters, vanity numbers, extensions, junk
        "916abc4567",
        "+7 916 CALL NOW",
        "tel:+7-916-123-45-67",
        "+7 916 123 45 67 ext 5",
        "9161234567;ext=2",
        "+7 916 123 45 67 #1",
        "+7 916 123 45 67, 8 916 123 45 68",
        "+8 916 123 45 67",
        "7+9161234567",
        "++79161234567",
        "+",
        "()",
        "---",
        "007 916 123 45 67",
        # non-ASCII digits
        "８９１６１２３４５６７",
        "٨٩١٦١٢٣٤٥٦٧",
        # hostile
        "9161234567\x00",
        "9161234567\ud800",
        "<script>",
    ],
)
def test_refused_numbers(raw: str) -> None:
    with pytest.raises(DomainError) as info:
        parse_phone(raw)
    assert info.value.code == ErrorCode.INVALID_PHONE
    assert info.value.field == "phone"
    assert info.value.message == texts.INVALID_PHONE


@pytest.mark.parametrize("raw", [None, "", " ", "\t\n", "\u00a0"])
def test_empty_is_required(raw: str | None) -> None:
    with pytest.raises(DomainError) as info:
        parse_phone(raw)
    assert info.value.code == ErrorCode.REQUIRED
    assert info.value.field == "phone"
    assert info.value.message == texts.REQUIRED_FIELD


def test_oversized_input_is_refused_without_calling_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("phonenumbers must not be called")

    monkeypatch.setattr(phone_module.phonenumbers, "parse", boom)
    for raw in ["9" * (MAX_RAW_LENGTH + 1), " " * (MAX_RAW_LENGTH + 1), "+7 916 123 45 67" + " " * 60]:
        with pytest.raises(DomainError) as info:
            parse_phone(raw)
        assert info.value.code == ErrorCode.INVALID_PHONE


def test_longest_allowed_input_still_parses() -> None:
    raw = "+7 916 123 45 67".center(MAX_RAW_LENGTH)
    assert len(raw) == MAX_RAW_LENGTH
    assert parse_phone(raw) == NORMALIZED


# --- properties ------------------------------------------------------------------------------------

subscriber = st.text(alphabet="0123456789", min_size=7, max_size=7)
operator = st.integers(min_value=900, max_value=999).map(str)
separator = st.sampled_from(["", " ", "-", "\u00a0", "."])


def _spellings(national: str, sep: str) -> list[str]:
    op, a, b, c = national[:3], national[3:6], national[6:8], national[8:]
    body = sep.join([op, a, b, c])
    return [
        "+7" + national,
        "+7 " + body,
        "8" + national,
        "8 " + body,
        f"8 ({op}) {a}{sep}{b}{sep}{c}",
        f"+7({op}){a}-{b}-{c}",
        "7 " + body,
        national,
        body,
        f"  {body}  ",
    ]


@given(operator, subscriber, separator)
@example("916", "1234567", " ")
@example("930", "1234567", " ")
def test_every_spelling_of_a_9xx_number_gives_the_same_answer(op: str, sub: str, sep: str) -> None:
    """Spelling never changes the outcome: all accepted as one value, or all refused."""
    national = op + sub
    outcomes = set()
    for raw in _spellings(national, sep):
        try:
            outcomes.add(parse_phone(raw))
        except DomainError as exc:
            assert exc.code == ErrorCode.INVALID_PHONE
            outcomes.add(None)
    assert len(outcomes) == 1
    (outcome,) = outcomes
    assert outcome in (None, "+7" + national)
    number = phonenumbers.parse("+7" + national)
    assert (outcome is not None) == phonenumbers.is_valid_number_for_region(number, "RU")


@given(st.integers(min_value=200, max_value=899).map(str), subscriber)
def test_numbers_outside_9xx_are_never_accepted(op: str, sub: str) -> None:
    with pytest.raises(DomainError) as info:
        parse_phone("+7" + op + sub)
    assert info.value.code == ErrorCode.INVALID_PHONE


@given(st.text(max_size=80))
@example("abc")
@example("+")
@example("9" * 200)
def test_arbitrary_text_only_ever_raises_domain_errors(raw: str) -> None:
    try:
        result = parse_phone(raw)
    except DomainError as exc:
        assert exc.code in (ErrorCode.INVALID_PHONE, ErrorCode.REQUIRED)
        assert exc.field == "phone"
    else:
        assert result.startswith("+79")
        assert len(result) == 12


@given(operator, subscriber)
def test_parse_is_idempotent_and_display_form_parses_back(op: str, sub: str) -> None:
    try:
        value = parse_phone(op + sub)
    except DomainError:
        return
    assert parse_phone(value) == value
    assert parse_phone(format_phone(value)) == value
    masked = mask_phone(value)
    assert masked.endswith(value[-2:])
    assert value[5:10] not in masked.replace(" ", "").replace("-", "")


# --- display --------------------------------------------------------------------------------------


def test_format_phone() -> None:
    assert format_phone("+79161234567") == "+7 916 123-45-67"
    assert format_phone("+79001234500") == "+7 900 123-45-00"


@pytest.mark.parametrize("value", ["", "9161234567", "+12025550123", "+7916123456", "garbage"])
def test_format_phone_leaves_other_values_alone(value: str) -> None:
    assert format_phone(value) == value


def test_mask_phone() -> None:
    assert mask_phone("+79161234567") == "+7 916 ***-**-67"
    assert mask_phone("+79001234500") == "+7 900 ***-**-00"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("+12025550123", "***23"), ("", "***"), ("1234", "***"), ("12345", "***45")],
)
def test_mask_phone_hides_other_values(value: str, expected: str) -> None:
    assert mask_phone(value) == expected
