"""The onboarding funnel (issue 23, CONTRACT §4a) on both backends: residents walk the real GraphQL steps —
some give up at a step after an error, some complete, some file a connection request — and `eirc stats
funnel` counts each at the right step, with the error that stopped it, and never what they typed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from eirc.services.stats import delivery_outcomes, onboarding_funnel
from eirc.storage.tables import Flow
from tests.integration.test_connection_requests import UNKNOWN, open_request, submit
from tests.registration_kit import (
    CONFIRM_ADDRESS,
    CONFIRM_CODE,
    GO_BACK,
    SET_PASSWORD,
    prove,
    register,
    seed_billing,
    start,
    to_account_step,
    to_password_step,
)

EIRC = str(Path(sys.executable).with_name("eirc"))


@pytest.fixture
def settings_overrides(provider_settings):
    return provider_settings


@pytest.fixture
async def billing(container):
    await seed_billing(container)


def phone(n: int) -> str:
    return f"+7916555{n:04d}"


async def walk_residents(gql: Any, c: Any, clock: Any) -> None:
    """Nine residents, each stopping somewhere (and one flow from before the window)."""
    old = await start(gql, phone(99))  # started 8 days before the others: outside a 7-day window
    assert old["errors"] == []
    clock.advance(days=8)

    # 1, 2: the code screen — a wrong code, then nothing; and no attempt at all
    first = await start(gql, phone(1))
    wrong = (await gql(CONFIRM_CODE, {"id": first["flow"]["id"], "code": "0000"}))["confirmCode"]
    assert wrong["errors"][0]["code"] == "INVALID_CODE"
    assert (await start(gql, phone(2)))["errors"] == []
    # 3, 4: the account screen — an unknown account; a wrong amount
    third = await to_account_step(gql, c, phone(3))
    assert (await prove(gql, third, account=UNKNOWN))["errors"][0]["code"] == "UNKNOWN_ACCOUNT"
    fourth = await to_account_step(gql, c, phone(4))
    assert (await prove(gql, fourth, amount="1,00"))["errors"][0]["code"] == "AMOUNT_MISMATCH"
    # 5: the address shown, then «Назад» and gone: stopped at ADDRESS, the furthest it got
    fifth = await to_account_step(gql, c, phone(5))
    assert (await prove(gql, fifth))["errors"] == []
    assert (await gql(GO_BACK, {"id": fifth}))["goBack"]["flow"]["step"] == "ACCOUNT"
    # 6: the password screen — a weak password
    sixth = await to_password_step(gql, c, phone(6), email="six@example.com")
    weak = (await gql(SET_PASSWORD, {"id": sixth, "password": "short"}))["setPassword"]
    assert weak["errors"][0]["code"] == "WEAK_PASSWORD"
    # 7, 8: completed
    await register(gql, c, phone(7), email="seven@example.com")
    await register(gql, c, phone(8), email="eight@example.com")
    # 9: a failed proof, then a connection request filed
    ninth = await to_account_step(gql, c, phone(9))
    assert (await prove(gql, ninth, account=UNKNOWN))["errors"][0]["code"] == "UNKNOWN_ACCOUNT"
    assert (await open_request(gql, ninth))["errors"] == []
    assert (await submit(gql, ninth))["errors"] == []
    # 10: the connection-request form, an invalid e-mail, then nothing
    tenth = await to_account_step(gql, c, phone(10))
    assert (await open_request(gql, tenth))["errors"] == []
    assert (await submit(gql, tenth, email="not an e-mail"))["errors"][0]["code"] == "INVALID_EMAIL"
    # 11: the address confirmed, then gone at the personal-data screen
    eleventh = await to_account_step(gql, c, phone(11))
    assert (await prove(gql, eleventh))["errors"] == []
    assert (await gql(CONFIRM_ADDRESS, {"id": eleventh}))["confirmAddress"]["errors"] == []


EXPECTED_REACHED = {
    "STARTED": 11,
    "CODE": 11,
    "ACCOUNT": 9,
    "ADDRESS": 5,
    "PERSONAL": 4,
    "PASSWORD": 3,
    "DONE": 2,
    "CONNECTION_REQUEST": 1,
}


def check(document: dict) -> None:
    steps = {s["step"]: s for s in document["steps"]}
    assert [s["step"] for s in document["steps"]] == list(EXPECTED_REACHED)
    assert {name: s["reached"] for name, s in steps.items()} == EXPECTED_REACHED
    assert steps["CODE"]["stopped_by"] == {"INVALID_CODE": 1} and steps["CODE"]["stopped"] == 2
    assert steps["ACCOUNT"]["stopped_by"] == {"AMOUNT_MISMATCH": 1, "UNKNOWN_ACCOUNT": 1}
    assert steps["ACCOUNT"]["stopped"] == 2
    assert steps["ADDRESS"] == {"step": "ADDRESS", "reached": 5, "stopped": 1, "stopped_by": {}}
    assert steps["PERSONAL"]["stopped"] == 1 and steps["PERSONAL"]["stopped_by"] == {}
    assert steps["PASSWORD"]["stopped_by"] == {"WEAK_PASSWORD": 1}
    assert steps["CONNECTION_REQUEST"]["stopped_by"] == {"INVALID_EMAIL": 1}
    assert steps["DONE"]["stopped"] == 0 and steps["DONE"]["stopped_by"] == {}


async def test_the_funnel_counts_each_flow_at_its_step(gql, container, clock, billing):
    await walk_residents(gql, container, clock)
    funnel = await onboarding_funnel(container, since=clock.now() - timedelta(days=7))
    check(funnel.as_dict())
    assert funnel.as_dict()["since"] == (clock.now() - timedelta(days=7)).isoformat()

    everything = (await onboarding_funnel(container, since=clock.now() - timedelta(days=30))).as_dict()
    assert everything["steps"][0]["reached"] == 12  # the old flow is counted in a wider window


async def test_the_flow_rows_hold_a_step_and_a_code_never_a_value(gql, container, clock, billing):
    await walk_residents(gql, container, clock)
    async with container.uow() as tx:
        rows = (await tx.session.execute(select(Flow.furthest_step, Flow.last_error))).all()
    values = {value for row in rows for value in row if value}
    steps = {"CODE", "ACCOUNT", "ADDRESS", "PERSONAL", "PASSWORD", "DONE"}
    codes = {"INVALID_CODE", "UNKNOWN_ACCOUNT", "AMOUNT_MISMATCH", "WEAK_PASSWORD", "INVALID_EMAIL"}
    assert values <= steps | codes, values


async def test_a_step_that_succeeds_after_an_error_forgets_it(gql, container, clock, billing):
    flow_id = await to_account_step(gql, container, phone(20))
    assert (await prove(gql, flow_id, account=UNKNOWN))["errors"][0]["code"] == "UNKNOWN_ACCOUNT"
    assert (await prove(gql, flow_id))["errors"] == []
    steps = (await onboarding_funnel(container, since=clock.now() - timedelta(hours=1))).as_dict()["steps"]
    by_step = {s["step"]: s for s in steps}
    assert by_step["ADDRESS"]["stopped"] == 1 and by_step["ADDRESS"]["stopped_by"] == {}
    assert by_step["ACCOUNT"]["stopped_by"] == {}


async def eirc(container: Any, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(
        EIRC_DATABASE_URL=container.settings.database_url,
        EIRC_SECRET_KEY=container.settings.secret_key,
        EIRC_ENV="test",
        COLUMNS="200",
    )
    return await asyncio.to_thread(
        subprocess.run, [EIRC, *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_the_command(gql, container, clock, billing):
    await walk_residents(gql, container, clock)
    since = (clock.now() - timedelta(days=7)).isoformat()
    done = await eirc(container, "stats", "funnel", "--since", since, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    check(document)
    assert set(document) == {"since", "steps"}

    table = await eirc(container, "stats", "funnel", "--since", since)
    assert table.returncode == 0, table.stderr
    for word in ("STARTED", "CONNECTION_REQUEST", "UNKNOWN_ACCOUNT 1", "WEAK_PASSWORD 1", "█"):
        assert word in table.stdout, table.stdout

    refused = await eirc(container, "stats", "funnel", "--since", "yesterday-ish")
    assert refused.returncode == 2 and "--since" in refused.stderr


async def test_delivery_outcomes(gql, container, clock, billing, provider, deliver):
    await register(gql, container, phone(30), email="thirty@example.com")
    clock.advance(seconds=3)
    provider.fail_next(1, 400, path="/crm")  # «Домопульт» refuses the registration for good
    await deliver()
    since = clock.now() - timedelta(hours=1)
    rows = {(r.channel, r.gateway): r.as_row() for r in await delivery_outcomes(container, since=since)}
    sms = rows[("sms", "relay")]
    assert (sms["sent"], sms["dead"], sms["pending"]) == (1, 0, 0)
    assert sms["p50_seconds"] == sms["p95_seconds"] == 3.0
    assert rows[("crm", "crm-http")]["dead"] == 1
    assert rows[("email", "smtp")]["sent"] == 1

    done = await eirc(container, "stats", "deliveries", "--since", since.isoformat(), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert {"channel": "sms", "gateway": "relay", "sent": 1, "dead": 0, "pending": 0}.items() <= next(
        r for r in document["rows"] if r["channel"] == "sms"
    ).items()
    table = await eirc(container, "stats", "deliveries", "--since", since.isoformat())
    assert table.returncode == 0 and "relay" in table.stdout and "3.0 s" in table.stdout, table.stdout
