"""Log hygiene (issue 10, SPEC §10): every mutation driven with the log at DEBUG, then the captured log
searched for every secret that passed (passwords, SMS codes, session and e-mail tokens, flow ids); one real
`eirc serve` with JSON logs: every stderr line is a JSON object, with no secret and no traceback."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from graphql import parse

from eirc.logs import JsonFormatter, RedactingFilter, TextFormatter, redact
from eirc.requestid import RequestIdFilter
from tests.conftest import make_settings
from tests.providers import free_port
from tests.registration_kit import (
    ACCOUNT,
    CANCEL,
    CONFIRM_ADDRESS,
    CONFIRM_CODE,
    CONFIRM_EMAIL,
    ERRORS,
    GO_BACK,
    OTHER_ACCOUNT,
    PERSONAL,
    PERSONAL_DEFAULTS,
    PROVE,
    RESEND,
    SET_PASSWORD,
    START,
    last_code,
    last_email_token,
    seed_billing,
    sms_ids,
)

PASSWORD = "Parol2024a"
NEW_PASSWORD = "Drugoi5parol"
RESET_PASSWORD = "Tretii7parol"
PHONE = "+79161234567"
OTHER_PHONE = "+79165550011"
EMAIL = "ivan.petrov@example.com"
NEW_EMAIL = "ivan.new@example.com"
PAYLOAD = f"{{ profile {{ id addresses {{ id accountNumber primary }} }} {ERRORS} }}"
FLOW = f"{{ flow {{ id step }} {ERRORS} }}"


@pytest.fixture
def settings_overrides(provider_settings):
    return {**provider_settings, "code_length": 6}


def _leaks(secret: str, text: str) -> bool:
    """Whether `secret` appears as a whole (a short code inside an id or a timestamp is not a leak)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", text) is not None


class Recorder:
    """Posts documents like the suite's `gql`, remembering every mutation field it sent."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.sent: set[str] = set()

    async def __call__(self, query: str, variables: dict | None = None, *, token: str | None = None) -> dict:
        for definition in parse(query).definitions:
            if (
                getattr(definition, "operation", None) is not None
                and definition.operation.value == "mutation"
            ):
                self.sent.update(s.name.value for s in definition.selection_set.selections)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


def _ok(payload: dict) -> dict:
    assert payload["errors"] == [], payload
    return payload


async def _every_mutation(gql: Recorder, c, clock, secrets: list[str]) -> None:
    await seed_billing(c)
    # Registration, with «Назад», a resend and a cancelled second flow on the way.
    before = await sms_ids(c)
    flow_id = _ok((await gql(START, {"phone": PHONE, "consent": True}))["startPhone"])["flow"]["id"]
    secrets += [flow_id, await last_code(c, PHONE, before=before)]
    clock.advance(46)
    before = await sms_ids(c)
    _ok((await gql(RESEND, {"id": flow_id}))["resendCode"])
    code = await last_code(c, PHONE, before=before)
    secrets.append(code)
    _ok((await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"])
    _ok(
        (await gql(PROVE, {"id": flow_id, "period": "2025-12", "account": ACCOUNT, "amount": "1 234,56"}))[
            "proveAccount"
        ]
    )
    _ok((await gql(GO_BACK, {"id": flow_id}))["goBack"])
    _ok(
        (await gql(PROVE, {"id": flow_id, "period": "2025-12", "account": ACCOUNT, "amount": "1 234,56"}))[
            "proveAccount"
        ]
    )
    _ok((await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"])
    _ok((await gql(PERSONAL, {"id": flow_id, **PERSONAL_DEFAULTS}))["setPersonalData"])
    done = _ok((await gql(SET_PASSWORD, {"id": flow_id, "password": PASSWORD}))["setPassword"])
    token = done["session"]["token"]
    email_token = await last_email_token(c, EMAIL)
    secrets += [PASSWORD, token, email_token]
    _ok((await gql(CONFIRM_EMAIL, {"token": email_token}))["confirmEmail"])

    # Sign-in, a wrong password, the password change, logout.
    login = f"mutation($l: String!, $p: String!) {{ login(login: $l, password: $p) {{ session {{ token }} {ERRORS} }} }}"
    assert (await gql(login, {"l": EMAIL, "p": "Wrong5pass"}))["login"]["errors"]
    secrets.append("Wrong5pass")
    second = _ok((await gql(login, {"l": EMAIL, "p": PASSWORD}))["login"])["session"]["token"]
    secrets.append(second)
    change = f"""mutation($c: String!, $n: String!) {{ changePassword(currentPassword: $c, newPassword: $n) {{
        session {{ token }} {ERRORS} }} }}"""
    _ok((await gql(change, {"c": PASSWORD, "n": NEW_PASSWORD}, token=token))["changePassword"])
    secrets.append(NEW_PASSWORD)
    third = _ok((await gql(login, {"l": PHONE, "p": NEW_PASSWORD}))["login"])["session"]["token"]
    secrets.append(third)
    assert (await gql("mutation { logout }", token=third))["logout"] is True

    # Profile changes.
    add = f"""mutation($p: String!, $a: String!, $s: String!) {{
        addAddress(period: $p, accountNumber: $a, amountDue: $s) {PAYLOAD} }}"""
    profile = _ok(
        (await gql(add, {"p": "2025-12", "a": OTHER_ACCOUNT, "s": "500"}, token=token))["addAddress"]
    )["profile"]
    other = next(a["id"] for a in profile["addresses"] if a["accountNumber"] == OTHER_ACCOUNT)
    _ok(
        (
            await gql(
                f"mutation($id: ID!) {{ setPrimaryAddress(addressId: $id) {PAYLOAD} }}",
                {"id": other},
                token=token,
            )
        )["setPrimaryAddress"]
    )
    _ok(
        (
            await gql(
                f"mutation($id: ID!) {{ setEbill(addressId: $id, enabled: true) {PAYLOAD} }}",
                {"id": other},
                token=token,
            )
        )["setEbill"]
    )
    _ok(
        (
            await gql(
                f"mutation($id: ID!) {{ removeAddress(addressId: $id) {PAYLOAD} }}",
                {"id": other},
                token=token,
            )
        )["removeAddress"]
    )
    update = f"mutation($e: String!) {{ updateProfile(email: $e, middleName: null) {PAYLOAD} }}"
    _ok((await gql(update, {"e": NEW_EMAIL}, token=token))["updateProfile"])
    secrets.append(await last_email_token(c, NEW_EMAIL))
    clock.advance(minutes=10)  # past the letters' throttle: a new link
    _ok((await gql(f"mutation {{ resendConfirmationEmail {PAYLOAD} }}", token=token))["resendConfirmationEmail"])
    secrets.append(await last_email_token(c, NEW_EMAIL))

    # Forgotten password: SMS code, a new password, then every session ends.
    forgot = f"mutation($l: String!) {{ forgotPassword(login: $l) {FLOW} }}"
    before = await sms_ids(c)
    reset_id = _ok((await gql(forgot, {"l": PHONE}))["forgotPassword"])["flow"]["id"]
    reset_code = await last_code(c, PHONE, before=before)
    secrets += [reset_id, reset_code]
    _ok((await gql(CONFIRM_CODE, {"id": reset_id, "code": reset_code}))["confirmCode"])
    _ok((await gql(SET_PASSWORD, {"id": reset_id, "password": RESET_PASSWORD}))["setPassword"])
    secrets.append(RESET_PASSWORD)
    fourth = _ok((await gql(login, {"l": PHONE, "p": RESET_PASSWORD}))["login"])["session"]["token"]
    secrets.append(fourth)
    assert (await gql("mutation { logoutEverywhere }", token=fourth))["logoutEverywhere"] is True

    # A connection request from an unknown number; a cancelled flow.
    before = await sms_ids(c)
    request_flow = _ok((await gql(START, {"phone": OTHER_PHONE, "consent": True}))["startPhone"])["flow"][
        "id"
    ]
    request_code = await last_code(c, OTHER_PHONE, before=before)
    secrets += [request_flow, request_code]
    _ok((await gql(CONFIRM_CODE, {"id": request_flow, "code": request_code}))["confirmCode"])
    _ok(
        (
            await gql(
                f"mutation($id: ID!) {{ openConnectionRequest(flowId: $id) {FLOW} }}", {"id": request_flow}
            )
        )["openConnectionRequest"]
    )
    submit = f"""mutation($id: ID!) {{ submitConnectionRequest(flowId: $id, lastName: "Сидорова", firstName: "Анна",
        address: "г. Химки, ул. Мельникова, д. 2", flat: "15", email: "anna@example.com", emailNotifications: true)
        {{ requestId {ERRORS} }} }}"""
    _ok((await gql(submit, {"id": request_flow}))["submitConnectionRequest"])
    before = await sms_ids(c)
    cancelled = _ok((await gql(START, {"phone": "+79165550022", "consent": True}))["startPhone"])["flow"][
        "id"
    ]
    secrets += [cancelled, await last_code(c, "+79165550022", before=before)]
    _ok((await gql(CANCEL, {"id": cancelled}))["cancelFlow"])

    # Госуслуги (no provider configured here): the answers are errors, the state and code still secret.
    assert (await gql(f"mutation {{ gosuslugiStart {{ url {ERRORS} }} }}"))["gosuslugiStart"]["errors"]
    complete = f'mutation {{ gosuslugiComplete(code: "oidc-code-5f2a9c", state: "oidc-state-77b1e3") {{ {ERRORS} }} }}'
    assert (await gql(complete))["gosuslugiComplete"]["errors"]
    secrets += ["oidc-code-5f2a9c", "oidc-state-77b1e3"]


def _production_lines(records: list[logging.LogRecord]) -> list[str]:
    """The records as `eirc serve` writes them, in both formats."""
    lines = []
    for formatter in (JsonFormatter(), TextFormatter()):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(RequestIdFilter())
        handler.addFilter(RedactingFilter())
        handler.setFormatter(formatter)
        for record in records:
            handler.handle(logging.makeLogRecord(record.__dict__))
        lines.append(stream.getvalue())
    return lines


async def test_no_secret_reaches_the_log_through_any_mutation(
    app, http, container, clock, caplog, deliver, provider
):
    caplog.set_level(logging.DEBUG)
    gql = Recorder(http)
    secrets: list[str] = []
    await _every_mutation(gql, container, clock, secrets)
    await deliver()  # SMS, letters and «Домопульт» leave through their providers: their loggers too

    schema = (
        await http.post("/graphql", json={"query": "{ __schema { mutationType { fields { name } } } }"})
    ).json()
    every = {f["name"] for f in schema["data"]["__schema"]["mutationType"]["fields"]}
    assert every - gql.sent == set(), "a mutation is not driven by this test"

    ours = [
        r for r in caplog.records if not r.name.startswith(("mail.log", "aiosmtpd"))
    ]  # not the test's SMTP peer
    assert len(ours) > 20
    raw = "\n".join(r.getMessage() for r in ours)
    written = "\n".join(_production_lines(ours))
    for secret in set(secrets):
        assert not _leaks(secret, raw), f"a secret is in a log message: {secret!r}"
        assert not _leaks(secret, written), f"a secret is in the log output: {secret!r}"
    assert all(r.request_id != "-" for r in ours if r.name.startswith("eirc.services"))


def test_redaction_of_texts_tracebacks_and_headers():
    assert redact('{"password": "Parol2024a", "login": "x"}') == '{"password": "***", "login": "x"}'
    assert "abc.def" not in redact("Authorization: Bearer abc.def")
    assert "S3cr3t" not in redact("GET /confirm-email?token=S3cr3t&x=1 HTTP/1.1")
    assert "9137" not in redact("code=9137")
    try:
        raise ValueError("login failed, newPassword=Drugoi5parol")
    except ValueError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "boom", None, sys.exc_info()
        )
    for formatter in (JsonFormatter(), TextFormatter()):
        out = formatter.format(logging.makeLogRecord(record.__dict__))
        assert "Traceback" in out and "Drugoi5parol" not in out


# --- a real `eirc serve` -------------------------------------------------------------------------------
def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    return received


def _start(eirc: Path, port: int, env: dict, stderr_path: Path) -> subprocess.Popen:
    with stderr_path.open("wb") as stderr:
        return subprocess.Popen(
            [str(eirc), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=stderr_path.parent,
        )


def _wait_ready(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "eirc serve exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("eirc serve did not start")


async def test_eirc_serve_writes_json_lines_without_secrets(
    tmp_path: Path, provider, smtp_sink, provider_settings
):
    from eirc.bootstrap import build_container
    from eirc.storage.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(url)
    seeded = build_container(make_settings(url))
    await seed_billing(seeded)
    await seeded.dispose()

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update({f"EIRC_{k.upper()}": str(v) for k, v in provider_settings.items()})
    env.update(
        EIRC_ENV="test",
        EIRC_DATABASE_URL=url,
        EIRC_SECRET_KEY="serve-test-secret-" + "y" * 32,
        EIRC_LOG_FORMAT="json",
        EIRC_LOG_LEVEL="DEBUG",
        EIRC_CODE_LENGTH="6",
        EIRC_DELIVERY_BACKOFF_SECONDS="0.2",
    )
    eirc = Path(sys.executable).parent / "eirc"
    stderr_path = tmp_path / "stderr.log"
    proc = _start(eirc, port, env, stderr_path)
    secrets: list[str] = []
    try:
        _wait_ready(port, proc)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            async def gql(query: str, variables: dict) -> dict:
                response = await client.post("/graphql", json={"query": query, "variables": variables})
                assert response.status_code == 200, response.text
                return response.json()["data"]

            flow_id = _ok((await gql(START, {"phone": PHONE, "consent": True}))["startPhone"])["flow"]["id"]
            provider.wait_until(lambda: bool(provider.sms_messages(PHONE)))
            code = provider.last_code(PHONE, 6)
            secrets += [flow_id, code, PASSWORD]
            _ok((await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"])
            _ok(
                (
                    await gql(
                        PROVE, {"id": flow_id, "period": "2025-12", "account": ACCOUNT, "amount": "1 234,56"}
                    )
                )["proveAccount"]
            )
            _ok((await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"])
            _ok((await gql(PERSONAL, {"id": flow_id, **PERSONAL_DEFAULTS}))["setPersonalData"])
            done = _ok((await gql(SET_PASSWORD, {"id": flow_id, "password": PASSWORD}))["setPassword"])
            secrets.append(done["session"]["token"])
            smtp_sink.wait_until(lambda: bool(smtp_sink.messages_to(EMAIL)))
            secrets.append(smtp_sink.confirmation_token(EMAIL))
            login = (
                "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { session { token } } }"
            )
            secrets.append((await gql(login, {"l": PHONE, "p": PASSWORD}))["login"]["session"]["token"])
            page = await client.get("/confirm-email", params={"token": secrets[-2]})
            assert page.status_code == 200

            # Hostile requests against the real server: refused, never a 5xx.
            for document in ("{", '{ flow(id: "x") { id } }'):
                assert (await client.post("/graphql", json={"query": document})).status_code == 200
            assert (
                await client.post(
                    "/graphql", content=b"\xff\xfe", headers={"content-type": "application/json"}
                )
            ).status_code == 400
            assert (await client.post("/graphql", json=[{"query": "{ passwordRules }"}])).status_code == 400
        heads = [
            b"GET /graphql?query="
            + b"%20" * 35_000
            + b"{passwordRules} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"GET /graphql?query="
            + b"%20" * 6_000
            + b"{passwordRules} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(1000))
            + b"Content-Length: 0\r\n\r\n",
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
            + b"a" * 100_000
            + b"\r\n\r\n",
            b"GARBAGE\r\n\r\n",
        ]
        for head in heads:
            status = _raw(port, head).split(b"\r\n", 1)[0]
            assert re.match(rb"HTTP/1\.1 4\d\d ", status), status
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    lines = [line for line in stderr_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines, "eirc serve wrote nothing"
    for line in lines:
        doc = json.loads(line)  # every line is one JSON object
        assert {"ts", "level", "logger", "message"} <= doc.keys(), line
    text = "\n".join(lines)
    assert "Traceback" not in text
    assert not [json.loads(line) for line in lines if json.loads(line)["level"] in ("ERROR", "CRITICAL")]
    for secret in secrets:
        assert not _leaks(secret, text), f"a secret is in the server log: {secret!r}"
    assert any("request_id" in json.loads(line) for line in lines)
