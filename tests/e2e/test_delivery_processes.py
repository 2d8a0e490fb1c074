"""Real processes: `eirc worker` / `eirc serve` killed hard, restarted, and racing, against the local provider.

What a resident and «Домопульт» must see: every message exactly once, one idempotency key per message.
Back-off is kept small (EIRC_DELIVERY_BACKOFF_SECONDS=0.2) so that these tests take seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from eirc.bootstrap import Container, build_container
from eirc.delivery.messages import queue_crm
from eirc.storage.tables import Delivery
from tests.providers import CRM_PATH, CRM_TOKEN, FakeProvider, free_port

EIRC = str(Path(sys.executable).parent / "eirc")

pytestmark = pytest.mark.slow


def eirc_env(container: Container, **settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(
        EIRC_ENV="test",
        EIRC_DATABASE_URL=container.settings.database_url,
        EIRC_SECRET_KEY=container.settings.secret_key,
        EIRC_LOG_LEVEL="INFO",
        EIRC_LOG_FORMAT="text",
        EIRC_DELIVERY_BACKOFF_SECONDS="0.2",
        EIRC_DELIVERY_MAX_BACKOFF_SECONDS="0.5",
    )
    env.update({f"EIRC_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [EIRC, *args], env=env, cwd=log.parent, stdout=subprocess.DEVNULL, stderr=log.open("ab")
    )


def kill_hard(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def stop_gracefully(proc: subprocess.Popen, log: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(15)
    # `eirc worker` exits 0; uvicorn (`eirc serve`) shuts down cleanly, then re-raises the signal
    assert code == 0 or (code == -signal.SIGTERM and "shutdown complete" in log.read_text()), log.read_text()


def tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def snapshot(c: Container) -> list[Delivery]:
    async with c.uow() as tx:
        found = list((await tx.session.execute(select(Delivery))).scalars())
        tx.session.expunge_all()
    return found


async def wait_for(
    c: Container,
    predicate: Callable[[list[Delivery]], bool],
    log: Path,
    within: float = 30,
    procs: tuple[subprocess.Popen, ...] = (),
) -> None:
    deadline = time.monotonic() + within
    while True:
        found = await snapshot(c)
        if predicate(found):
            return
        for proc in procs:
            assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}:\n{tail(log)}"
        if time.monotonic() > deadline:
            states = Counter((d.status, d.attempts) for d in found)
            raise AssertionError(f"timed out; (status, attempts): {dict(states)}\n{tail(log)}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def real(container: Container):
    """The test database with a real clock: the processes under test run on real time."""
    c = build_container(container.settings, hasher=container.hasher)
    yield c
    await c.dispose()


async def queue_events(c: Container, n: int) -> None:
    async with c.uow() as tx:
        for i in range(n):
            await queue_crm(tx, c, type="registration", data={"phone": "+79161234567", "n": i})
        await tx.commit()


def assert_each_delivered_once(provider: FakeProvider, rows: list[Delivery]) -> None:
    keys = {d.idempotency_key for d in rows}
    accepted = provider.accepted(CRM_PATH)
    assert Counter(r.idempotency_key for r in accepted) == Counter(keys)  # each message exactly once
    for r in provider.received(CRM_PATH):
        assert r.body["id"] == r.idempotency_key  # one key per message, in the body and the header
        assert r.authorization == f"Bearer {CRM_TOKEN}"
    assert sorted(r.body["data"]["n"] for r in accepted) == list(range(len(rows)))
    assert {d.status for d in rows} == {"sent"}


async def test_worker_killed_while_crm_is_down_delivers_each_once_after_restart(
    real, provider, tmp_path
) -> None:
    n = 30
    provider.down()
    await queue_events(real, n)
    env = eirc_env(real, crm_url=provider.crm_url, crm_token=CRM_TOKEN)
    log = tmp_path / "worker.log"

    first = start(["worker"], env, log)
    try:
        await wait_for(real, lambda rows: all(d.attempts >= 2 for d in rows), log, procs=(first,))
    finally:
        kill_hard(first)
    assert provider.received() == []

    provider.up()
    second = start(["worker"], env, log)
    try:
        await wait_for(real, lambda rows: all(d.status == "sent" for d in rows), log, procs=(second,))
    finally:
        stop_gracefully(second, log)
    rows = await snapshot(real)
    assert_each_delivered_once(provider, rows)
    # nothing arrived twice: the provider being down sent nothing that needed deduplicating
    assert len(provider.received(CRM_PATH)) == n


async def test_worker_killed_mid_send_resends_with_the_same_key(real, provider, tmp_path) -> None:
    n = 10
    provider.slow(2.0)
    await queue_events(real, n)
    env = eirc_env(real, crm_url=provider.crm_url, crm_token=CRM_TOKEN, delivery_timeout_seconds=10)
    log = tmp_path / "worker.log"

    first = start(["worker"], env, log)
    try:
        provider.wait_until(lambda: provider.arrived() >= n, timeout=20)
    finally:
        kill_hard(first)  # the provider got the requests; the worker never recorded the answers
    provider.wait_until(lambda: len(provider.received()) == provider.arrived(), timeout=10)
    provider.slow(0)

    started = time.monotonic()
    second = start(["worker"], env, log)
    try:
        # far sooner than the lease (60 s): claims of a worker that died on this host are released
        await wait_for(
            real, lambda rows: all(d.status == "sent" for d in rows), log, within=20, procs=(second,)
        )
    finally:
        stop_gracefully(second, log)
    assert time.monotonic() - started < 20
    rows = await snapshot(real)
    assert_each_delivered_once(provider, rows)
    assert provider.keys(CRM_PATH) == Counter({d.idempotency_key: 2 for d in rows})  # resent, same key
    assert "released" in log.read_text()


async def test_two_worker_processes_send_each_message_once(real, provider, tmp_path) -> None:
    n = 200
    await queue_events(real, n)
    env = eirc_env(real, crm_url=provider.crm_url, crm_token=CRM_TOKEN)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [start(["worker"], env, log) for log in logs]
    try:
        await wait_for(
            real,
            lambda rows: all(d.status == "sent" for d in rows),
            logs[0],
            within=60,
            procs=tuple(workers),
        )
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        codes = [w.wait(15) for w in workers]
    assert codes == [0, 0], [tail(log) for log in logs]
    rows = await snapshot(real)
    assert_each_delivered_once(provider, rows)
    assert set(provider.keys(CRM_PATH).values()) == {1}  # no request was ever repeated


async def test_gateway_killed_while_crm_is_down_delivers_each_once_after_restart(
    real, provider, tmp_path
) -> None:
    n = 20
    provider.down()
    port = free_port()
    env = eirc_env(real, crm_url=provider.crm_url, crm_token=CRM_TOKEN)
    log = tmp_path / "serve.log"

    async def healthy() -> None:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, tail(log)
                await asyncio.sleep(0.1)

    gateway = start(["serve", "--port", str(port)], env, log)
    try:
        await healthy()
        await queue_events(real, n)  # committed by another process: the gateway's worker polls for them
        await wait_for(real, lambda rows: all(d.attempts >= 2 for d in rows), log, procs=(gateway,))
    finally:
        kill_hard(gateway)
    assert provider.received() == []

    provider.up()
    gateway = start(["serve", "--port", str(port)], env, log)
    try:
        await wait_for(real, lambda rows: all(d.status == "sent" for d in rows), log, procs=(gateway,))
    finally:
        stop_gracefully(gateway, log)
    rows = await snapshot(real)
    assert_each_delivered_once(provider, rows)
    assert len(provider.received(CRM_PATH)) == n


async def test_worker_once_sends_what_is_due_and_prints_counts(real, provider, tmp_path) -> None:
    await queue_events(real, 3)
    env = eirc_env(real, crm_url=provider.crm_url, crm_token=CRM_TOKEN)
    done = await asyncio.to_thread(
        subprocess.run, [EIRC, "worker", "--once"], env=env, cwd=tmp_path, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    counts = json.loads(done.stdout)
    assert (counts["claimed"], counts["sent"], counts["dead"]) == (3, 3, 0)
    assert len(provider.crm_messages()) == 3
