"""Password rules of SPEC §2 step 6, each reported by name."""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from eirc.domain import texts
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.password import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    RULES,
    PasswordRule,
    check_password,
    failed_rules,
    normalize_password,
)

MIN = PasswordRule.MIN_LENGTH
ONLY = PasswordRule.LETTERS_AND_DIGITS_ONLY
REPEAT = PasswordRule.NO_REPEATED_ADJACENT_DIGITS

LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
DIGITS = "0123456789"
ALPHABET = LATIN + CYRILLIC + DIGITS


def test_rule_values_equal_names_and_display_order() -> None:
    assert [rule.value for rule in PasswordRule] == [rule.name for rule in PasswordRule]
    assert RULES == [MIN, ONLY, REPEAT]
    assert set(RULES) == set(PasswordRule)


def test_every_rule_has_the_spec_text() -> None:
    assert texts.PASSWORD_RULE_TEXTS == {
        "MIN_LENGTH": "Минимум 6 символов",
        "LETTERS_AND_DIGITS_ONLY": "Только буквы и цифры",
        "NO_REPEATED_ADJACENT_DIGITS": "Нет двух одинаковых цифр рядом",
    }
    assert set(texts.PASSWORD_RULE_TEXTS) == {rule.value for rule in PasswordRule}


@pytest.mark.parametrize(
    ("pw", "failed"),
    [
        # fine
        ("abc123", []),
        ("1a1a1a", []),
        ("121212", []),
        ("aaaaaa", []),
        ("AAAAAA", []),
        ("Пароль1", []),
        ("ёЁёЁ12", []),
        ("ЁлкаЙод9", []),
        ("MixedЛатиница2021", []),
        ("0123456789", []),
        ("9090909", []),
        ("a" * MAX_PASSWORD_LENGTH, []),
        # too short
        ("", [MIN]),
        ("a", [MIN]),
        ("abc12", [MIN]),
        ("Ёж1", [MIN]),
        # other characters
        ("abc 123", [ONLY]),
        ("abc-123", [ONLY]),
        ("abc_123", [ONLY]),
        ("pass!word", [ONLY]),
        ("пароль.", [ONLY]),
        ("abc123\n", [ONLY]),
        ("abc\t123", [ONLY]),
        ("abc123\x00", [ONLY]),
        ("παράδειγμα1", [ONLY]),  # Greek
        ("straße12", [ONLY]),
        ("café12", [ONLY]),
        ("ґанок12", [ONLY]),  # Ukrainian ґ is not in the Russian alphabet
        ("abc١٢٣", [ONLY]),  # Arabic-Indic digits
        ("abc１２３", [ONLY]),  # full-width digits
        ("abc²³4", [ONLY]),
        ("abcdef\u200b", [ONLY]),  # zero-width space
        ("abcdef\ud800", [ONLY]),
        ("\u0430bc123", []),  # Cyrillic а is a letter too
        # repeated digits
        ("abc113", [REPEAT]),
        ("00abcd", [REPEAT]),
        ("abcd99", [REPEAT]),
        ("111111", [REPEAT]),
        ("a1b22c", [REPEAT]),
        # several at once, in display order
        ("11", [MIN, REPEAT]),
        ("a b", [MIN, ONLY]),
        ("11 22 33", [ONLY, REPEAT]),
        ("1 1", [MIN, ONLY]),
        ("11!", [MIN, ONLY, REPEAT]),
    ],
)
def test_failed_rules(pw: str, failed: list[PasswordRule]) -> None:
    assert failed_rules(pw) == failed


def test_decomposed_letters_count_as_letters() -> None:
    decomposed = unicodedata.normalize("NFD", "йод2ёж")
    assert decomposed != "йод2ёж"
    assert failed_rules(decomposed) == []
    assert normalize_password(decomposed) == "йод2ёж"
    check_password(decomposed)


def test_check_password_accepts() -> None:
    assert check_password("abc123") is None
    assert check_password("1a1a1a") is None


def test_check_password_reports_failed_rules() -> None:
    with pytest.raises(DomainError) as info:
        check_password("11 a")
    assert info.value.code == ErrorCode.WEAK_PASSWORD
    assert info.value.field == "password"
    assert info.value.failed_rules == [MIN, ONLY, REPEAT]
    assert info.value.message == texts.WEAK_PASSWORD


def test_check_password_field() -> None:
    with pytest.raises(DomainError) as info:
        check_password("short", field="newPassword")
    assert info.value.field == "newPassword"
    assert info.value.failed_rules == [MIN]


@pytest.mark.parametrize("pw", [None, ""])
def test_empty_is_required(pw: str | None) -> None:
    with pytest.raises(DomainError) as info:
        check_password(pw)
    assert info.value.code == ErrorCode.REQUIRED
    assert info.value.field == "password"
    assert not info.value.failed_rules


def test_spaces_are_not_stripped() -> None:
    with pytest.raises(DomainError) as info:
        check_password("      ")
    assert info.value.code == ErrorCode.WEAK_PASSWORD
    assert info.value.failed_rules == [ONLY]
    with pytest.raises(DomainError) as info:
        check_password(" abc123 ")
    assert info.value.failed_rules == [ONLY]


def test_length_limit() -> None:
    check_password("ab" * (MAX_PASSWORD_LENGTH // 2))
    for too_long in ["a" * (MAX_PASSWORD_LENGTH + 1), "11" * 10_000, " " * 1_000_000]:
        with pytest.raises(DomainError) as info:
            check_password(too_long)
        assert info.value.code == ErrorCode.TOO_LONG
        assert info.value.field == "password"


# --- properties ------------------------------------------------------------------------------------


def _no_adjacent_equal_digits(text: str) -> bool:
    return all(not (a == b and a in DIGITS) for a, b in itertools.pairwise(text))


good_passwords = st.text(
    alphabet=ALPHABET, min_size=MIN_PASSWORD_LENGTH, max_size=MAX_PASSWORD_LENGTH
).filter(_no_adjacent_equal_digits)


@given(good_passwords)
@example("1a1a1a")
@example("ёёёёёё")
def test_passwords_following_every_rule_are_accepted(pw: str) -> None:
    assert failed_rules(pw) == []
    check_password(pw)


@given(st.text(max_size=40))
@example("")
@example("11")
def test_failed_rules_match_their_definitions(pw: str) -> None:
    result = failed_rules(pw)
    text = unicodedata.normalize("NFC", pw)
    assert (MIN in result) == (len(text) < MIN_PASSWORD_LENGTH)
    assert (ONLY in result) == any(ch not in ALPHABET for ch in text)
    assert (REPEAT in result) == (not _no_adjacent_equal_digits(text))
    assert result == [rule for rule in RULES if rule in result]


@given(good_passwords.filter(lambda p: len(p) < MAX_PASSWORD_LENGTH), st.sampled_from(DIGITS), st.data())
def test_doubling_a_digit_breaks_the_repeat_rule(pw: str, digit: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(pw)))
    assert REPEAT in failed_rules(pw[:at] + digit + digit + pw[at:])


@given(
    good_passwords,
    st.characters().filter(lambda ch: unicodedata.normalize("NFC", ch) not in ALPHABET),
    st.data(),
)
def test_any_other_character_breaks_the_letters_rule(pw: str, ch: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(pw)))
    candidate = pw[:at] + ch + pw[at:]
    if unicodedata.normalize("NFC", candidate) != candidate:
        # a combining mark may merge with its neighbour into a letter of the alphabet (е + ̈ → ё)
        return
    assert ONLY in failed_rules(candidate)


@given(st.text(max_size=200))
def test_check_password_only_ever_raises_domain_errors(pw: str) -> None:
    try:
        check_password(pw)
    except DomainError as exc:
        assert exc.code in (ErrorCode.REQUIRED, ErrorCode.TOO_LONG, ErrorCode.WEAK_PASSWORD)
        if exc.code == ErrorCode.WEAK_PASSWORD:
            assert exc.failed_rules == failed_rules(pw)
            assert exc.failed_rules
