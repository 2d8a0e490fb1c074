"""The in-house relay keeps its protocol (CONTRACT §5) and its 2xx answer's body is read too (issue 18): a JSON
body that says it refused is not «sent»; what it accepted is recorded with the relay's message id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from eirc.bootstrap import Container
from eirc.delivery.messages import queue_sms_code
from eirc.storage.tables import Delivery
from tests.providers import SMS_PATH

PHONE = "+79161234567"
CODE = "3907"


@pytest.fixture
def settings_overrides(provider_settings: dict[str, Any]) -> dict[str, Any]:
    return provider_settings  # EIRC_SMS_URL alone: the relay


async def queue_code(c: Container) -> Delivery:
    async with c.uow() as tx:
        d = await queue_sms_code(tx, c, phone=PHONE, code=CODE)
        await tx.commit()
    return d


async def row(c: Container, delivery_id: str) -> Delivery:
    async with c.uow() as tx:
        found = (await tx.session.execute(select(Delivery).where(Delivery.id == delivery_id))).scalar_one()
        tx.session.expunge_all()
        return found


async def test_only_eirc_sms_url_means_the_relay(container) -> None:
    assert container.settings.sms_gateway == "relay"


async def test_accepted_by_the_relay_is_recorded_with_its_id(container, provider, deliver) -> None:
    queued = await queue_code(container)
    assert (await deliver()).sent == 1
    [request] = provider.accepted(SMS_PATH)
    assert (
        request.idempotency_key == queued.idempotency_key and request.authorization == "Bearer test-sms-token"
    )
    assert request.body == {"id": queued.idempotency_key, "phone": PHONE, "text": request.body["text"]}
    sent = await row(container, queued.id)
    assert (sent.gateway, sent.gateway_message_id) == ("relay", queued.idempotency_key)


@pytest.mark.parametrize(
    "refusal",
    [
        {"status": "error", "message": "queue full"},
        {"accepted": False, "reason": "rate limited"},
        {"success": False},
        {"ok": False, "error": "busy"},
        {"id": "x", "error": {"code": 17, "text": "no route today"}},
    ],
    ids=["status-error", "accepted-false", "success-false", "ok-false", "error-object"],
)
async def test_a_2xx_that_says_it_refused_is_retried_not_sent(
    container, provider, deliver, clock, refusal
) -> None:
    queued = await queue_code(container)
    provider.refuse_in_body(1, refusal)
    result = await deliver()
    assert (result.sent, result.retried) == (0, 1)
    waiting = await row(container, queued.id)
    assert waiting.status == "pending" and waiting.last_error.startswith(
        "relay refused in its HTTP 200 answer"
    )
    clock.advance(60)
    assert (await deliver()).sent == 1
    assert len(provider.accepted(SMS_PATH)) == 1
    assert len({r.idempotency_key for r in provider.received(SMS_PATH)}) == 1  # the same key on the retry


async def test_a_2xx_refusal_marked_permanent_is_dead(container, provider, deliver) -> None:
    queued = await queue_code(container)
    provider.refuse_in_body(1, {"status": "rejected", "reason": "number blocked", "permanent": True})
    assert (await deliver()).dead == 1
    dead = await row(container, queued.id)
    assert dead.status == "dead" and "number blocked" in dead.last_error and dead.gateway == "relay"


async def test_a_2xx_saying_duplicate_is_sent_with_the_relays_message_id(
    container, provider, deliver
) -> None:
    queued = await queue_code(container)
    # (the fake books a refuse_in_body answer as refused; what matters is what eirc makes of the body)
    provider.refuse_in_body(1, {"status": "duplicate", "message_id": "relay-42"})
    assert (await deliver()).sent == 1
    assert (await row(container, queued.id)).gateway_message_id == "relay-42"


@pytest.mark.parametrize("status", [200, 202, 204])
async def test_an_empty_2xx_is_sent(status) -> None:
    from eirc.delivery.base import OutgoingMessage
    from eirc.delivery.sms.relay import RelayAdapter

    transport = httpx.MockTransport(lambda request: httpx.Response(status))
    adapter = RelayAdapter("http://relay.invalid/sms", "t", timeout=1, transport=transport)
    message = OutgoingMessage(
        id="d", channel="sms", kind="sms_code", recipient=PHONE, idempotency_key="key-1",
        payload={"text": "Код 1234"}, template={"text": "Код {secret}"},
    )  # fmt: skip
    try:
        sent = await adapter.send(message)
    finally:
        await adapter.aclose()
    assert (sent.gateway, sent.message_id) == ("relay", "key-1")


async def test_the_code_is_never_in_a_stored_relay_refusal(container, provider, deliver) -> None:
    queued = await queue_code(container)
    provider.refuse_in_body(1, {"status": "error", "message": f"cannot send «Код {CODE}»"})
    await deliver()
    last_error = (await row(container, queued.id)).last_error
    assert CODE not in last_error and "***" in last_error
