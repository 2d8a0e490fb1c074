"""Free-text fields: trimmed, whitespace collapsed, length-limited, control characters refused."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from eirc.domain import texts
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.names import (
    ADDRESS_MAX_LENGTH,
    FLAT_MAX_LENGTH,
    NAME_MAX_LENGTH,
    clean_optional,
    clean_required,
)


def test_limits() -> None:
    assert (NAME_MAX_LENGTH, ADDRESS_MAX_LENGTH, FLAT_MAX_LENGTH) == (100, 300, 20)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Иванов", "Иванов"),
        ("  Иванов  ", "Иванов"),
        ("\tИванов\n", "Иванов"),
        ("Римский-Корсаков", "Римский-Корсаков"),
        ("Мария  Анна", "Мария Анна"),
        ("Мария\u00a0Анна", "Мария Анна"),
        ("Мария\n\tАнна", "Мария Анна"),
        ("O'Brien", "O'Brien"),
        ("Ёлкин", "Ёлкин"),
        ("<b>Иван</b>", "<b>Иван</b>"),  # stored as typed; escaping is the renderer's job
    ],
)
def test_clean_required(raw: str, clean: str) -> None:
    assert clean_required(raw, "lastName") == clean
    assert clean_optional(raw, "middleName") == clean


@pytest.mark.parametrize("raw", [None, "", " ", "\t\n", "\u00a0\u2003"])
def test_empty(raw: str | None) -> None:
    with pytest.raises(DomainError) as info:
        clean_required(raw, "firstName")
    assert info.value.code == ErrorCode.REQUIRED
    assert info.value.field == "firstName"
    assert info.value.message == texts.REQUIRED_FIELD
    assert clean_optional(raw, "middleName") is None


@pytest.mark.parametrize(
    ("max_length", "field"),
    [(NAME_MAX_LENGTH, "lastName"), (ADDRESS_MAX_LENGTH, "address"), (FLAT_MAX_LENGTH, "flat")],
)
def test_too_long(max_length: int, field: str) -> None:
    fits = "я" * max_length
    assert clean_required(fits, field, max_length=max_length) == fits
    assert clean_optional(f"  {fits}  ", field, max_length=max_length) == fits
    for clean in (clean_required, clean_optional):
        with pytest.raises(DomainError) as info:
            clean("я" * (max_length + 1), field, max_length=max_length)
        assert info.value.code == ErrorCode.TOO_LONG
        assert info.value.field == field
        assert info.value.message == texts.ERROR_TEXTS[ErrorCode.TOO_LONG]


def test_default_limit_is_the_name_limit() -> None:
    assert clean_required("я" * NAME_MAX_LENGTH, "lastName")
    with pytest.raises(DomainError) as info:
        clean_required("я" * (NAME_MAX_LENGTH + 1), "lastName")
    assert info.value.code == ErrorCode.TOO_LONG


def test_collapsed_whitespace_counts_once() -> None:
    assert clean_required("а" + " " * 500 + "б", "flat", max_length=FLAT_MAX_LENGTH) == "а б"


def test_huge_input_is_refused() -> None:
    with pytest.raises(DomainError) as info:
        clean_required("x" * 1_000_000, "address", max_length=ADDRESS_MAX_LENGTH)
    assert info.value.code == ErrorCode.TOO_LONG


@pytest.mark.parametrize("raw", ["Ива\x00нов", "Иванов\x07", "\x1bИванов", "Ива\x7fнов", "Иванов\ud800"])
def test_control_characters_and_surrogates_are_refused(raw: str) -> None:
    for clean in (clean_required, clean_optional):
        with pytest.raises(DomainError) as info:
            clean(raw, "lastName")
        assert info.value.code == ErrorCode.INVALID_INPUT
        assert info.value.field == "lastName"


# --- properties ------------------------------------------------------------------------------------


@given(st.text(max_size=150))
@example(" a  b ")
@example("\x00")
def test_cleaned_values_are_canonical(raw: str) -> None:
    try:
        clean = clean_optional(raw, "address", max_length=ADDRESS_MAX_LENGTH)
    except DomainError as exc:
        assert exc.code in (ErrorCode.INVALID_INPUT, ErrorCode.TOO_LONG)
        return
    if clean is None:
        assert not raw.strip()
        return
    assert clean == clean.strip()
    assert "  " not in clean
    assert not any(ch.isspace() and ch != " " for ch in clean)
    assert len(clean) <= ADDRESS_MAX_LENGTH
    assert clean_optional(clean, "address", max_length=ADDRESS_MAX_LENGTH) == clean
    assert clean_required(clean, "address", max_length=ADDRESS_MAX_LENGTH) == clean
    assert clean.encode("utf-8")  # storable by any driver


@given(st.text(alphabet=st.characters(categories=["L", "M", "N", "P", "Zs"]), max_size=150))
def test_required_and_optional_agree(raw: str) -> None:
    try:
        optional = clean_optional(raw, "f")
    except DomainError as exc:
        with pytest.raises(DomainError) as info:
            clean_required(raw, "f")
        assert info.value.code == exc.code
        return
    if optional is None:
        with pytest.raises(DomainError) as info:
            clean_required(raw, "f")
        assert info.value.code == ErrorCode.REQUIRED
    else:
        assert clean_required(raw, "f") == optional
