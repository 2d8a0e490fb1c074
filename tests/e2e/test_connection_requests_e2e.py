"""The issue's «Done when», on PostgreSQL with real processes: a resident fails an account proof and files a
connection request while «Домопульт» is down; the gateway is killed (SIGKILL); both come back; «Домопульт»
gets the request once with every field; support lists, takes and resolves it with `eirc`; the resident is
told by SMS (at the local provider) and by e-mail (at the local SMTP server)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from eirc.bootstrap import Container, build_container
from eirc.domain import texts
from eirc.storage.migrate import upgrade
from eirc.storage.tables import Delivery
from tests.conftest import _create_pg_database, _drop_pg_database, make_settings
from tests.providers import CRM_PATH, CRM_TOKEN, MAIL_FROM, SMS_PATH, SMS_TOKEN, free_port
from tests.registration_kit import seed_billing

EIRC = str(Path(sys.executable).parent / "eirc")
SECRET = "connection-requests-e2e-" + "z" * 32
PHONE = "+79161234567"
EMAIL = "anna.sidorova@example.com"
UNKNOWN = "5099999999"

pytestmark = pytest.mark.slow

GQL_ERRORS = "errors { code field message hint }"
START = f"""mutation($phone: String!) {{ startPhone(phone: $phone, consent: true) {{
  flow {{ id step }} {GQL_ERRORS} }} }}"""
CONFIRM = f"""mutation($id: ID!, $code: String!) {{ confirmCode(flowId: $id, code: $code) {{
  flow {{ step }} {GQL_ERRORS} }} }}"""
PROVE = f"""mutation($id: ID!, $account: String!) {{
  proveAccount(flowId: $id, period: "2025-12", accountNumber: $account, amountDue: "1 234,56") {{
    flow {{ step }} {GQL_ERRORS} }} }}"""
OPEN = f"mutation($id: ID!) {{ openConnectionRequest(flowId: $id) {{ flow {{ step }} {GQL_ERRORS} }} }}"
SUBMIT = f"""mutation($id: ID!) {{ submitConnectionRequest(flowId: $id, lastName: "Сидорова", firstName: "Анна",
  middleName: "Петровна", address: "Московская обл., г. Химки, ул. Мельникова, д. 2", flat: "15",
  email: "Anna.Sidorova@example.com", emailNotifications: true) {{
  requestId title message flow {{ step }} {GQL_ERRORS} }} }}"""


@pytest.fixture
async def pg() -> AsyncIterator[Container]:
    """A PostgreSQL database of its own, migrated, with billing data; a container on real time."""
    name, url = await asyncio.to_thread(_create_pg_database)
    try:
        await asyncio.to_thread(upgrade, url)
        c = build_container(make_settings(url, secret_key=SECRET))
        await seed_billing(c)
        yield c
        await c.dispose()
    finally:
        await asyncio.to_thread(_drop_pg_database, name)


def environment(c: Container, provider, smtp_sink) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(
        EIRC_ENV="test",
        EIRC_DATABASE_URL=c.settings.database_url,
        EIRC_SECRET_KEY=SECRET,
        EIRC_PUBLIC_URL="http://lkk.example.com",
        EIRC_SMS_URL=provider.sms_url,
        EIRC_SMS_TOKEN=SMS_TOKEN,
        EIRC_CRM_URL=provider.crm_url,
        EIRC_CRM_TOKEN=CRM_TOKEN,
        EIRC_SMTP_HOST=smtp_sink.host,
        EIRC_SMTP_PORT=str(smtp_sink.port),
        EIRC_MAIL_FROM=MAIL_FROM,
        EIRC_DELIVERY_BACKOFF_SECONDS="0.2",
        EIRC_DELIVERY_MAX_BACKOFF_SECONDS="0.5",
        EIRC_DELIVERY_TIMEOUT_SECONDS="2",
        EIRC_LOG_FORMAT="text",
        LOGNAME="irina",
    )
    return env


class Gateway:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.port = env, log, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            [EIRC, "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )

    async def start(self) -> None:
        self.spawn()
        assert self.proc is not None
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as client:
            while True:
                assert self.proc.poll() is None, self.tail()
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, self.tail()
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""

    async def gql(self, query: str, variables: dict) -> dict:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(f"{self.url}/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


async def crm_rows(c: Container) -> list[Delivery]:
    async with c.uow() as tx:
        rows = list((await tx.session.execute(select(Delivery).where(Delivery.channel == "crm"))).scalars())
        tx.session.expunge_all()
        return rows


async def eventually(check: Callable[[], object], what: str, gateway: Gateway, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert gateway.proc is None or gateway.proc.poll() is None, gateway.tail()
        assert time.monotonic() < deadline, f"{what}: not within {within}s\n{gateway.tail()}"
        await asyncio.sleep(0.1)


async def eirc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(
        subprocess.run, [EIRC, *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_request_filed_while_domopult_is_down_survives_a_killed_gateway(
    pg, provider, smtp_sink, tmp_path
) -> None:
    env = environment(pg, provider, smtp_sink)
    gateway = Gateway(env, tmp_path / "serve.log")
    try:
        await gateway.start()
        # The resident: phone, the SMS code (from the local provider), a failed account proof.
        flow_id = (await gateway.gql(START, {"phone": "8 916 123-45-67"}))["startPhone"]["flow"]["id"]
        await eventually(lambda: provider.sms_messages(PHONE), "the code SMS", gateway)
        code = provider.last_code(PHONE, 4)
        assert (await gateway.gql(CONFIRM, {"id": flow_id, "code": code}))["confirmCode"]["flow"][
            "step"
        ] == "ACCOUNT"
        failed = (await gateway.gql(PROVE, {"id": flow_id, "account": UNKNOWN}))["proveAccount"]
        assert [e["code"] for e in failed["errors"]] == ["UNKNOWN_ACCOUNT"] and failed["errors"][0]["hint"]

        # «Домопульт» is down when the request is filed.
        provider.down()
        assert (await gateway.gql(OPEN, {"id": flow_id}))["openConnectionRequest"]["flow"]["step"] == (
            "CONNECTION_REQUEST"
        )
        filed = (await gateway.gql(SUBMIT, {"id": flow_id}))["submitConnectionRequest"]
        assert filed["errors"] == [] and filed["title"] == texts.CONNECTION_ACCEPTED_TITLE
        assert filed["message"] == texts.CONNECTION_ACCEPTED_TEXT and filed["flow"]["step"] == "DONE"
        request_id = filed["requestId"]

        async def tried_and_failed() -> bool:
            return any(d.attempts >= 2 and d.status == "pending" for d in await crm_rows(pg))

        await eventually(tried_and_failed, "the gateway trying «Домопульт»", gateway)
        gateway.kill()
        assert provider.received(CRM_PATH) == []

        # Both come back.
        provider.up()
        await gateway.start()

        async def sent() -> bool:
            return [d.status for d in await crm_rows(pg)] == ["sent"]

        await eventually(sent, "the request delivered", gateway)
        accepted = provider.accepted(CRM_PATH)
        assert len(accepted) == 1 and accepted[0].body["type"] == "connection_request"
        assert set(provider.keys(CRM_PATH).values()) == {1}  # never sent twice
        data = accepted[0].body["data"]
        assert data["request_id"] == request_id and data["phone"] == PHONE and data["status"] == "new"
        assert (data["last_name"], data["first_name"], data["middle_name"]) == (
            "Сидорова",
            "Анна",
            "Петровна",
        )
        assert data["address"] == "Московская обл., г. Химки, ул. Мельникова, д. 2" and data["flat"] == "15"
        assert data["email"] == EMAIL and data["email_notifications"] is True
        assert (data["account_number"], data["period"], data["amount_due"]) == (
            UNKNOWN,
            "2025-12",
            "1 234,56",
        )
        assert data["account_known"] is False and data["submitted_at"] and data["personal_data_consent_at"]

        # Support: list, take, resolve — with `eirc`, against the same database, while the gateway runs.
        listed = await eirc(env, "requests", "list", "--status", "new", "--json")
        assert listed.returncode == 0, listed.stderr
        [row] = json.loads(listed.stdout)
        assert row["id"] == request_id and row["phone"] == PHONE
        taken = await eirc(env, "requests", "take", request_id)
        assert taken.returncode == 0 and "new → in_progress, assignee irina" in taken.stdout, taken.stderr
        resolved = await eirc(env, "requests", "resolve", request_id)
        assert resolved.returncode == 0 and "in_progress → resolved" in resolved.stdout, resolved.stderr
        again = await eirc(env, "requests", "resolve", request_id)
        assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1

        # The resident is told: the gateway's worker picks the messages up from the database.
        def told_by_sms() -> bool:
            return any(m["text"] == texts.REQUEST_RESOLVED_SMS for m in provider.sms_messages(PHONE))

        await eventually(told_by_sms, "the SMS to the resident", gateway)
        await eventually(
            lambda: any(
                m.message["Subject"] == texts.REQUEST_RESOLVED_SUBJECT for m in smtp_sink.messages_to(EMAIL)
            ),
            "the letter to the resident",
            gateway,
        )
        letters = [
            m for m in smtp_sink.messages_to(EMAIL) if m.message["Subject"] == texts.REQUEST_RESOLVED_SUBJECT
        ]
        assert len(letters) == 1
        body = smtp_sink.text_of(letters[0].message)
        assert "Анна Петровна" in body and "+7 916 123-45-67" in body and "http://lkk.example.com" in body
        assert Counter(m["text"] for m in provider.sms_messages(PHONE))[texts.REQUEST_RESOLVED_SMS] == 1
        assert len(provider.accepted(SMS_PATH)) == 2  # the code, and the news
    finally:
        gateway.stop()
