"""Two real gateway processes (`eirc serve`) on one PostgreSQL database: the lockout, the sessions and a
password reset hold across them (SPEC §4: «The limit must hold when several gateway processes serve the same
database»)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from eirc.bootstrap import build_container
from eirc.domain import texts
from eirc.storage.migrate import upgrade
from eirc.storage.tables import Delivery
from tests.conftest import _create_pg_database, _drop_pg_database, make_settings
from tests.e2e.gateways import wait_healthy
from tests.e2e.signin_helpers import LOGIN, ME, NEW_PASSWORD, PASSWORD, make_user
from tests.providers import free_port

EIRC = str(Path(sys.executable).parent / "eirc")
SECRET = "two-gateways-secret-" + "y" * 32

pytestmark = pytest.mark.slow


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(
        EIRC_ENV="test",
        EIRC_DATABASE_URL=database_url,
        EIRC_SECRET_KEY=SECRET,
        EIRC_LOGIN_PER_CLIENT_PER_MINUTE="1000",
        EIRC_START_PHONE_PER_CLIENT_PER_HOUR="1000",
        EIRC_SMS_PER_CLIENT_PER_HOUR="1000",
        EIRC_LOG_LEVEL="WARNING",
    )
    return env


@pytest.fixture(scope="module")
def gateways() -> Iterator[tuple[str, list[str]]]:
    name, url = _create_pg_database()
    procs: list[subprocess.Popen] = []
    try:
        upgrade(url)
        urls = []
        for _ in range(2):
            port = free_port()
            proc = subprocess.Popen(
                [EIRC, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
                env=_env(url),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            urls.append(f"http://127.0.0.1:{port}")
        for u, p in zip(urls, procs, strict=True):
            wait_healthy(u, p)
        yield url, urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        _drop_pg_database(name)


def _container(database_url: str):
    return build_container(make_settings(database_url, secret_key=SECRET))


def _create_user(database_url: str, phone: str, email: str) -> None:
    async def go() -> None:
        c = _container(database_url)
        try:
            await make_user(c, phone=phone, email=email)
        finally:
            await c.dispose()

    asyncio.run(go())


def _gql(base: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _login(base: str, login: str, password: str) -> dict:
    return _gql(base, LOGIN, {"login": login, "password": password})["login"]


def _codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def test_lockout_is_shared_by_both_processes(gateways):
    database_url, (a, b) = gateways
    phone = "+79161230001"
    _create_user(database_url, phone, "shared.lock@example.com")
    # failures spread over both processes; the default limit is 5
    for base in (a, b, a, b, a):
        assert _codes(_login(base, phone, "Wrong1pass")) == ["INVALID_CREDENTIALS"]
    for base in (a, b):
        payload = _login(base, phone, PASSWORD)
        assert payload["session"] is None
        assert [(e["code"], e["message"]) for e in payload["errors"]] == [
            ("LOGIN_LOCKED", texts.LOGIN_LOCKED)
        ]

    # a burst of aliased attempts sent to both processes at once checks nothing more
    unlock = subprocess.run(
        [EIRC, "users", "unlock", phone], env=_env(database_url), capture_output=True, text=True, timeout=60
    )
    assert unlock.returncode == 0, unlock.stderr
    aliased = "mutation { %s }" % " ".join(  # noqa: UP031
        f'a{i}: login(login: "{phone}", password: "Wrong{i}x") {{ errors {{ code }} }}' for i in range(3)
    )

    async def burst() -> list[str]:
        async with httpx.AsyncClient(timeout=30) as client:
            responses = await asyncio.gather(
                *(client.post(f"{base}/graphql", json={"query": aliased}) for base in (a, b, a, b))
            )
        return [r.json()["data"][f"a{i}"]["errors"][0]["code"] for r in responses for i in range(3)]

    results = asyncio.run(burst())
    assert results.count("INVALID_CREDENTIALS") == 5  # no more passwords checked than the limit
    assert results.count("LOGIN_LOCKED") == 7


def test_logout_everywhere_on_one_process_ends_sessions_used_on_the_other(gateways):
    database_url, (a, b) = gateways
    phone = "+79161230002"
    _create_user(database_url, phone, "everywhere@example.com")
    on_b = _login(b, phone, PASSWORD)["session"]["token"]
    on_a = _login(a, phone, PASSWORD)["session"]["token"]
    assert _gql(b, ME, token=on_b)["me"]["phone"] == phone
    assert _gql(a, "mutation { logoutEverywhere }", token=on_a)["logoutEverywhere"] is True
    assert _gql(b, ME, token=on_b)["me"] is None
    assert _gql(a, ME, token=on_b)["me"] is None


def test_password_reset_by_sms_on_one_process_kills_the_session_on_the_other(gateways):
    database_url, (a, b) = gateways
    phone = "+79161230003"
    _create_user(database_url, phone, "reset@example.com")
    old = _login(b, phone, PASSWORD)["session"]["token"]
    flow = _gql(a, 'mutation { forgotPassword(login: "%s") { flow { id step } errors { code } } }' % phone)  # noqa: UP031
    flow_id = flow["forgotPassword"]["flow"]["id"]

    async def code_from_outbox() -> str:  # the gateways run without a worker: read the pending SMS
        c = _container(database_url)
        try:
            async with c.uow() as tx:
                secret_enc = (
                    await tx.session.execute(
                        select(Delivery.secret_enc).where(
                            Delivery.recipient == phone, Delivery.kind == "sms_code"
                        )
                    )
                ).scalar_one()
            return c.secrets.decrypt(secret_enc)
        finally:
            await c.dispose()

    code = asyncio.run(code_from_outbox())
    confirm = _gql(
        b,
        'mutation { confirmCode(flowId: "%s", code: "%s") { flow { step } errors { code } } }'  # noqa: UP031
        % (flow_id, code),
    )
    assert confirm["confirmCode"]["flow"]["step"] == "PASSWORD"
    done = _gql(
        a,
        'mutation { setPassword(flowId: "%s", password: "%s") { session { token } flow { step } errors { code } } }'  # noqa: UP031
        % (flow_id, NEW_PASSWORD),
    )["setPassword"]
    assert done["errors"] == [] and done["session"] is None and done["flow"]["step"] == "LOGIN"
    assert _gql(b, ME, token=old)["me"] is None
    assert _login(b, phone, NEW_PASSWORD)["errors"] == []
