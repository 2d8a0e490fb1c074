"""`/metrics` of a real `eirc serve --workers 2` (issue 23, CONTRACT §4a: «with --workers N the counters are
the sum over processes»), on both backends.

Residents register and sign in over fresh connections, which the kernel spreads over both gateway processes;
the SMS go to a local relay (tests/providers.py) through the in-process delivery workers. One scrape must then
show exactly what was done — whichever process did it — and no personal data in any label. With
EIRC_METRICS_BIND the parent process serves the same figures on its own address (and the gateway's port has
no /metrics); a gateway process killed and started again takes none of its counts with it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.gateways import wait_healthy
from tests.e2e.test_probes_metrics import samples, value
from tests.e2e.test_serve_workers import _children, _stop
from tests.providers import SMS_TOKEN, free_port
from tests.registration_kit import PERSONAL, START, seed_billing

EIRC = str(Path(sys.executable).parent / "eirc")
SECRET = "metrics-workers-secret-" + "m" * 32
PASSWORD = "Parol2024a"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(180),
    pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT is Linux/BSD only"),
]

GQL = {
    "confirm": "mutation($id: ID!, $code: String!) { confirmCode(flowId: $id, code: $code) { errors { code } } }",
    "prove": "mutation($id: ID!, $p: String!, $a: String!, $m: String!) { proveAccount(flowId: $id, period: $p,"
    " accountNumber: $a, amountDue: $m) { errors { code } } }",
    "address": "mutation($id: ID!) { confirmAddress(flowId: $id) { errors { code } } }",
    "password": "mutation($id: ID!, $pw: String!) { setPassword(flowId: $id, password: $pw) {"
    " session { token } errors { code } } }",
    "login": "mutation($l: String!, $pw: String!) { login(login: $l, password: $pw) { session { token }"
    " errors { code } } }",
}


@pytest.fixture
def settings_overrides(provider_settings):
    return provider_settings


def _env(database_url: str, provider, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EIRC_", "PROMETHEUS_"))}
    env.update(
        EIRC_ENV="test",
        EIRC_DATABASE_URL=database_url,
        EIRC_SECRET_KEY=SECRET,
        EIRC_LOG_LEVEL="WARNING",
        EIRC_SMS_URL=provider.sms_url,
        EIRC_SMS_TOKEN=SMS_TOKEN,
        **extra,
    )
    return env


@pytest.fixture
def gateway(container, provider) -> Iterator:
    started: list[subprocess.Popen] = []

    def start(**extra: str) -> tuple[str, subprocess.Popen]:
        port = free_port()
        proc = subprocess.Popen(
            [EIRC, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=_env(container.settings.database_url, provider, **extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        return url, proc

    yield start
    for proc in started:
        _stop(proc)


def post(url: str, query: str, variables: dict) -> dict:
    """One request on a connection of its own, so that the kernel picks the process anew each time."""
    with httpx.Client(timeout=30, headers={"Connection": "close"}) as client:
        response = client.post(f"{url}/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def register(url: str, provider, phone: str, email: str) -> None:
    flow = post(url, START, {"phone": phone, "consent": True})["startPhone"]
    assert flow["errors"] == [], flow
    flow_id = flow["flow"]["id"]
    provider.wait_until(lambda: bool(provider.sms_messages(phone)), timeout=20)
    steps = [
        ("confirmCode", GQL["confirm"], {"code": provider.last_code(phone)}),
        ("proveAccount", GQL["prove"], {"p": "2025-12", "a": "5012345678", "m": "1 234,56"}),
        ("confirmAddress", GQL["address"], {}),
        (
            "setPersonalData",
            PERSONAL,
            {
                "last": "Петров",
                "first": "Иван",
                "middle": None,
                "birth": None,
                "email": email,
                "notify": True,
            },
        ),
        ("setPassword", GQL["password"], {"pw": PASSWORD}),
    ]
    for field, query, variables in steps:
        answer = post(url, query, {"id": flow_id, **variables})[field]
        assert answer["errors"] == [], (field, answer)


def scrape(url: str) -> tuple[str, dict]:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return response.text, samples(response.text)


def act(url: str, provider) -> dict[str, int]:
    """What the residents do; the counts the metrics must show."""
    phones = [f"+7916777{n:04d}" for n in range(3)]
    for n, phone in enumerate(phones):
        register(url, provider, phone, f"resident{n}@example.com")
    successes = failures = 0
    for n in range(8):
        phone = phones[n % len(phones)]
        good = n % 4 != 3
        answer = post(url, GQL["login"], {"l": phone, "pw": PASSWORD if good else "Wrong123x"})["login"]
        assert (answer["errors"] == []) is good, answer
        successes, failures = successes + good, failures + (not good)
    provider.wait_until(lambda: len(provider.sms_messages()) >= len(phones), timeout=20)
    return {"registrations": len(phones), "successes": successes, "failures": failures, "sms": len(phones)}


def check(found: dict, text: str, done: dict[str, int]) -> None:
    assert value(found, "eirc_registrations_total") == done["registrations"]
    assert value(found, "eirc_logins_total", outcome="success") == done["successes"]
    assert value(found, "eirc_logins_total", outcome="invalid_credentials") == done["failures"]
    assert value(found, "eirc_logins_total", outcome="locked") == 0
    assert value(found, "eirc_flows_started_total", kind="REGISTRATION") == done["registrations"]
    assert (
        value(found, "eirc_graphql_requests_total", operation="setPassword", outcome="ok")
        == done["registrations"]
    )
    assert value(found, "eirc_graphql_request_seconds_count", operation="login") == (
        done["successes"] + done["failures"]
    )
    assert value(found, "eirc_sms_sent_total", gateway="relay", verdict="sent") == done["sms"]
    assert value(found, "eirc_database_up") == 1
    assert value(found, "eirc_deliveries_pending", channel="sms") == 0
    labels = " ".join(v for (_name, pairs) in found for _k, v in pairs)
    assert not re.search(r"\d{7,}|@|Петров|Parol|Wrong", labels), labels
    assert "+7916777" not in text and "example.com" not in text


def gateway_processes(pid: int) -> list[int]:
    """The gateway processes of `eirc serve` (its other child is multiprocessing's resource tracker)."""
    found = []
    for child in _children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue
    return found


async def test_the_counters_are_the_sum_over_the_gateway_processes(container, provider, gateway, tmp_path):
    await seed_billing(container)
    await asyncio.to_thread(_sum_over_processes, provider, gateway, tmp_path)


def _sum_over_processes(provider, gateway, tmp_path) -> None:
    directory = tmp_path / "metrics"
    url, _proc = gateway(PROMETHEUS_MULTIPROC_DIR=str(directory))
    done = act(url, provider)
    text, found = scrape(url)
    check(found, text, done)
    # both processes counted something: each wrote its own file, and the scrape added them up
    writers = {f.name.split("_")[-1] for f in directory.glob("counter_*.db")}
    assert len(writers) >= 2, writers
    assert httpx.get(f"{url}/readyz", timeout=5).json() == {"status": "ready"}


async def test_metrics_on_their_own_address_and_a_restarted_process(container, provider, gateway):
    await seed_billing(container)
    await asyncio.to_thread(_own_address_and_a_restart, provider, gateway)


def _own_address_and_a_restart(provider, gateway) -> None:
    port = free_port()
    url, proc = gateway(EIRC_METRICS_BIND=f"127.0.0.1:{port}")
    assert httpx.get(f"{url}/metrics", timeout=5).status_code == 404
    done = act(url, provider)
    metrics_url = f"http://127.0.0.1:{port}"
    text, found = scrape(metrics_url)
    check(found, text, done)

    victim = gateway_processes(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)  # the supervisor starts another; the dead one's counts still count
    deadline = time.monotonic() + 30
    while victim in gateway_processes(proc.pid) or len(gateway_processes(proc.pid)) < 2:
        assert time.monotonic() < deadline, "the gateway process was not started again"
        time.sleep(0.2)
    wait_healthy(url, proc)
    _, after = scrape(metrics_url)
    assert value(after, "eirc_registrations_total") == done["registrations"]
    assert value(after, "eirc_logins_total", outcome="success") == done["successes"]
