"""Issue 18 end to end: `eirc sms test PHONE` against each gateway's fake; `eirc deliveries show` naming the
gateway and its message id; residents registering through GraphQL while SMSC.ru or SMS.ru refuse in the
body (nothing refused counted as sent, transient refusals retried, every accepted code arriving exactly
once); and a real `eirc serve` configured by the environment alone."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from eirc.bootstrap import Container
from eirc.settings import reset_settings_cache
from eirc.storage.tables import Delivery
from tests.e2e.gateways import wait_healthy
from tests.fakes.sms_gateways import GATEWAY_FAKES, FakeGateway, FakeSmsc, FakeSmsRu, gateway_settings
from tests.providers import free_port
from tests.registration_kit import (
    ACCOUNT,
    CONFIRM_ADDRESS,
    CONFIRM_CODE,
    PERSONAL,
    PERSONAL_DEFAULTS,
    RESEND,
    SET_PASSWORD,
    prove,
    seed_billing,
    start,
)

EIRC = str(Path(sys.executable).parent / "eirc")
PHONE = "+79161234567"
PASSWORD = "Zaregistr1rovan"


def environment(fake: FakeGateway | None, **extra: str) -> dict[str, str]:
    """EIRC_* variables pointing the SMS channel at `fake` (with the credentials it expects)."""
    env = {"EIRC_ENV": "test", "EIRC_DATABASE_URL": "sqlite:///:memory:"}
    if fake is not None:
        for name, value in gateway_settings(fake).items():
            env[f"EIRC_{name.upper()}"] = str(value)
    env.update(extra)
    return env


def leaks(secret: str, text: str) -> bool:
    """Whether `secret` appears as a whole (inside a longer id or a timestamp it is not the code)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", text) is not None


def run_cli(args: list[str], env: dict[str, str]) -> Any:
    from eirc.cli.main import app

    reset_settings_cache()
    try:
        clean = {k: None for k in os.environ if k.startswith("EIRC_")}
        return CliRunner().invoke(app, args, env={**clean, **env})
    finally:
        reset_settings_cache()


# --- eirc sms test --------------------------------------------------------------------------------------------
@pytest.fixture(params=sorted(GATEWAY_FAKES))
def gateway(request: pytest.FixtureRequest) -> Any:
    fake = GATEWAY_FAKES[request.param]()
    try:
        yield fake
    finally:
        fake.close()


def test_sms_test_sends_one_message_now_and_prints_the_verdict(gateway) -> None:
    result = run_cli(["sms", "test", "8 (916) 123-45-67"], environment(gateway))
    assert result.exit_code == 0, result.output
    [message] = gateway.accepted(PHONE)
    assert re.search(r"(?<![0-9])[0-9]{4}(?![0-9])", message.text)  # the code template, a test code in it
    assert message.message_id in result.stdout and gateway.name in result.stdout
    assert "+7 916 ***-**-67" in result.stdout and PHONE not in result.stdout
    code = re.findall(r"[0-9]{4}", message.text)[0]
    assert not leaks(code, result.output)


def test_sms_test_json_document(gateway) -> None:
    result = run_cli(
        ["sms", "test", PHONE, "--json", "--text", "Проверка связи МосОблЕИРЦ"], environment(gateway)
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    [message] = gateway.accepted(PHONE)
    assert message.text == "Проверка связи МосОблЕИРЦ"
    assert document == {
        "gateway": gateway.name,
        "accepted": True,
        "verdict": "sent",
        "message_id": message.message_id,
        "operator_problem": False,
        "reason": None,
        "phone": "+7 916 ***-**-67",
    }


REFUSALS = {"smsc": 8, "smsru": 207, "smsaero": "number", "exolve": "destination"}


def sent_text(call: Any) -> str:
    """The message text of a send request, wherever the gateway's protocol puts it."""
    return call.params.get("mes") or call.params.get("msg") or call.body["text"]


def test_sms_test_refused_for_good_exits_1_with_one_line(gateway) -> None:
    gateway.echo_text = True  # the refusal quotes the text, test code included
    gateway.refuse_next(1, REFUSALS[gateway.name])
    result = run_cli(["sms", "test", PHONE], environment(gateway))
    assert result.exit_code == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {gateway.name} did not accept the test SMS (failed for good)")
    assert gateway.accepted() == []
    [call] = gateway.sends()
    [code] = re.findall(r"(?<![0-9])[0-9]{4}(?![0-9])", sent_text(call))
    assert not leaks(code, line)


def test_sms_test_with_wrong_credentials_names_an_operator_problem(gateway) -> None:
    env = environment(gateway, EIRC_SMS_TOKEN="wrong")
    result = run_cli(["sms", "test", PHONE, "--json"], env)
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert (
        document["verdict"] == "retry" and document["operator_problem"] is True and not document["accepted"]
    )
    assert "operator problem" in result.stderr


def test_sms_test_usage_and_configuration_errors() -> None:
    bad_phone = run_cli(["sms", "test", "+7 495 123-45-67"], environment(None))
    assert bad_phone.exit_code == 2 and "not a Russian mobile number" in bad_phone.stderr
    no_gateway = run_cli(["sms", "test", PHONE], environment(None))
    assert no_gateway.exit_code == 1 and "no SMS gateway is configured" in no_gateway.stderr
    unknown = run_cli(["sms", "test", PHONE], environment(None, EIRC_SMS_PROVIDER="twilio"))
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == (
        "error: configuration: EIRC_SMS_PROVIDER: 'twilio' is not an SMS gateway eirc speaks; "
        "use one of relay, smsc, smsru, smsaero, exolve"
    )


def test_an_unknown_gateway_stops_the_gateway_and_the_worker_at_start(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(EIRC_DATABASE_URL=f"sqlite:///{tmp_path / 'eirc.db'}", EIRC_SMS_PROVIDER="smsc", NO_COLOR="1")
    for args in (["serve", "--port", "1"], ["worker"]):
        result = subprocess.run(
            [EIRC, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: configuration: EIRC_SMS_PROVIDER=smsc needs EIRC_SMS_TOKEN")


# --- registration through GraphQL while the gateway refuses in the body ---------------------------------------
RESIDENTS = [f"+7916555{n:04d}" for n in range(1, 7)]
# What the fake does to the first send requests, in order: one refusal for good, then transient ones.
SCRIPTS: dict[str, list[tuple[int, Any]]] = {
    "smsc": [(1, 8), (2, 4), (1, 9), (1, 3)],
    "smsru": [(1, 207), (2, 220), (1, 231), (1, 201)],
}


@pytest.fixture(params=sorted(SCRIPTS))
def refusing(request: pytest.FixtureRequest) -> Any:
    fake = GATEWAY_FAKES[request.param]()
    for n, code in SCRIPTS[request.param]:
        fake.refuse_next(n, code)
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def settings_overrides(refusing: FakeGateway) -> dict[str, Any]:
    return gateway_settings(refusing)


@pytest.fixture
async def worker(container: Container) -> Any:
    from eirc.delivery.adapters import build_adapters, close_adapters
    from eirc.delivery.worker import DeliveryWorker

    adapters = build_adapters(container.settings)
    try:
        yield DeliveryWorker(container, adapters)
    finally:
        await close_adapters(adapters)


async def sms_rows(c: Container) -> list[Delivery]:
    async with c.uow() as tx:
        rows = list((await tx.session.execute(select(Delivery).where(Delivery.channel == "sms"))).scalars())
        tx.session.expunge_all()
    return rows


async def deliver_all(c: Container, worker: Any, clock: Any) -> None:
    """Passes of the worker, moving the frozen clock past each back-off, until nothing is pending."""
    for _ in range(12):
        await worker.run_once()
        if all(r.status != "pending" for r in await sms_rows(c)):
            return
        clock.advance(15)
    raise AssertionError("SMS still pending")


def assert_books_agree(rows: list[Delivery], fake: FakeGateway) -> None:
    """Nothing refused counted as sent; every message the gateway accepted is one sent row, once."""
    accepted = Counter(m.message_id for m in fake.accepted())
    assert all(n == 1 for n in accepted.values()), accepted
    sent = [r for r in rows if r.status == "sent"]
    assert sorted(r.gateway_message_id for r in sent) == sorted(accepted)
    assert all(r.gateway == fake.name for r in rows)
    for r in rows:
        if r.status == "dead":
            assert not r.last_error.startswith("expired"), r.last_error  # refused for good, not lost


async def test_residents_register_while_the_gateway_refuses_in_the_body(
    gql, container, refusing, worker, clock
) -> None:
    await seed_billing(container)
    flows = {}
    for phone in RESIDENTS:
        payload = await start(gql, phone)
        assert payload["errors"] == [] and payload["flow"]["step"] == "CODE", payload
        flows[phone] = payload["flow"]["id"]
    await deliver_all(container, worker, clock)

    rows = await sms_rows(container)
    assert_books_agree(rows, refusing)
    assert sum(r.status == "dead" for r in rows) == 1  # the one refusal for good
    assert any(r.status == "sent" and r.attempts > 1 for r in rows)  # transient refusals were retried
    assert len(refusing.sends()) > len(RESIDENTS)

    # the resident whose code was refused for good asks for another one
    [unlucky] = [p for p in RESIDENTS if not refusing.accepted(p)]
    clock.advance(45)
    resent = (await gql(RESEND, {"id": flows[unlucky]}))["resendCode"]
    assert resent["errors"] == [], resent
    await deliver_all(container, worker, clock)
    rows = await sms_rows(container)
    assert_books_agree(rows, refusing)

    for phone, flow_id in flows.items():
        [code] = refusing.codes(phone)  # exactly once
        confirmed = (await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"]
        assert confirmed["errors"] == [] and confirmed["flow"]["step"] == "ACCOUNT", confirmed
        assert (await prove(gql, flow_id, account=ACCOUNT))["errors"] == []
        assert (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]["errors"] == []
        email = f"r{phone[-4:]}@example.com"
        personal = (await gql(PERSONAL, {"id": flow_id, **PERSONAL_DEFAULTS, "email": email}))[
            "setPersonalData"
        ]
        assert personal["errors"] == [], personal
        done = (await gql(SET_PASSWORD, {"id": flow_id, "password": PASSWORD}))["setPassword"]
        assert done["errors"] == [] and done["session"]["token"], done
    assert sorted(m.phone for m in refusing.accepted()) == sorted(p.lstrip("+") for p in RESIDENTS)


# --- support sees the gateway ----------------------------------------------------------------------------------
async def test_deliveries_show_by_prefix_names_the_gateway_and_its_id(container, refusing, worker) -> None:
    from eirc.cli.deliveries import app
    from eirc.delivery.messages import queue_sms_code

    refusing.reset()
    async with container.uow() as tx:
        queued = await queue_sms_code(tx, container, phone=PHONE, code="5512")
        await tx.commit()
    await worker.run_once()
    [message] = refusing.accepted(PHONE)
    env = {
        "EIRC_ENV": "test",
        "EIRC_DATABASE_URL": container.settings.database_url,
        "EIRC_SECRET_KEY": container.settings.secret_key,
    }

    def invoke(*args: str) -> Any:
        reset_settings_cache()
        try:
            return CliRunner().invoke(app, list(args), env=env)
        finally:
            reset_settings_cache()

    shown = await asyncio.to_thread(invoke, "show", queued.id[:8], "--json")
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert (record["id"], record["status"]) == (queued.id, "sent")
    assert (record["gateway"], record["gateway_message_id"]) == (refusing.name, message.message_id)
    assert not leaks("5512", shown.stdout)
    table = await asyncio.to_thread(invoke, "show", queued.id)
    assert table.exit_code == 0 and message.message_id in table.stdout
    for key, words in (("abc", "at least 6"), ("ffffffffff", "no delivery"), ("", "no delivery id")):
        missing = await asyncio.to_thread(invoke, "show", key)
        assert missing.exit_code == 1 and words in missing.stderr
    listed = await asyncio.to_thread(invoke, "list")
    assert "gateway" in listed.stdout and message.message_id in listed.stdout


# --- a real gateway process configured by the environment alone ----------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", [FakeSmsc, FakeSmsRu], ids=["smsc", "smsru"])
def test_a_real_eirc_serve_sends_through_the_gateway_refusing_in_the_body(tmp_path, kind) -> None:
    fake = kind()
    fake.refuse_next(1, 4 if kind is FakeSmsc else 220)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(environment(fake))
    env.update(
        EIRC_DATABASE_URL=f"sqlite:///{tmp_path / 'eirc.db'}",
        EIRC_DELIVERY_BACKOFF_SECONDS="0.2",
        EIRC_DELIVERY_MAX_BACKOFF_SECONDS="0.5",
        EIRC_LOG_FORMAT="text",
    )
    subprocess.run(
        [EIRC, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True, timeout=120
    )
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [EIRC, "serve", "--port", str(port)], env=env, cwd=tmp_path, stdout=log, stderr=log
    )
    try:
        wait_healthy(url, proc)
        query = (
            "mutation($p: String!) { startPhone(phone: $p, consent: true) { flow { step } errors { code } } }"
        )
        answer = httpx.post(
            f"{url}/graphql", json={"query": query, "variables": {"p": PHONE}}, timeout=30
        ).json()
        assert answer["data"]["startPhone"]["flow"]["step"] == "CODE", answer
        fake.wait_until(lambda: len(fake.accepted(PHONE)) == 1)
        deadline = time.monotonic() + 30
        while True:  # the worker records the verdict right after the gateway's answer
            listed = subprocess.run(
                [EIRC, "deliveries", "list", "--json"], env=env, cwd=tmp_path, capture_output=True, text=True,
                timeout=60,
            )  # fmt: skip
            [row] = json.loads(listed.stdout)
            if row["status"] != "pending" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (row["status"], row["attempts"], row["gateway"]) == ("sent", 2, fake.name)
        assert row["gateway_message_id"] == fake.accepted(PHONE)[0].message_id
        code = fake.last_code(PHONE)
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
        fake.close()
    text = (tmp_path / "serve.log").read_text()
    assert "sent via " + fake.name in text and not leaks(code, text)
