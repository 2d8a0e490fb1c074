"""The requests every screen makes leave no reference cycles behind (docs/signin.md, «Garbage»).

A cycle keeps the whole request — its context, the request and response objects, the execution state —
alive until Python's cyclic garbage collector runs, and that collector then runs on the event loop in the
middle of some other request. These requests must be freed by reference counting alone: each is run
through the ASGI app directly (no HTTP client, whose own objects would count) with the collector off, and
the collector must then find nothing of theirs.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from typing import Any

import pytest

from eirc.services.users import AccountProof, create_user
from tests.e2e.signin_helpers import ACCOUNT, LOGIN, PASSWORD, PHONE, add_account

ME = """{ me { id lastName firstName middleName birthDate phone email emailConfirmed emailNotifications
  gosuslugiLinked addresses { id number text accountNumber primary ebill ebillPaused } } }"""


async def call(app: Any, body: dict, token: str | None = None) -> dict:
    raw = json.dumps(body).encode()
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(raw)).encode()))
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent
    return json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))


async def garbage_of(app: Any, body: dict, token: str | None = None, runs: int = 5) -> Counter:
    """The types of what `runs` requests left to the cyclic collector."""
    for _ in range(2):  # warm: caches filled, connections opened
        await call(app, body, token)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(runs):
            await call(app, body, token)
        gc.collect()
        return Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


SIGN_IN = {"query": LOGIN, "variables": {"login": PHONE, "password": PASSWORD}}


@pytest.fixture
async def token(app, container) -> str:
    await add_account(container)
    await create_user(
        container,
        phone=PHONE,
        password=PASSWORD,
        last_name="Петров",
        first_name="Иван",
        email="ivan@example.com",
        email_confirmed=True,
        account=AccountProof(account_number=ACCOUNT, period="2025-12", amount_due="1234,56"),
    )
    return (await call(app, SIGN_IN))["data"]["login"]["session"]["token"]


async def test_a_trivial_query_leaves_no_cycles(app, token):
    assert await garbage_of(app, {"query": "{ __typename }"}, token) == Counter()


async def test_me_leaves_no_cycles(app, token):
    assert (await call(app, {"query": ME}, token))["data"]["me"]["addresses"]
    assert await garbage_of(app, {"query": ME}, token) == Counter()


async def test_a_login_leaves_no_cycles(app, token):
    # the profile asked for too (the selection is looked at), as the sign-in screen does
    assert (await call(app, SIGN_IN))["data"]["login"]["profile"]["addresses"]
    assert await garbage_of(app, SIGN_IN, runs=3) == Counter()
