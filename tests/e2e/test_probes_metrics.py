"""/healthz, /readyz and /metrics of one gateway process (issue 23, CONTRACT §4a), on both backends.

Counters are process-wide, so each test reads them before and after what it does and compares the difference.
`eirc serve --workers 2` (the sum over processes) is tests/e2e/test_metrics_workers.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from eirc.bootstrap import build_container
from eirc.storage.migrate import upgrade
from eirc.web import probes
from eirc.web.app import create_app
from tests.conftest import _create_pg_database, _drop_pg_database, _pg_admin, make_settings
from tests.e2e.signin_helpers import EMAIL, LOGIN, PASSWORD, PHONE, make_user
from tests.integration.test_connection_requests import FORM, open_request, submit
from tests.registration_kit import register, seed_billing, to_account_step

Samples = dict[tuple[str, frozenset], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient) -> tuple[str, Samples]:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text, samples(response.text)


@pytest.fixture
def settings_overrides(provider_settings):
    return provider_settings


# --- liveness and readiness ------------------------------------------------------------------------------------
async def test_healthz_is_liveness_and_readyz_is_ready(http):
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


@pytest.fixture
def no_cache(monkeypatch):
    monkeypatch.setattr(probes, "READY_CACHE_SECONDS", 0.0)


async def client_for(settings: Any) -> tuple[httpx.AsyncClient, Any]:
    container = build_container(settings)
    transport = httpx.ASGITransport(app=create_app(container))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver"), container


async def test_readyz_refuses_a_database_not_at_head(tmp_path, no_cache):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    http, container = await client_for(make_settings(url))
    try:
        empty = await http.get("/readyz")  # no tables at all
        assert empty.status_code == 503
        assert empty.json() == {
            "status": "unready",
            "reason": "database not migrated: no alembic_version table (run `eirc db upgrade`)",
        }
        assert (await http.get("/healthz")).status_code == 200  # alive all the same

        await asyncio.to_thread(upgrade, url, "0002_delivery_gateway")
        behind = (await http.get("/readyz")).json()
        assert behind["status"] == "unready"
        assert behind["reason"].startswith(
            "database not migrated: at 0002_delivery_gateway, this build needs "
        )
        assert "\n" not in behind["reason"]

        await asyncio.to_thread(upgrade, url)
        assert (await http.get("/readyz")).status_code == 200
    finally:
        await http.aclose()
        await container.dispose()


async def test_readyz_answers_from_its_cache_between_checks(http, monkeypatch):
    calls = []
    real = probes.Readiness._check

    async def counted(self):
        calls.append(1)
        return await real(self)

    monkeypatch.setattr(probes.Readiness, "_check", counted)
    for _ in range(20):
        assert (await http.get("/readyz")).status_code == 200
    assert len(calls) == 1


@pytest.fixture
async def pg_database() -> AsyncIterator[tuple[str, str]]:
    name, url = await asyncio.to_thread(_create_pg_database)
    try:
        await asyncio.to_thread(upgrade, url)
        yield name, url
    finally:
        await asyncio.to_thread(_admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await asyncio.to_thread(_drop_pg_database, name)


def _admin(*statements: str) -> None:
    with _pg_admin() as conn:
        for statement in statements:
            conn.execute(statement)


async def test_readyz_follows_postgresql_access(pg_database, no_cache):
    """The database's access cut (connections refused, the gateway's backends ended), then given back."""
    name, url = pg_database
    http, container = await client_for(make_settings(url))
    try:
        assert (await http.get("/readyz")).status_code == 200
        await asyncio.to_thread(
            _admin,
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
        )
        down = await http.get("/readyz")
        assert down.status_code == 503, down.text
        reason = down.json()["reason"]  # refused at once, or still waiting for a connection from the pool
        assert reason.startswith(("database unreachable (", "database did not answer within")), reason
        assert (await http.get("/healthz")).status_code == 200
        metrics = await http.get("/metrics")  # the counters are served; the database's gauges are not
        assert metrics.status_code == 200 and value(samples(metrics.text), "eirc_database_up") == 0

        await asyncio.to_thread(_admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        for _ in range(100):
            if (await http.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail("/readyz did not come back to 200")
    finally:
        await http.aclose()
        await container.dispose()


# --- /metrics ----------------------------------------------------------------------------------------------------
async def test_sign_ins_registrations_and_requests_are_counted(gql, http, container, provider, deliver):
    await seed_billing(container)
    await make_user(container, phone="+79160000001", email="signin@example.com")
    _, before = await scrape(http)

    ok = (await gql(LOGIN, {"login": "+7 916 000-00-01", "password": PASSWORD}))["login"]
    assert ok["errors"] == []
    wrong = (await gql(LOGIN, {"login": "+79160000001", "password": "Wrong123x"}))["login"]
    assert wrong["errors"][0]["code"] == "INVALID_CREDENTIALS"
    await register(gql, container, PHONE, email=EMAIL)
    flow_id = await to_account_step(gql, container, "+79160000002")
    assert (await open_request(gql, flow_id))["errors"] == []
    assert (await submit(gql, flow_id))["errors"] == []
    assert (await submit(gql, flow_id))["errors"] == []  # a repeated submission files nothing new
    assert (await deliver()).sent >= 3

    text, after = await scrape(http)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("eirc_logins_total", outcome="success") == 1
    assert delta("eirc_logins_total", outcome="invalid_credentials") == 1
    assert delta("eirc_registrations_total") == 1
    assert delta("eirc_connection_requests_total") == 1
    assert delta("eirc_flows_started_total", kind="REGISTRATION") == 2
    assert delta("eirc_graphql_requests_total", operation="login", outcome="ok") == 1
    assert delta("eirc_graphql_requests_total", operation="login", outcome="user_error") == 1
    assert delta("eirc_graphql_request_seconds_count", operation="login") == 2
    assert delta("eirc_graphql_requests_total", operation="startPhone", outcome="ok") == 2
    assert delta("eirc_sms_sent_total", gateway="relay", verdict="sent") == 2
    assert delta("eirc_delivery_attempts_total", channel="crm", gateway="crm-http", verdict="sent") == 2
    for outcome in ("success", "invalid_credentials", "locked", "rate_limited", "email_not_confirmed"):
        assert ("eirc_logins_total", frozenset({("outcome", outcome)})) in after  # there from the start

    # no personal data in any label: no phone, no e-mail, no name, no token, no flow id, no password
    labels = " ".join(v for (_name, pairs) in after for _k, v in pairs)
    assert not re.search(r"\d{7,}|@|Петров|Сидорова|Wrong|Parol", labels), labels
    for secret in ("+7916", "79160000001", EMAIL, FORM["email"], ok["session"]["token"], flow_id):
        assert secret not in text


async def test_graphql_outcomes_and_bounded_operation_names(gql, http):
    _, before = await scrape(http)
    await http.post("/graphql", json={"query": "{ billingPeriods { value } }"})
    await http.post("/graphql", json={"query": "query Personal_79161234567 { me { id } }"})
    await http.post("/graphql", json={"query": "{ me { id } billingPeriods { value } }"})
    await http.post("/graphql", json={"query": "{ noSuchField79161234567 }"})
    await http.post("/graphql", json={"query": "{ me { id "})
    await http.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})
    _, after = await scrape(http)

    def delta(operation: str, outcome: str) -> float:
        name = "eirc_graphql_requests_total"
        labels = {"operation": operation, "outcome": outcome}
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("billingPeriods", "ok") == 1
    assert delta("me", "ok") == 1  # by its root field: the client's operation name is not a label
    assert delta("multiple", "ok") == 1
    assert delta("unknown", "invalid") == 1
    assert delta("invalid", "invalid") == 1
    assert delta("introspection", "ok") == 1
    operations = {dict(pairs).get("operation") for (name, pairs) in after if name.startswith("eirc_graphql")}
    assert not any("7916" in (o or "") for o in operations)


async def test_the_database_gauges(gql, http, container, clock):
    await seed_billing(container)
    await make_user(container, phone="+79160000003", email="locked@example.com")
    flow_id = await to_account_step(gql, container, "+79160000004")  # one SMS queued, not sent
    assert (await open_request(gql, flow_id))["errors"] == []
    assert (await submit(gql, flow_id))["errors"] == []  # a «Домопульт» message queued too
    for _ in range(container.settings.login_max_failures):
        await gql(LOGIN, {"login": "+79160000003", "password": "Wrong123x"})
    clock.advance(seconds=90)

    _, found = await scrape(http)
    assert value(found, "eirc_database_up") == 1
    assert value(found, "eirc_deliveries_pending", channel="sms") == 1
    assert value(found, "eirc_deliveries_pending", channel="crm") == 1
    assert value(found, "eirc_deliveries_pending", channel="email") == 0
    assert value(found, "eirc_deliveries_dead", channel="sms") == 0
    assert value(found, "eirc_deliveries_oldest_pending_seconds", channel="sms") == 90
    assert value(found, "eirc_connection_requests_by_status", status="new") == 1
    assert value(found, "eirc_login_locks", kind="lock") == 1
    assert value(found, "eirc_login_locks", kind="suspension") == 0
    assert value(found, "eirc_sms_budget_used") == 1
    assert value(found, "eirc_sms_budget_limit") == container.settings.sms_global_per_hour


async def test_metrics_off_or_elsewhere_is_not_on_the_gateway_port(database_url):
    for overrides in ({"metrics": False}, {"metrics_bind": "127.0.0.1:9109"}):
        http, container = await client_for(make_settings(database_url, **overrides))
        try:
            assert (await http.get("/metrics")).status_code == 404
            assert (await http.get("/healthz")).status_code == 200
        finally:
            await http.aclose()
            await container.dispose()
