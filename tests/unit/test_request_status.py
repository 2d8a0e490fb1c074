"""Connection requests in the domain (domain/requests.py): the status machine and the form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eirc.domain import texts
from eirc.domain.errors import DomainError, DomainErrors, ErrorCode
from eirc.domain.requests import (
    FINAL_STATUSES,
    TRANSITIONS,
    RequestAction,
    RequestStatus,
    full_address,
    next_status,
    parse_actor,
    parse_reason,
    parse_request_form,
)

R = RequestStatus
A = RequestAction


@pytest.mark.parametrize(
    ("current", "action", "expected"),
    [
        (R.NEW, A.TAKE, R.IN_PROGRESS),
        (R.NEW, A.RESOLVE, R.RESOLVED),
        (R.NEW, A.REJECT, R.REJECTED),
        (R.IN_PROGRESS, A.TAKE, R.IN_PROGRESS),  # another engineer picks it up
        (R.IN_PROGRESS, A.RESOLVE, R.RESOLVED),
        (R.IN_PROGRESS, A.REJECT, R.REJECTED),
    ],
)
def test_allowed_changes(current, action, expected):
    assert next_status(current, action) == expected
    assert next_status(current.value, action) == expected


@pytest.mark.parametrize("current", [R.RESOLVED, R.REJECTED])
@pytest.mark.parametrize("action", list(A))
def test_final_statuses_accept_nothing(current, action):
    with pytest.raises(DomainError) as exc:
        next_status(current, action)
    assert exc.value.code == ErrorCode.INVALID_STATUS_CHANGE
    message = exc.value.message
    assert "\n" not in message and current.value in message and action.value in message


def test_illegal_change_says_where_the_action_is_allowed():
    with pytest.raises(DomainError) as exc:
        next_status(R.REJECTED, A.RESOLVE)
    assert exc.value.message == (
        "cannot resolve a request that is rejected (resolve is allowed from: new, in_progress)"
    )


@given(st.lists(st.sampled_from(list(A)), max_size=12))
def test_any_sequence_of_actions_ends_final_at_most_once(actions):
    status = R.NEW
    finals = 0
    for action in actions:
        try:
            status = next_status(status, action)
        except DomainError as exc:
            assert exc.code == ErrorCode.INVALID_STATUS_CHANGE
            assert status in FINAL_STATUSES  # only a final status refuses
            continue
        finals += status in FINAL_STATUSES
    assert finals <= 1  # a resident is told the outcome once
    assert set(TRANSITIONS) == set(R)


FORM = {
    "last_name": "Петров",
    "first_name": "Иван",
    "middle_name": "",
    "address": "г. Химки, ул. Мельникова, д. 2",
    "flat": " 15 ",
    "email": "Ivan@Example.com",
    "email_notifications": True,
}


def test_form_is_cleaned():
    form = parse_request_form(**FORM)
    assert form.middle_name is None and form.flat == "15" and form.email == "ivan@example.com"
    assert form.address == "г. Химки, ул. Мельникова, д. 2" and form.email_notifications is True


def test_every_empty_required_field_at_once_with_the_argument_names():
    with pytest.raises(DomainErrors) as exc:
        parse_request_form(
            last_name=" ",
            first_name="",
            middle_name=None,
            address="\t",
            flat=None,
            email="",
            email_notifications=False,
        )
    assert [(e.code, e.field) for e in exc.value.errors] == [
        (ErrorCode.REQUIRED, "lastName"),
        (ErrorCode.REQUIRED, "firstName"),
        (ErrorCode.REQUIRED, "address"),
        (ErrorCode.REQUIRED, "email"),
    ]
    assert {e.message for e in exc.value.errors} == {texts.REQUIRED_FIELD}


def test_bad_email_long_values_and_control_characters():
    with pytest.raises(DomainErrors) as exc:
        parse_request_form(
            **{
                **FORM,
                "email": "ivan.example.com",
                "address": "д" * 301,
                "flat": "1" * 21,
                "last_name": "a\x00",
            }
        )
    assert [(e.code, e.field) for e in exc.value.errors] == [
        (ErrorCode.INVALID_INPUT, "lastName"),
        (ErrorCode.TOO_LONG, "address"),
        (ErrorCode.TOO_LONG, "flat"),
        (ErrorCode.INVALID_EMAIL, "email"),
    ]
    assert exc.value.errors[-1].message == "Это не похоже на e-mail. Убедитесь, что вы используете символ «@»"


@pytest.mark.parametrize(
    ("flat", "expected"),
    [(None, "ул. Ленина, д. 5"), ("12", "ул. Ленина, д. 5, кв. 12"), ("кв. 12", "ул. Ленина, д. 5, кв. 12"),
     ("Квартира 7а", "ул. Ленина, д. 5, кв. 7а")],
)  # fmt: skip
def test_full_address(flat, expected):
    assert full_address("ул. Ленина, д. 5", flat) == expected


def test_reason_and_actor():
    assert parse_reason("  адрес не обслуживается  ") == "адрес не обслуживается"
    assert len(parse_reason("я" * 1000)) == 1000
    for bad, code in (
        ("", ErrorCode.REQUIRED),
        ("   ", ErrorCode.REQUIRED),
        ("я" * 1001, ErrorCode.TOO_LONG),
    ):
        with pytest.raises(DomainError) as exc:
            parse_reason(bad)
        assert exc.value.code == code and exc.value.field == "reason"
    assert parse_actor("anna") == "anna"
    with pytest.raises(DomainError):
        parse_actor("")
