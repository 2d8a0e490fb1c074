"""E-mail: syntax only (no DNS), one lower-cased form per mailbox."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from eirc.domain import texts
from eirc.domain.email import MAX_EMAIL_LENGTH, parse_email
from eirc.domain.errors import DomainError, ErrorCode


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("ivan@example.com", "ivan@example.com"),
        ("Ivan.Petrov@Example.COM", "ivan.petrov@example.com"),
        ("IVAN@MAIL.RU", "ivan@mail.ru"),
        ("  ivan@mail.ru  ", "ivan@mail.ru"),
        ("\tivan@mail.ru\n", "ivan@mail.ru"),
        ("ivan+bills@gmail.com", "ivan+bills@gmail.com"),
        ("ivan_petrov-1980@yandex.ru", "ivan_petrov-1980@yandex.ru"),
        ("a@b.co", "a@b.co"),
        ("user@sub.domain.example.org", "user@sub.domain.example.org"),
        # internationalized domains, kept in Unicode form
        ("user@кириллица.рф", "user@кириллица.рф"),
        ("User@КИРИЛЛИЦА.РФ", "user@кириллица.рф"),
        ("user@xn--80apaahia1b8c.xn--p1ai", "user@кириллица.рф"),
        ("user@почта.рус", "user@почта.рус"),
        # internationalized local parts
        ("Иван@почта.рф", "иван@почта.рф"),
    ],
)
def test_accepted(raw: str, normalized: str) -> None:
    assert parse_email(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "ivan",
        "ivan.mail.ru",
        "ivan(at)mail.ru",
        "ivan＠mail.ru",  # full-width at sign
        "@mail.ru",
        "ivan@",
        "ivan@@mail.ru",
        "ivan@mail@ru",
        "ivan@mail",
        "ivan@localhost",
        "ivan@mail.ru.",
        "ivan@.mail.ru",
        "ivan@-mail.ru",
        "ivan@mail_ru.com",
        "iv an@mail.ru",
        "ivan@ma il.ru",
        ".ivan@mail.ru",
        "ivan.@mail.ru",
        "iv..an@mail.ru",
        '"ivan petrov"@mail.ru',
        "Ivan Petrov <ivan@mail.ru>",
        "<ivan@mail.ru>",
        "ivan@mail.ru, petr@mail.ru",
        "ivan@mail.ru;",
        "mailto:ivan@mail.ru",
        "ivan@[127.0.0.1]",
        "ivan@example.test",
        "ivan@printer.local",
        "ivan@mail.ru\x00",
        "ivan\ud800@mail.ru",
        "ivan@mail.ru\nBcc: victim@mail.ru",
        "a" * 65 + "@mail.ru",
        "ivan@" + "a" * 64 + ".ru",
    ],
)
def test_refused(raw: str) -> None:
    with pytest.raises(DomainError) as info:
        parse_email(raw)
    assert info.value.code == ErrorCode.INVALID_EMAIL
    assert info.value.field == "email"
    assert info.value.message == texts.INVALID_EMAIL


@pytest.mark.parametrize("raw", [None, "", " ", "\t\n", "\u00a0"])
def test_empty_is_required(raw: str | None) -> None:
    with pytest.raises(DomainError) as info:
        parse_email(raw)
    assert info.value.code == ErrorCode.REQUIRED
    assert info.value.field == "email"


def test_field_is_reported() -> None:
    with pytest.raises(DomainError) as info:
        parse_email("nope", field="login")
    assert info.value.field == "login"
    with pytest.raises(DomainError) as info:
        parse_email("", field="login")
    assert info.value.field == "login"


def _long_address(length: int) -> str:
    local = "a" * 64
    labels = []
    remaining = length - len(local) - 1 - len(".ru")
    while remaining > 0:
        size = min(63, remaining)
        if remaining - size == 1:  # a label cannot be empty: leave room for "x." + label
            size -= 2
        labels.append("b" * size)
        remaining -= size + 1
    address = f"{local}@{'.'.join(labels)}.ru"
    assert len(address) == length, len(address)
    return address


def test_length_limit() -> None:
    assert parse_email(_long_address(MAX_EMAIL_LENGTH)) == _long_address(MAX_EMAIL_LENGTH)
    for raw in [_long_address(MAX_EMAIL_LENGTH + 1), "a" * 10_000 + "@mail.ru", "a@" + "b" * 100_000]:
        with pytest.raises(DomainError) as info:
            parse_email(raw)
        assert info.value.code == ErrorCode.INVALID_EMAIL


def test_surrounding_spaces_do_not_count_towards_the_limit() -> None:
    assert parse_email(f"  {_long_address(MAX_EMAIL_LENGTH)}  ") == _long_address(MAX_EMAIL_LENGTH)


# --- properties ------------------------------------------------------------------------------------

local_parts = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._+-]{0,20}[A-Za-z0-9])?", fullmatch=True).filter(
    lambda s: ".." not in s
)
# A label with "--" at positions 3-4 is an IDNA A-label ("xn--…") or reserved: not a plain name.
labels = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True).filter(
    lambda s: s[2:4] != "--"
)
tlds = st.sampled_from(["ru", "com", "org", "RU", "рф", "РФ", "net", "moscow"])


@given(local_parts, st.lists(labels, min_size=1, max_size=3), tlds)
@example("Ivan", ["Mail"], "RU")
def test_well_formed_addresses_are_accepted_lower_cased(local: str, domain: list[str], tld: str) -> None:
    raw = f"{local}@{'.'.join(domain)}.{tld}"
    assert parse_email(raw) == raw.lower()


@given(local_parts, st.lists(labels, min_size=1, max_size=3), tlds)
def test_case_does_not_matter(local: str, domain: list[str], tld: str) -> None:
    raw = f"{local}@{'.'.join(domain)}.{tld}"
    assert parse_email(raw.upper()) == parse_email(raw.lower()) == parse_email(raw)


@given(st.text(max_size=80))
@example("a@b.ru")
@example("@")
def test_arbitrary_text_only_ever_raises_domain_errors(raw: str) -> None:
    try:
        result = parse_email(raw)
    except DomainError as exc:
        assert exc.code in (ErrorCode.INVALID_EMAIL, ErrorCode.REQUIRED)
    else:
        assert "@" in result
        assert result == result.lower()
        assert parse_email(result) == result


@given(st.text(alphabet=st.characters(blacklist_characters="@"), max_size=80))
def test_no_at_sign_is_never_an_address(raw: str) -> None:
    with pytest.raises(DomainError) as info:
        parse_email(raw)
    assert info.value.code in (ErrorCode.INVALID_EMAIL, ErrorCode.REQUIRED)
