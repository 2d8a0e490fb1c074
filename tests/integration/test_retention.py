"""Retention (services/retention.py, docs/retention.md) on both backends: exactly the rows the rules allow
go — in batches, the dry run counting the same — and everything else stays; the delivery worker's companion
prunes on its own; `eirc db prune` reports it as a table or JSON."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from eirc.clock import FrozenClock
from eirc.services import retention
from eirc.storage.retention import RULES
from eirc.storage.tables import (
    ConnectionRequest,
    Counter,
    Delivery,
    EmailToken,
    Flow,
    OidcState,
    Session,
    User,
)
from tests.e2e.signin_helpers import make_user
from tests.e2e.test_delivery_processes import EIRC, eirc_env

DAYS = 90


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


def ago(clock: FrozenClock, **delta: float) -> datetime:
    return clock.now() - timedelta(**delta)


async def seed(container, clock) -> dict[str, set[str]]:
    """Rows of every kind, some past the rules and some not; {table: the keys that must go}."""
    now = clock.now()
    old = ago(clock, days=DAYS + 1)
    recent = ago(clock, days=DAYS - 1)
    user_id = await make_user(container)
    gone: dict[str, set[str]] = {t: set() for t in retention.TABLES}
    async with container.uow() as tx:
        add = tx.session.add
        # counters: an ended window goes; a live one, a live lock and a consecutive-failures streak stay
        for key, expires, locked in [
            ("sms:hour:old", ago(clock, seconds=1), None),
            ("login:client:1.2.3.4", now, None),  # expires exactly now: ended
            ("sms:hour:live", now + timedelta(minutes=5), None),
            ("login:fail:locked", ago(clock, seconds=1), now + timedelta(minutes=5)),
            ("login:streak:user:someone", old, None),
        ]:
            add(Counter(key=key, count=3, expires_at=expires, locked_until=locked))
        gone["counter"] |= {"sms:hour:old", "login:client:1.2.3.4"}
        # Госуслуги states: expired go
        add(
            OidcState(
                id="st-old",
                nonce_hash="n",
                verifier_enc="v",
                created_at=old,
                expires_at=ago(clock, seconds=1),
            )
        )
        add(
            OidcState(
                id="st-live",
                nonce_hash="n",
                verifier_enc="v",
                created_at=now,
                expires_at=now + timedelta(minutes=5),
            )
        )
        gone["oidc_state"].add("st-old")
        # flows: expired longer ago than the retention go; recently expired ones still answer FLOW_EXPIRED
        for fid, expires in [("f-old", old), ("f-recent", recent), ("f-live", now + timedelta(hours=1))]:
            add(
                Flow(
                    id=fid,
                    kind="REGISTRATION",
                    step="CODE",
                    phone="+79160000009",
                    created_at=expires - timedelta(hours=1),
                    updated_at=expires - timedelta(hours=1),
                    expires_at=expires,
                )
            )
        gone["flow"].add("f-old")
        # sessions: ended or expired longer ago than the retention go
        for sid, expires, ended in [
            ("s-expired-old", old, None),
            ("s-ended-old", now + timedelta(days=10), old),
            ("s-ended-recent", now + timedelta(days=10), recent),
            ("s-live", now + timedelta(days=10), None),
        ]:
            add(
                Session(
                    id=sid,
                    user_id=user_id,
                    created_at=old,
                    expires_at=expires,
                    last_used_at=old,
                    ended_at=ended,
                )
            )
        gone["user_session"] |= {"s-expired-old", "s-ended-old"}
        # e-mail tokens
        add(EmailToken(id="t-old", user_id=user_id, email="a@example.com", created_at=old, expires_at=old))
        add(
            EmailToken(
                id="t-recent", user_id=user_id, email="a@example.com", created_at=recent, expires_at=recent
            )
        )
        gone["email_token"].add("t-old")
        await tx.session.flush()
        # deliveries: sent or dead and old go; pending never; recent stay
        for did, status, created in [
            ("d-sent-old", "sent", old),
            ("d-dead-old", "dead", old),
            ("d-pending-old", "pending", old),
            ("d-sent-recent", "sent", recent),
        ]:
            add(
                Delivery(
                    id=did,
                    channel="sms",
                    kind="sms_code",
                    recipient="+79160000009",
                    idempotency_key=did,
                    status=status,
                    created_at=created,
                    next_attempt_at=created,
                )
            )
        gone["delivery"] |= {"d-sent-old", "d-dead-old"}
        await tx.commit()
    return gone


async def keys_of(container, table: str) -> set[str]:
    rule = RULES[table]
    async with container.uow() as tx:
        return set((await tx.session.execute(select(rule.key))).scalars().all())


async def test_exactly_what_the_rules_allow_goes(container, clock):
    gone = await seed(container, clock)
    before = {t: await keys_of(container, t) for t in retention.TABLES}

    counted = await retention.count_prunable(container, now=clock.now(), retention_days=DAYS)
    assert counted == {t: len(keys) for t, keys in gone.items()}
    assert {t: await keys_of(container, t) for t in retention.TABLES} == before  # a dry run changes nothing

    deleted = await retention.prune(container, now=clock.now(), retention_days=DAYS)
    assert deleted == counted
    for table in retention.TABLES:
        assert await keys_of(container, table) == before[table] - gone[table], table
    # users are never touched; a second run finds nothing
    async with container.uow() as tx:
        assert (await tx.session.execute(select(func.count()).select_from(User))).scalar_one() == 1
    assert set((await retention.prune(container, now=clock.now(), retention_days=DAYS)).values()) == {0}


async def test_a_longer_retention_keeps_more(container, clock):
    await seed(container, clock)
    counted = await retention.count_prunable(container, now=clock.now(), retention_days=DAYS + 2)
    assert counted["flow"] == counted["user_session"] == counted["email_token"] == counted["delivery"] == 0
    assert counted["counter"] == 2 and counted["oidc_state"] == 1  # these follow their own expiry


async def test_batches_delete_everything_and_report_progress(container, clock):
    async with container.uow() as tx:
        for i in range(7):
            tx.session.add(Counter(key=f"sms:hour:{i}", count=1, expires_at=ago(clock, minutes=1)))
        await tx.commit()
    told: list[tuple[str, int]] = []
    deleted = await retention.prune(
        container, now=clock.now(), retention_days=DAYS, batch=3, progress=lambda t, n: told.append((t, n))
    )
    assert deleted["counter"] == 7
    assert [n for t, n in told if t == "counter"] == [3, 6, 7]
    assert await keys_of(container, "counter") == set()


async def test_connection_requests_are_never_pruned(container, clock):
    async with container.uow() as tx:
        tx.session.add(
            ConnectionRequest(
                id="cr1",
                phone="+79160000009",
                last_name="Петров",
                first_name="Иван",
                address="г.Москва, ул.Вяземская, д.34",
                email="a@example.com",
                account_number="5000000000",
                created_at=ago(clock, days=10 * DAYS),
                updated_at=ago(clock, days=10 * DAYS),
            )
        )
        await tx.commit()
    await retention.prune(container, now=clock.now(), retention_days=1)
    async with container.uow() as tx:
        assert await tx.session.get(ConnectionRequest, "cr1") is not None


@pytest.fixture
def settings_overrides():
    return {"prune_interval_seconds": 1}


async def test_the_worker_companion_prunes_until_stopped(container, clock):
    gone = await seed(container, clock)
    stop = asyncio.Event()
    task = asyncio.create_task(retention.run_periodically(container, stop))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if not await keys_of(container, "flow") & gone["flow"]:
            break
    assert not await keys_of(container, "delivery") & gone["delivery"]
    stop.set()
    await asyncio.wait_for(task, timeout=5)


def test_the_command_line_reports_and_prunes(container, clock):
    gone = asyncio.run(seed(container, clock))
    env = eirc_env(container) | {"COLUMNS": "200"}

    def eirc(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [EIRC, "db", "prune", *args], env=env, capture_output=True, text=True, timeout=120
        )

    dry = eirc("--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    expected = {t: len(keys) for t, keys in gone.items()}
    assert json.loads(dry.stdout) == {"dry_run": True, "counts": expected}
    table = eirc("--dry-run")
    assert table.returncode == 0 and "would delete" in table.stdout and "user_session" in table.stdout

    done = eirc("--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"dry_run": False, "counts": expected}
    assert json.loads(eirc("--json").stdout)["counts"] == dict.fromkeys(retention.TABLES, 0)

    bad = eirc("--days", "0")
    assert bad.returncode == 2  # bad usage
