"""`eirc deliveries list / replay / retry` as a support engineer runs them (CONTRACT §4)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from eirc.bootstrap import Container
from eirc.delivery.messages import queue_crm, queue_email, queue_sms_code
from eirc.settings import reset_settings_cache

PHONE = "+79161234567"
CODE = "5927318406"


@pytest.fixture
def settings_overrides(provider_settings: dict[str, Any]) -> dict[str, Any]:
    return provider_settings


async def invoke(container: Container, *args: str) -> Any:
    """Run `eirc deliveries …` in a thread (it runs its own event loop), against the test database.

    The command runs on real time: the test's frozen clock is moved to it afterwards."""
    from eirc.cli.deliveries import app

    env = {
        "EIRC_ENV": "test",
        "EIRC_DATABASE_URL": container.settings.database_url,
        "EIRC_SECRET_KEY": container.settings.secret_key,
    }

    def call() -> Any:
        reset_settings_cache()
        try:
            return CliRunner().invoke(app, list(args), env=env)
        finally:
            reset_settings_cache()

    result = await asyncio.to_thread(call)
    container.clock.set(datetime.now(UTC) + timedelta(seconds=1))
    return result


async def seed(container: Container) -> dict[str, str]:
    async with container.uow() as tx:
        sms = await queue_sms_code(tx, container, phone=PHONE, code=CODE, ttl_seconds=300)
        mail = await queue_email(
            tx, container, to="ivan@example.com", kind="notice", subject="Тема", text="Текст"
        )
        crm = await queue_crm(tx, container, type="registration", data={"phone": PHONE})
        await tx.commit()
    return {"sms": sms.id, "email": mail.id, "crm": crm.id}


async def test_list_shows_no_secret_no_text_and_masks_phones(container, provider, deliver) -> None:
    ids = await seed(container)
    provider.fail_next(1, 400, path="/crm")
    await deliver()

    result = await invoke(container, "list", "--json")
    assert result.exit_code == 0, result.output
    assert CODE not in result.output and "Код подтверждения" not in result.output
    assert PHONE not in result.output
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    assert set(rows) == set(ids.values())
    sms = rows[ids["sms"]]
    assert sms["recipient"] == "+7 916 ***-**-67"
    assert (sms["channel"], sms["kind"], sms["status"], sms["attempts"]) == ("sms", "sms_code", "sent", 1)
    crm = rows[ids["crm"]]
    assert crm["status"] == "dead" and crm["last_error"].startswith("HTTP 400")
    assert set(sms) >= {
        "id",
        "channel",
        "kind",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "sent_at",
        "idempotency_key",
    }

    dead = json.loads((await invoke(container, "list", "--status", "dead", "--json")).stdout)
    assert [r["id"] for r in dead] == [ids["crm"]]
    emails = json.loads((await invoke(container, "list", "--channel", "email", "--json")).stdout)
    assert [r["id"] for r in emails] == [ids["email"]]
    assert len(json.loads((await invoke(container, "list", "--limit", "1", "--json")).stdout)) == 1

    table = await invoke(container, "list")
    assert table.exit_code == 0 and "deliveries" in table.output and CODE not in table.output

    bad = await invoke(container, "list", "--status", "lost")
    assert bad.exit_code == 2


async def test_replay_a_dead_crm_message_with_the_same_key(container, provider, deliver) -> None:
    ids = await seed(container)
    provider.fail_next(1, 400, path="/crm")
    await deliver()
    result = await invoke(container, "replay", ids["crm"], "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "pending"
    assert (await deliver()).sent == 1
    keys = [r.idempotency_key for r in provider.received("/crm")]
    assert len(keys) == 2 and len(set(keys)) == 1


async def test_replay_refusals_exit_1_with_one_line(container, deliver) -> None:
    ids = await seed(container)
    pending = await invoke(container, "replay", ids["crm"])
    assert pending.exit_code == 1 and "still pending" in pending.output
    await deliver()
    wiped = await invoke(container, "replay", ids["sms"])
    assert wiped.exit_code == 1 and "cannot be replayed" in wiped.output
    assert len(wiped.output.strip().splitlines()) == 1
    unknown = await invoke(container, "replay", "no-such-id")
    assert unknown.exit_code == 1 and "no delivery" in unknown.output


async def test_retry_makes_pending_messages_due_now(container, provider, deliver, clock) -> None:
    clock.set(datetime.now(UTC))  # the command runs on real time
    await seed(container)
    provider.down()
    assert (await deliver()).retried == 2  # sms and crm; e-mail went to the SMTP sink
    provider.up()
    assert (await deliver()).claimed == 0  # backing off
    result = await invoke(container, "retry", "--channel", "crm")
    assert result.exit_code == 0 and "1 pending" in result.output
    assert (await deliver()).sent == 1
    assert len(provider.crm_messages()) == 1 and provider.sms_messages() == []
