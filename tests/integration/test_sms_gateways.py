"""The real SMS gateways (issue 18) against local fakes that speak their documented protocols
(tests/fakes/sms_gateways.py), on SQLite and PostgreSQL, with the frozen clock moved instead of sleeping.

For each of SMSC.ru, SMS.ru, SMS Aero and MTS Exolve: accepted → sent once with the gateway's id recorded;
a transient refusal in the body → retried, then sent once; a permanent refusal → dead with the gateway's
reason, visible in `eirc deliveries list --json`; wrong credentials or an empty balance → retried, logged as
an operator problem once per burst, never dead; the code never in a log line nor in a stored error. Then
what only SMSC offers: its client `id`, and asking `/sys/status.php` after an ambiguous attempt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from eirc.bootstrap import Container
from eirc.delivery.messages import queue_sms_code
from eirc.delivery.sms.smsc import SmscAdapter, client_id
from eirc.settings import reset_settings_cache
from eirc.storage.tables import Delivery
from tests.fakes.sms_gateways import (
    GATEWAY_FAKES,
    FakeExolve,
    FakeGateway,
    FakeSmsAero,
    FakeSmsc,
    FakeSmsRu,
    gateway_settings,
)

PHONE = "+79161234567"
OTHER_PHONE = "+79165550011"
CODE = "4821"


@dataclass(frozen=True)
class Case:
    transient: Any  # a refusal worth retrying, in the gateway's own terms
    permanent: Any  # a refusal for good
    balance: Any  # the account's money is gone
    transient_reason: str  # how `last_error` starts after the transient refusal
    permanent_reason: str  # … and after the permanent one


CASES = {
    "smsc": Case(4, 8, 3, "SMSC error 4", "SMSC error 8"),
    "smsru": Case(231, 207, 201, "SMS.ru number refused, code 231", "SMS.ru number refused, code 207"),
    "smsaero": Case(
        "limit",
        "number",
        "no-money",
        "SMS Aero refused (HTTP 200): Limit exceeded",
        "SMS Aero refused (HTTP 400): Validation error. [number]",
    ),
    "exolve": Case(
        "busy", "destination", "no-money", "Exolve: HTTP 429", "Exolve refused (HTTP 400): destination"
    ),
}


@pytest.fixture(params=sorted(GATEWAY_FAKES))
def gateway(request: pytest.FixtureRequest) -> Any:
    fake = GATEWAY_FAKES[request.param]()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def settings_overrides(gateway: FakeGateway) -> dict[str, Any]:
    return gateway_settings(gateway)


@pytest.fixture
def case(gateway: FakeGateway) -> Case:
    return CASES[gateway.name]


@pytest.fixture
async def deliver(container: Container) -> Any:
    """`await deliver()`: one pass of one long-lived worker, as in `eirc serve` (it remembers the operator
    problems it has already logged)."""
    from eirc.delivery.adapters import build_adapters, close_adapters
    from eirc.delivery.worker import DeliveryWorker

    adapters = build_adapters(container.settings)
    try:
        yield DeliveryWorker(container, adapters).run_once
    finally:
        await close_adapters(adapters)


async def queue_code(c: Container, phone: str = PHONE, code: str = CODE) -> Delivery:
    async with c.uow() as tx:
        d = await queue_sms_code(tx, c, phone=phone, code=code)
        await tx.commit()
    return d


async def row(c: Container, delivery_id: str) -> Delivery:
    async with c.uow() as tx:
        found = (await tx.session.execute(select(Delivery).where(Delivery.id == delivery_id))).scalar_one()
        tx.session.expunge_all()
        return found


def leaks(secret: str, text: str) -> bool:
    """Whether `secret` appears as a whole (inside a longer id or a timestamp it is not the code)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", text) is not None


def break_credentials(fake: FakeGateway) -> None:
    """The operator's account changed at the gateway: eirc's configured credentials are refused."""
    if isinstance(fake, FakeSmsc):
        fake.password = "changed"
    elif isinstance(fake, FakeSmsRu):
        fake.api_id = "changed"
    elif isinstance(fake, FakeSmsAero):
        fake.api_key = "changed"
    elif isinstance(fake, FakeExolve):
        fake.api_key = "changed"


def restore_credentials(fake: FakeGateway) -> None:
    if isinstance(fake, FakeSmsc):
        fake.password = FakeSmsc.PASSWORD
    elif isinstance(fake, FakeSmsRu):
        fake.api_id = FakeSmsRu.API_ID
    elif isinstance(fake, FakeSmsAero):
        fake.api_key = FakeSmsAero.API_KEY
    elif isinstance(fake, FakeExolve):
        fake.api_key = FakeExolve.API_KEY


def assert_documented_request(fake: FakeGateway, call: Any, key: str) -> None:
    """What each gateway's documentation asks for, and nothing secret in the URL."""
    assert call.method == "POST" and call.query == ""
    p, body = call.params, call.body
    if isinstance(fake, FakeSmsc):
        assert (p["login"], p["psw"]) == (FakeSmsc.LOGIN, FakeSmsc.PASSWORD)
        assert p["phones"] == "79161234567" and p["fmt"] == "3" and p["charset"] == "utf-8"
        assert p["id"] == str(client_id(key)) and p["sender"] == "MosOblEIRC" and CODE in p["mes"]
    elif isinstance(fake, FakeSmsRu):
        assert p["api_id"] == FakeSmsRu.API_ID and p["to"] == "79161234567" and p["json"] == "1"
        assert p["from"] == "MosOblEIRC" and CODE in p["msg"]
    elif isinstance(fake, FakeSmsAero):
        assert call.headers["authorization"].startswith("Basic ")
        assert body["number"] == "79161234567" and body["sign"] == FakeSmsAero.SIGN and CODE in body["text"]
    elif isinstance(fake, FakeExolve):
        assert call.headers["authorization"] == f"Bearer {FakeExolve.API_KEY}"
        assert body["number"] == FakeExolve.SENDER and body["destination"] == "79161234567"
        assert CODE in body["text"]


async def list_json(c: Container, *args: str) -> list[dict]:
    """`eirc deliveries list --json` against the test database, as support runs it."""
    from eirc.cli.deliveries import app

    env = {
        "EIRC_ENV": "test",
        "EIRC_DATABASE_URL": c.settings.database_url,
        "EIRC_SECRET_KEY": c.settings.secret_key,
    }

    def call() -> Any:
        reset_settings_cache()
        try:
            return CliRunner().invoke(app, ["list", "--json", *args], env=env)
        finally:
            reset_settings_cache()

    result = await asyncio.to_thread(call)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- every gateway -------------------------------------------------------------------------------------------
async def test_accepted_is_sent_once_with_the_gateways_id(container, gateway, deliver) -> None:
    queued = await queue_code(container)
    result = await deliver()
    assert (result.sent, result.retried, result.dead) == (1, 0, 0)
    [message] = gateway.accepted(PHONE)
    assert gateway.codes(PHONE) == [CODE]
    [call] = gateway.sends()
    assert_documented_request(gateway, call, queued.idempotency_key)

    sent = await row(container, queued.id)
    assert sent.status == "sent" and sent.secret_enc is None and sent.last_error is None
    assert (sent.gateway, sent.gateway_message_id) == (gateway.name, message.message_id)
    assert (await deliver()).claimed == 0 and len(gateway.sends()) == 1

    [listed] = await list_json(container)
    assert (listed["gateway"], listed["gateway_message_id"]) == (gateway.name, message.message_id)


async def test_a_transient_refusal_in_the_body_is_retried_then_sent_once(
    container, gateway, case, deliver, clock
) -> None:
    queued = await queue_code(container)
    gateway.refuse_next(1, case.transient)
    result = await deliver()
    assert (result.sent, result.retried, result.dead) == (0, 1, 0)
    assert gateway.accepted() == [] and len(gateway.sends()) == 1
    waiting = await row(container, queued.id)
    assert waiting.status == "pending" and waiting.secret_enc and waiting.gateway == gateway.name
    assert waiting.last_error.startswith(case.transient_reason), waiting.last_error

    assert (await deliver()).claimed == 0  # backing off
    clock.advance(60)
    assert (await deliver()).sent == 1
    assert gateway.codes(PHONE) == [CODE] and len(gateway.sends()) == 2
    assert (await row(container, queued.id)).status == "sent"


async def test_a_permanent_refusal_is_dead_with_the_gateways_reason(
    container, gateway, case, deliver
) -> None:
    queued = await queue_code(container)
    gateway.refuse_next(1, case.permanent)
    result = await deliver()
    assert (result.sent, result.retried, result.dead) == (0, 0, 1)
    assert gateway.accepted() == []
    dead = await row(container, queued.id)
    assert dead.status == "dead" and dead.secret_enc is None and dead.gateway == gateway.name
    assert dead.last_error.startswith(case.permanent_reason), dead.last_error

    [listed] = await list_json(container, "--status", "dead")
    assert listed["id"] == queued.id and listed["last_error"] == dead.last_error
    assert listed["gateway"] == gateway.name and not leaks(CODE, json.dumps(listed))


async def test_a_timeout_is_retried_and_the_code_arrives_once(container, gateway, deliver, clock) -> None:
    queued = await queue_code(container)
    gateway.hang_next(1, accept=False)
    assert (await deliver()).retried == 1
    assert (await row(container, queued.id)).last_error.startswith("timeout")
    clock.advance(60)
    assert (await deliver()).sent == 1
    assert gateway.codes(PHONE) == [CODE]


async def test_wrong_credentials_are_the_operators_problem_retried_never_dead(
    container, gateway, deliver, clock, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="eirc.delivery")
    break_credentials(gateway)
    first, second = await queue_code(container), await queue_code(container, OTHER_PHONE, "7305")
    for _ in range(3):
        result = await deliver()
        assert (result.retried, result.dead, result.sent) == (2, 0, 0)
        clock.advance(60)
    alarms = [
        r for r in caplog.records if r.levelno == logging.ERROR and "OPERATOR PROBLEM" in r.getMessage()
    ]
    assert len(alarms) == 1, [r.getMessage() for r in caplog.records]  # once per burst, not per message
    assert gateway.name in alarms[0].getMessage()
    for queued in (first, second):
        waiting = await row(container, queued.id)
        assert waiting.status == "pending" and waiting.attempts == 3 and waiting.secret_enc

    restore_credentials(gateway)  # the operator fixes the account
    assert (await deliver()).sent == 2
    assert gateway.codes(PHONE) == [CODE] and gateway.codes(OTHER_PHONE) == ["7305"]
    assert any("accepts messages again" in r.getMessage() for r in caplog.records)

    break_credentials(gateway)  # a new burst is told again
    await queue_code(container, "+79160000001", "9137")
    assert (await deliver()).retried == 1
    alarms = [
        r for r in caplog.records if r.levelno == logging.ERROR and "OPERATOR PROBLEM" in r.getMessage()
    ]
    assert len(alarms) == 2


async def test_an_empty_balance_is_the_operators_problem_not_the_residents(
    container, gateway, case, deliver, clock, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="eirc.delivery")
    queued = await queue_code(container)
    gateway.refuse_next(2, case.balance)
    for _ in range(2):
        assert (await deliver()).retried == 1
        clock.advance(60)
    assert [r.levelno for r in caplog.records if "OPERATOR PROBLEM" in r.getMessage()] == [logging.ERROR]
    assert (await row(container, queued.id)).status == "pending"
    assert (await deliver()).sent == 1  # topped up
    assert gateway.codes(PHONE) == [CODE]


async def test_a_message_past_its_useful_life_expires_even_while_the_operator_is_at_fault(
    container, gateway, deliver, clock
) -> None:
    break_credentials(gateway)
    queued = await queue_code(container)
    assert (await deliver()).retried == 1
    clock.advance(container.settings.code_ttl_seconds + 1)
    assert (await deliver()).expired == 1
    expired = await row(container, queued.id)
    assert expired.status == "dead" and expired.last_error.startswith("expired: past its useful life")
    assert gateway.accepted() == []


async def test_the_code_never_reaches_a_log_line_nor_a_stored_error(
    container, gateway, case, deliver, clock, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway.echo_text = True  # the gateway quotes the message (and its code) in its refusals
    retried, dead = await queue_code(container), await queue_code(container, OTHER_PHONE, "6093")
    gateway.refuse_next(1, case.transient)
    gateway.refuse_next(1, case.permanent)
    await deliver()
    clock.advance(60)
    await deliver()
    errors = [(await row(container, d.id)).last_error or "" for d in (retried, dead)]
    assert not any(leaks(code, text) for code in (CODE, "6093") for text in [*errors, caplog.text])
    assert len(gateway.accepted()) == 1


async def test_the_code_text_is_eirc_sms_text(database_url, gateway, clock, hasher) -> None:
    from eirc.bootstrap import build_container
    from eirc.delivery.adapters import build_adapters, close_adapters
    from eirc.delivery.worker import DeliveryWorker
    from tests.conftest import make_settings, truncate_all

    template = "МосОблЕИРЦ: ваш код {code}, никому его не говорите"
    settings = make_settings(database_url, **gateway_settings(gateway), sms_text=template)
    c = build_container(settings, clock=clock, hasher=hasher)
    await truncate_all(c)
    try:
        await queue_code(c)
        adapters = build_adapters(c.settings)
        try:
            assert (await DeliveryWorker(c, adapters).run_once()).sent == 1
        finally:
            await close_adapters(adapters)
    finally:
        await c.dispose()
    [message] = gateway.accepted(PHONE)
    assert message.text == template.replace("{code}", CODE)


# --- gateway by gateway --------------------------------------------------------------------------------------
def only(name: str) -> pytest.MarkDecorator:
    """Run a test against one gateway's fake."""
    return pytest.mark.parametrize("gateway", [name], indirect=True)


@only("smsc")
async def test_smsc_after_a_lost_answer_asks_its_status_first_and_does_not_resend(
    container, gateway, deliver, clock
) -> None:
    queued = await queue_code(container)
    gateway.hang_next(1, accept=True)  # SMSC took it; its answer never came
    assert (await deliver()).retried == 1
    unsure = await row(container, queued.id)
    assert unsure.ask_status_first and unsure.last_error.startswith("timeout")
    clock.advance(60)
    assert (await deliver()).sent == 1
    assert len(gateway.sends()) == 1 and len(gateway.calls(FakeSmsc.status_path)) == 1
    [status_call] = gateway.calls(FakeSmsc.status_path)
    number = str(client_id(queued.idempotency_key))
    assert status_call.params["id"] == number and status_call.params["phone"] == "79161234567"
    sent = await row(container, queued.id)
    assert sent.gateway_message_id == number and not sent.ask_status_first
    assert gateway.codes(PHONE) == [CODE]


@only("smsc")
async def test_smsc_a_worker_killed_before_recording_leaves_the_next_one_asking_first(
    container, gateway, deliver, clock
) -> None:
    from eirc.delivery.adapters import build_adapters, close_adapters
    from eirc.delivery.worker import DeliveryWorker

    queued = await queue_code(container)
    adapters = build_adapters(container.settings)
    doomed = DeliveryWorker(container, adapters, worker_id="host:0:1:doomed")
    try:
        [claimed], _ = await doomed._claim()
        assert (await doomed._send(claimed)).field == "sent"  # SMSC took it … and the worker died here
    finally:
        await close_adapters(adapters)
    assert (await row(container, queued.id)).ask_status_first
    clock.advance(doomed.lease_seconds + 1)
    assert (await deliver()).sent == 1
    assert len(gateway.sends()) == 1 and len(gateway.calls(FakeSmsc.status_path)) == 1
    assert gateway.codes(PHONE) == [CODE]


@only("smsc")
async def test_smsc_sends_again_when_its_status_call_has_not_the_message(
    container, gateway, deliver, clock
) -> None:
    queued = await queue_code(container)
    gateway.hang_next(1, accept=False)  # lost before SMSC took it
    assert (await deliver()).retried == 1
    clock.advance(60)
    assert (await deliver()).sent == 1
    assert len(gateway.calls(FakeSmsc.status_path)) == 1 and len(gateway.sends()) == 2
    assert gateway.codes(PHONE) == [CODE]
    assert not (await row(container, queued.id)).ask_status_first


@only("smsc")
async def test_smsc_error_9_asks_the_status_first(container, gateway, deliver, clock) -> None:
    queued = await queue_code(container)
    gateway.refuse_next(1, 9)  # «the same request within a minute»: maybe ours, accepted
    assert (await deliver()).retried == 1
    assert (await row(container, queued.id)).ask_status_first
    clock.advance(60)
    assert (await deliver()).sent == 1
    assert len(gateway.calls(FakeSmsc.status_path)) == 1 and gateway.codes(PHONE) == [CODE]


@only("smsc")
async def test_smsc_keeps_asking_while_its_status_call_does_not_answer(
    container, gateway, deliver, clock
) -> None:
    queued = await queue_code(container)
    gateway.hang_next(1, accept=True)
    await deliver()
    gateway.down()  # the status call cannot be asked: do not send blindly
    clock.advance(60)
    assert (await deliver()).retried == 1
    waiting = await row(container, queued.id)
    assert waiting.ask_status_first and "could not ask SMSC" in waiting.last_error
    gateway.up()
    clock.advance(60)
    assert (await deliver()).sent == 1
    assert len(gateway.sends()) == 1 and gateway.codes(PHONE) == [CODE]


@only("smsc")
async def test_smsc_without_a_status_call_sends_again(container, gateway, deliver, clock) -> None:
    gateway.has_status = False  # an address that serves /sys/send.php only
    await queue_code(container)
    gateway.hang_next(1, accept=False)
    await deliver()
    clock.advance(60)
    assert (await deliver()).sent == 1
    assert [c.status for c in gateway.calls(FakeSmsc.status_path)] == [404]
    assert gateway.codes(PHONE) == [CODE]


@only("smsc")
async def test_smsc_with_an_api_key_and_no_login(gateway) -> None:
    from eirc.delivery.base import OutgoingMessage

    adapter = SmscAdapter(gateway.url, login=None, password=FakeSmsc.APIKEY, timeout=2)
    message = OutgoingMessage(
        id="d1", channel="sms", kind="sms_code", recipient=PHONE, idempotency_key="k" * 32,
        payload={"text": f"Код {CODE}"}, template={"text": "Код {secret}"},
    )  # fmt: skip
    try:
        sent = await adapter.send(message)
    finally:
        await adapter.aclose()
    [call] = gateway.sends()
    assert (
        call.params["apikey"] == FakeSmsc.APIKEY and "login" not in call.params and "psw" not in call.params
    )
    assert sent.gateway == "smsc" and sent.message_id == str(client_id("k" * 32))


def test_smsc_client_id_is_a_stable_positive_31_bit_integer() -> None:
    keys = [f"{n:032x}" for n in range(2000)]
    ids = [client_id(k) for k in keys]
    assert all(1 <= i <= 2147483647 for i in ids)
    assert ids == [client_id(k) for k in keys] and len(set(ids)) == len(ids)


@only("smsru")
async def test_smsru_a_refused_request_is_not_sent_though_the_number_entry_is_absent(
    container, gateway, deliver, clock
) -> None:
    await queue_code(container)
    gateway.refuse_next(1, 220)  # the request as a whole: «service temporarily unavailable»
    assert (await deliver()).retried == 1
    [call] = gateway.sends()
    assert call.answer["status"] == "ERROR" and "sms" not in call.answer
    clock.advance(60)
    assert (await deliver()).sent == 1 and gateway.codes(PHONE) == [CODE]


@only("smsru")
async def test_smsru_an_unapproved_sender_is_the_operators_problem(container, gateway, deliver) -> None:
    gateway.senders = {"SomeoneElse"}
    queued = await queue_code(container)
    assert (await deliver()).retried == 1
    waiting = await row(container, queued.id)
    assert waiting.status == "pending" and "code 204" in waiting.last_error


@only("smsaero")
async def test_smsaero_an_unapproved_sign_is_the_operators_problem(container, gateway, deliver) -> None:
    gateway.signs = {"SomeoneElse"}
    queued = await queue_code(container)
    assert (await deliver()).retried == 1
    waiting = await row(container, queued.id)
    assert waiting.status == "pending" and "[sign]" in waiting.last_error


@only("exolve")
async def test_exolve_a_200_without_a_message_id_is_not_sent(container, gateway, deliver, clock) -> None:
    queued = await queue_code(container)
    gateway.refuse_next(1, "no-id")
    assert (await deliver()).retried == 1
    assert (await row(container, queued.id)).status == "pending"
    clock.advance(60)
    assert (await deliver()).sent == 1 and gateway.codes(PHONE) == [CODE]


@only("smsru")
async def test_the_gateways_documented_path_is_kept_under_eirc_sms_url(gateway) -> None:
    from eirc.delivery.base import OutgoingMessage
    from eirc.delivery.sms import build_sms_adapter
    from tests.conftest import make_settings

    settings = make_settings("sqlite://", **gateway_settings(gateway, sms_url=gateway.url + "/some/path?x=1"))
    adapter = build_sms_adapter(settings)
    assert adapter is not None
    message = OutgoingMessage(
        id="d1", channel="sms", kind="sms_code", recipient=PHONE, idempotency_key="k" * 32,
        payload={"text": f"Код {CODE}"}, template={"text": "Код {secret}"},
    )  # fmt: skip
    try:
        await adapter.send(message)
    finally:
        await adapter.aclose()
    assert [c.path for c in gateway.calls()] == ["/sms/send"]
