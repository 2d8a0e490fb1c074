"""Connection requests over GraphQL (SPEC §3, CONTRACT §3), on both backends: «Заявка» from the account step,
the form's rules and texts, the request stored once per flow and delivered once to «Домопульт» — also when
it is down at the time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from eirc.bootstrap import Container
from eirc.domain import texts
from eirc.services import connection_requests as service
from eirc.storage.requests import ConnectionRequests
from eirc.storage.tables import ConnectionRequest, ConnectionRequestEvent
from tests.providers import CRM_PATH
from tests.registration_kit import (
    ACCOUNT,
    CONFIRM_ADDRESS,
    ERRORS,
    FLOW,
    FLOW_FIELDS,
    GO_BACK,
    PHONE,
    START,
    deliveries,
    prove,
    seed_billing,
    to_account_step,
)

OPEN = (
    FLOW_FIELDS
    + f"mutation($id: ID!) {{ openConnectionRequest(flowId: $id) {{ flow {{ ...F }} {ERRORS} }} }}"
)
SUBMIT = (
    FLOW_FIELDS
    + f"""
mutation($id: ID!, $last: String!, $first: String!, $middle: String, $address: String!, $flat: String,
         $email: String!, $notify: Boolean!) {{
  submitConnectionRequest(flowId: $id, lastName: $last, firstName: $first, middleName: $middle,
                          address: $address, flat: $flat, email: $email, emailNotifications: $notify) {{
    requestId title message flow {{ ...F }} {ERRORS}
  }}
}}"""
)
UNKNOWN = "5099999999"
FORM: dict[str, Any] = {
    "last": "Сидорова",
    "first": "Анна",
    "middle": "Петровна",
    "address": "Московская обл., г. Химки, ул. Мельникова, д. 2",
    "flat": "15",
    "email": "Anna.Sidorova@Example.com",
    "notify": True,
}


@pytest.fixture
def settings_overrides(provider_settings):
    return provider_settings


@pytest.fixture
async def billing(container):
    await seed_billing(container)


async def open_request(gql: Any, flow_id: str) -> dict:
    return (await gql(OPEN, {"id": flow_id}))["openConnectionRequest"]


async def submit(gql: Any, flow_id: str, **form: Any) -> dict:
    return (await gql(SUBMIT, {"id": flow_id, **{**FORM, **form}}))["submitConnectionRequest"]


async def file_request(
    gql: Any, c: Container, phone: str = PHONE, *, failed_proof: bool = True, **form: Any
) -> str:
    """A resident's whole path: phone, code, (a failed proof,) «Заявка», the form. The request id."""
    flow_id = await to_account_step(gql, c, phone)
    if failed_proof:
        assert (await prove(gql, flow_id, account=UNKNOWN))["errors"][0]["code"] == "UNKNOWN_ACCOUNT"
    assert (await open_request(gql, flow_id))["flow"]["step"] == "CONNECTION_REQUEST"
    done = await submit(gql, flow_id, **form)
    assert done["errors"] == [] and done["requestId"], done
    return done["requestId"]


async def requests_in(c: Container) -> list[ConnectionRequest]:
    async with c.uow() as tx:
        rows = list((await tx.session.execute(select(ConnectionRequest))).scalars())
        tx.session.expunge_all()
        return rows


async def events_of(c: Container, request_id: str) -> list[ConnectionRequestEvent]:
    async with c.uow() as tx:
        stmt = select(ConnectionRequestEvent).where(ConnectionRequestEvent.request_id == request_id)
        rows = list((await tx.session.execute(stmt)).scalars())
        tx.session.expunge_all()
        return rows


def codes(payload: dict) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def test_failed_proof_then_request_filed_once(gql, container, billing, provider, deliver):
    flow_id = await to_account_step(gql, container)
    failed = await prove(gql, flow_id, account=UNKNOWN)
    assert codes(failed) == [("UNKNOWN_ACCOUNT", "accountNumber")]
    assert failed["errors"][0]["hint"] == texts.ACCOUNT_ERROR_HINT  # with the «Заявка» offer

    opened = await open_request(gql, flow_id)
    assert opened["errors"] == [] and opened["flow"]["step"] == "CONNECTION_REQUEST"
    assert (await open_request(gql, flow_id))["flow"]["step"] == "CONNECTION_REQUEST"  # pressed twice

    # Every empty required field at once, one error each, SPEC's text, the argument's name.
    empty = await submit(gql, flow_id, last="", first="  ", middle=None, address="", flat=None, email="")
    assert codes(empty) == [
        ("REQUIRED", "lastName"),
        ("REQUIRED", "firstName"),
        ("REQUIRED", "address"),
        ("REQUIRED", "email"),
    ]
    assert {e["message"] for e in empty["errors"]} == {"Пожалуйста, заполните обязательное поле"}
    assert empty["requestId"] is None and empty["title"] is None
    assert empty["flow"]["step"] == "CONNECTION_REQUEST"  # the screen stays
    bad_email = await submit(gql, flow_id, email="anna.example.com")
    assert codes(bad_email) == [("INVALID_EMAIL", "email")]
    assert (
        bad_email["errors"][0]["message"]
        == "Это не похоже на e-mail. Убедитесь, что вы используете символ «@»"
    )
    assert await requests_in(container) == []

    done = await submit(gql, flow_id)
    assert done["errors"] == []
    assert done["title"] == "Заявка принята"
    assert done["message"] == (
        "Как только ваш адрес будет добавлен в систему, мы свяжемся с вами по указанному номеру телефона "
        "или электронной почте."
    )
    request_id = done["requestId"]
    flow = done["flow"]
    assert flow["step"] == "DONE" and flow["address"] == f"{FORM['address']}, кв. 15"
    assert flow["data"]["lastName"] == "Сидорова" and flow["data"]["email"] == "anna.sidorova@example.com"
    assert (await gql(FLOW, {"id": flow_id}))["flow"]["step"] == "DONE"

    # A second submission (a retry, a double tap, other values even): the same id, nothing new.
    again = await submit(gql, flow_id, last="Другая")
    assert again["errors"] == [] and again["requestId"] == request_id and again["title"] == "Заявка принята"
    [row] = await requests_in(container)
    assert row.id == request_id and row.status == "new" and row.last_name == "Сидорова"
    assert row.phone == PHONE and row.email == "anna.sidorova@example.com" and row.flat == "15"
    assert (row.account_number, row.account_period, row.account_amount_due) == (
        UNKNOWN,
        "2025-12",
        "1 234,56",
    )
    [event] = await events_of(container, request_id)
    assert (event.from_status, event.to_status, event.actor) == (None, "new", "resident")
    [crm] = await deliveries(container, channel="crm")
    assert crm.kind == "connection_request" and crm.payload["type"] == "connection_request"

    # The flow is done: nothing else of it works.
    assert codes(await open_request(gql, flow_id)) == [("WRONG_STEP", None)]
    assert codes((await gql(GO_BACK, {"id": flow_id}))["goBack"]) == [("WRONG_STEP", None)]

    await deliver()
    await deliver()
    [sent] = provider.crm_messages("connection_request")
    assert sent["data"] == {
        "request_id": request_id,
        "submitted_at": sent["data"]["submitted_at"],
        "status": "new",
        "phone": PHONE,
        "last_name": "Сидорова",
        "first_name": "Анна",
        "middle_name": "Петровна",
        "address": FORM["address"],
        "flat": "15",
        "email": "anna.sidorova@example.com",
        "email_notifications": True,
        "account_number": UNKNOWN,
        "period": "2025-12",
        "amount_due": "1 234,56",
        "account_known": False,
        "personal_data_consent_at": sent["data"]["personal_data_consent_at"],
    }
    assert sent["data"]["submitted_at"] and sent["data"]["personal_data_consent_at"]
    assert len(provider.accepted(CRM_PATH)) == 1


async def test_request_straight_away_and_back(gql, container, billing):
    flow_id = await to_account_step(gql, container)
    opened = await open_request(gql, flow_id)  # «Заявка» without trying an account
    assert opened["errors"] == [] and opened["flow"]["step"] == "CONNECTION_REQUEST"
    back = (await gql(GO_BACK, {"id": flow_id}))["goBack"]
    assert back["errors"] == [] and back["flow"]["step"] == "ACCOUNT"
    back_again = (await gql(GO_BACK, {"id": flow_id}))["goBack"]
    assert back_again["flow"]["step"] == "CODE"  # the side door is not stacked on the history
    flow = (await gql(FLOW, {"id": flow_id}))["flow"]
    assert flow["phoneVerified"] is True

    other = await to_account_step(gql, container, "+79161112233")
    assert (await open_request(gql, other))["flow"]["step"] == "CONNECTION_REQUEST"
    assert (await submit(gql, other, middle="", flat=""))["errors"] == []
    [row] = await requests_in(container)
    assert row.account_number is None and row.account_period is None and row.middle_name is None
    assert row.flat is None and row.phone == "+79161112233"


async def test_a_proven_account_then_back_and_a_request(gql, container, billing):
    flow_id = await to_account_step(gql, container)
    assert (await prove(gql, flow_id))["flow"]["step"] == "ADDRESS"
    assert (await gql(GO_BACK, {"id": flow_id}))["goBack"]["flow"]["step"] == "ACCOUNT"
    assert (await open_request(gql, flow_id))["errors"] == []
    done = await submit(gql, flow_id, flat="кв. 7")
    assert done["flow"]["address"] == f"{FORM['address']}, кв. 7"  # the address given, not the account's
    [row] = await requests_in(container)
    assert row.account_number == ACCOUNT  # the account tried is known to billing: support sees it


async def test_wrong_steps_and_unknown_flows(gql, container, billing):
    started = (await gql(START, {"phone": PHONE, "consent": True}))["startPhone"]
    flow_id = started["flow"]["id"]
    refused = await open_request(gql, flow_id)  # at CODE: the phone is not verified yet
    assert codes(refused) == [("WRONG_STEP", None)] and refused["flow"]["step"] == "CODE"

    flow_id = await to_account_step(gql, container, "+79162223344")
    not_open = await submit(gql, flow_id)  # the form before «Заявка»
    assert codes(not_open) == [("WRONG_STEP", None)] and not_open["flow"]["step"] == "ACCOUNT"
    assert (await prove(gql, flow_id))["errors"] == []
    assert codes(await open_request(gql, flow_id)) == [("WRONG_STEP", None)]  # at ADDRESS
    assert (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]["flow"]["step"] == "PERSONAL"
    assert codes(await open_request(gql, flow_id)) == [("WRONG_STEP", None)]

    for unknown in ("", "nope", "x" * 128):
        gone = await submit(gql, unknown)
        assert codes(gone) == [("FLOW_NOT_FOUND", None)] and gone["flow"] is None
        assert codes(await open_request(gql, unknown)) == [("FLOW_NOT_FOUND", None)]
    assert await requests_in(container) == []


async def test_a_password_reset_flow_cannot_file_a_request(gql, container, billing):
    from tests.e2e.signin_helpers import make_user

    await make_user(container, phone="+79163334455", email="reg@example.com")
    login = (await gql(START, {"phone": "+79163334455", "consent": True}))["startPhone"]["flow"]
    assert login["kind"] == "LOGIN"
    assert codes(await open_request(gql, login["id"])) == [("WRONG_STEP", None)]
    assert codes(await submit(gql, login["id"])) == [("WRONG_STEP", None)]


async def test_too_long_values_are_refused(gql, container, billing):
    flow_id = await to_account_step(gql, container)
    await open_request(gql, flow_id)
    assert codes(await submit(gql, flow_id, address="д" * 301)) == [("TOO_LONG", "address")]
    assert codes(await submit(gql, flow_id, flat="1" * 21)) == [("TOO_LONG", "flat")]
    assert codes(await submit(gql, flow_id, last="Ф" * 101)) == [("TOO_LONG", "lastName")]
    assert codes(await submit(gql, flow_id, last="Ф\x00")) == [("INVALID_INPUT", "lastName")]
    assert await requests_in(container) == []
    assert (await submit(gql, flow_id))["errors"] == []


async def test_a_repeat_after_the_flow_expired_still_answers_the_request(gql, container, billing, clock):
    flow_id = await to_account_step(gql, container)
    await open_request(gql, flow_id)
    request_id = (await submit(gql, flow_id))["requestId"]
    clock.advance(hours=2)
    again = await submit(gql, flow_id)
    assert again["errors"] == [] and again["requestId"] == request_id
    assert len(await requests_in(container)) == 1


async def test_racing_submissions_file_one_request(gql, container, billing):
    flow_id = await to_account_step(gql, container)
    await open_request(gql, flow_id)
    answers = await asyncio.gather(*(submit(gql, flow_id) for _ in range(4)))
    assert {a["requestId"] for a in answers} == {answers[0]["requestId"]}
    assert all(a["errors"] == [] for a in answers)
    assert len(await requests_in(container)) == 1
    assert len(await deliveries(container, channel="crm")) == 1


async def test_a_twin_that_wins_the_unique_flow_id_is_answered_cleanly(gql, container, billing, monkeypatch):
    """The row lock makes twins wait for each other; should one get past it anyway, the unique flow_id
    refuses its insert and it answers the winner's id — no error, nothing else written."""
    flow_id = await to_account_step(gql, container)
    await open_request(gql, flow_id)
    first = (await submit(gql, flow_id))["requestId"]

    real = ConnectionRequests.of_flow
    calls = {"n": 0}

    async def blind_once(self, key):
        calls["n"] += 1
        return None if calls["n"] == 1 else await real(self, key)

    monkeypatch.setattr(ConnectionRequests, "of_flow", blind_once)
    monkeypatch.setattr(service.machine, "require_step", lambda *a, **k: None)  # past the DONE step
    monkeypatch.setattr(service.machine, "advance", lambda state, to, now: state)
    again = await submit(gql, flow_id)
    assert again["errors"] == [] and again["requestId"] == first and calls["n"] == 2
    assert len(await requests_in(container)) == 1
    assert len(await events_of(container, first)) == 1
    assert len(await deliveries(container, channel="crm")) == 1


async def test_domopult_down_then_up_gets_the_request_once(gql, container, billing, provider, deliver, clock):
    request_id = await file_request(gql, container)
    provider.down()
    result = await deliver()
    assert result.retried >= 1 and provider.received(CRM_PATH) == []
    [crm] = await deliveries(container, channel="crm")
    assert crm.status == "pending" and crm.attempts == 1 and "connection failed" in (crm.last_error or "")

    provider.up()
    clock.advance(minutes=5)
    await deliver()
    clock.advance(minutes=5)
    await deliver()
    [body] = provider.crm_messages("connection_request")
    data = body["data"]
    assert data["request_id"] == request_id and data["phone"] == PHONE
    assert (data["last_name"], data["first_name"], data["middle_name"]) == ("Сидорова", "Анна", "Петровна")
    assert (data["address"], data["flat"]) == (FORM["address"], "15")
    assert data["email"] == "anna.sidorova@example.com" and data["email_notifications"] is True
    assert data["account_number"] == UNKNOWN
    assert len(provider.accepted(CRM_PATH)) == 1
    [crm] = await deliveries(container, channel="crm")
    assert crm.status == "sent"


async def test_one_request_row_per_flow_in_the_database(gql, container, billing):
    for phone in ("+79164445566", "+79164445577"):
        await file_request(gql, container, phone)
    async with container.uow() as tx:
        count = (await tx.session.execute(select(func.count()).select_from(ConnectionRequest))).scalar_one()
        flows = (
            await tx.session.execute(select(func.count(func.distinct(ConnectionRequest.flow_id))))
        ).scalar_one()
    assert count == flows == 2
