"""Support's side of connection requests (services.requests_support), on both backends: statuses with their
history, the resident told through the outbox in the same transaction, illegal changes refused with nothing
sent, ids by prefix, two engineers at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from eirc.bootstrap import Container
from eirc.domain import texts
from eirc.domain.errors import DomainError, ErrorCode
from eirc.services.requests_support import (
    SMS_REASON_MAX,
    list_requests,
    reject_request,
    resolve_request,
    show_request,
    take_request,
)
from eirc.storage.tables import ConnectionRequest, ConnectionRequestEvent
from tests.registration_kit import deliveries

PHONE = "+79165550011"
EMAIL = "olga@example.com"


@pytest.fixture
def settings_overrides(provider_settings):
    return provider_settings


async def make_request(c: Container, **fields: Any) -> str:
    now = c.clock.now()
    values: dict[str, Any] = {
        "phone": PHONE,
        "last_name": "Иванова",
        "first_name": "Ольга",
        "middle_name": "Николаевна",
        "address": "г. Мытищи, ул. Мира, д. 3",
        "flat": "8",
        "email": EMAIL,
        "email_notifications": True,
        "status": "new",
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    async with c.uow() as tx:
        request = ConnectionRequest(**values)
        tx.session.add(request)
        await tx.session.flush()
        tx.session.add(
            ConnectionRequestEvent(
                request_id=request.id, to_status="new", actor="resident", at=values["created_at"]
            )
        )
        await tx.commit()
        return request.id


async def messages(c: Container) -> list[tuple[str, str, str]]:
    """SMS and letters in the outbox (sorted: rows queued together share their time)."""
    return sorted((d.channel, d.kind, d.recipient) for d in await deliveries(c) if d.channel != "crm")


async def test_take_resolve_with_history_and_the_resident_told(
    container, clock, deliver, provider, smtp_sink
):
    request_id = await make_request(container)

    clock.advance(minutes=1)
    taken = await take_request(container, request_id, actor="anna")
    assert (taken.from_status, taken.to_status, taken.changed) == ("new", "in_progress", True)
    assert taken.request["assignee"] == "anna" and taken.notified == ("email",)
    assert await messages(container) == [("email", "connection_request_taken", EMAIL)]

    again = await take_request(container, request_id, actor="anna")  # already hers
    assert again.changed is False and again.notified == ()
    other = await take_request(container, request_id[:8], actor="boris")  # another engineer picks it up
    assert other.changed and other.request["assignee"] == "boris" and other.notified == ()

    clock.advance(minutes=1)
    resolved = await resolve_request(container, request_id, actor="boris")
    assert resolved.to_status == "resolved" and resolved.notified == ("sms", "email")
    assert await messages(container) == [
        ("email", "connection_request_resolved", EMAIL),
        ("email", "connection_request_taken", EMAIL),
        ("sms", "connection_request_resolved", PHONE),
    ]

    shown = await show_request(container, request_id)
    assert shown["status"] == "resolved" and shown["assignee"] == "boris" and shown["phone"] == PHONE
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in shown["history"]] == [
        (None, "new", "resident"),
        ("new", "in_progress", "anna"),
        ("in_progress", "in_progress", "boris"),
        ("in_progress", "resolved", "boris"),
    ]
    assert shown["history"][1]["at"] < shown["history"][3]["at"]

    await deliver()
    [sms] = provider.sms_messages(PHONE)
    assert sms["text"] == texts.REQUEST_RESOLVED_SMS
    smtp_sink.wait_until(lambda: len(smtp_sink.messages_to(EMAIL)) == 2)
    [letter] = [
        m.message
        for m in smtp_sink.messages_to(EMAIL)
        if m.message["Subject"] == texts.REQUEST_RESOLVED_SUBJECT
    ]
    body = smtp_sink.text_of(letter)
    assert "Ольга Николаевна" in body and "г. Мытищи, ул. Мира, д. 3, кв. 8" in body
    assert "+7 916 555-00-11" in body and "http://testserver" in body


async def test_reject_tells_the_reason(container, deliver, provider, smtp_sink):
    request_id = await make_request(container, email_notifications=False)
    reason = "Дом обслуживает другая управляющая компания. " * 20  # longer than an SMS should carry
    done = await reject_request(container, request_id, actor="anna", reason=reason)
    assert (done.from_status, done.to_status, done.notified) == ("new", "rejected", ("sms", "email"))
    assert done.request["reason"] == reason.strip()
    [event] = [h for h in done.request["history"] if h["to_status"] == "rejected"]
    assert event["reason"] == reason.strip() and event["actor"] == "anna"

    await deliver()
    [sms] = provider.sms_messages(PHONE)
    assert sms["text"].startswith("МосОблЕИРЦ: заявка на подключение отклонена. Причина: Дом обслуживает")
    assert sms["text"].endswith("…") and len(sms["text"]) < SMS_REASON_MAX + 60
    smtp_sink.wait_until(lambda: smtp_sink.messages_to(EMAIL))
    body = smtp_sink.text_of(smtp_sink.last_message(EMAIL).message)
    assert reason.strip() in " ".join(body.split())


async def test_take_without_email_notifications_sends_nothing(container):
    request_id = await make_request(container, email_notifications=False)
    assert (await take_request(container, request_id, actor="anna")).notified == ()
    assert await messages(container) == []


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("resolve", "resolve"),
        ("resolve", "reject"),
        ("resolve", "take"),
        ("reject", "resolve"),
        ("reject", "take"),
        ("reject", "reject"),
    ],
)
async def test_final_statuses_refuse_and_send_nothing(container, first, then):
    request_id = await make_request(container)
    actions = {
        "take": lambda: take_request(container, request_id, actor="x"),
        "resolve": lambda: resolve_request(container, request_id, actor="x"),
        "reject": lambda: reject_request(container, request_id, actor="x", reason="дубликат"),
    }
    await actions[first]()
    before = await messages(container)
    with pytest.raises(DomainError) as exc:
        await actions[then]()
    assert exc.value.code == ErrorCode.INVALID_STATUS_CHANGE
    assert await messages(container) == before
    assert len((await show_request(container, request_id))["history"]) == 2


async def test_ids_by_prefix_and_unknown_ids(container):
    first = await make_request(container, id="abcdef0123456789abcdef0123456789")
    await make_request(container, id="abcdef9876543210abcdef9876543210", phone="+79165550022")
    assert (await show_request(container, "ABCDEF01"))["id"] == first  # case does not matter
    assert (await show_request(container, f"  {first}  "))["id"] == first
    for key, words in (
        ("abcdef", "several"),
        ("abcde", "at least 6"),
        ("ffffff", "no connection request"),
        ("", "no connection request id"),
        ("abc%def", "no connection request"),
        ("f" * 32, "no connection request"),
        ("x" * 40, "no connection request"),
    ):
        with pytest.raises(DomainError) as exc:
            await show_request(container, key)
        assert exc.value.code == ErrorCode.NOT_FOUND and words in exc.value.message, (key, exc.value.message)
    with pytest.raises(DomainError):
        await resolve_request(container, "abcdef", actor="x")
    assert await messages(container) == []


async def test_list_newest_first_and_by_status(container, clock):
    ids = []
    for i in range(3):
        clock.advance(minutes=1)
        ids.append(await make_request(container, phone=f"+7916555003{i}"))
    await take_request(container, ids[1], actor="anna")
    everything = await list_requests(container)
    assert [r["id"] for r in everything] == ids[::-1]
    assert everything[0]["name"] == "Иванова Ольга Николаевна"
    assert everything[0]["address"] == "г. Мытищи, ул. Мира, д. 3, кв. 8"
    assert [r["id"] for r in await list_requests(container, status="in_progress")] == [ids[1]]
    assert [r["id"] for r in await list_requests(container, status="new")] == [ids[2], ids[0]]
    assert await list_requests(container, status="rejected") == []
    assert len(await list_requests(container, limit=2)) == 2
    with pytest.raises(ValueError):
        await list_requests(container, status="done")


async def test_two_engineers_resolving_at_once_tell_the_resident_once(container):
    request_id = await make_request(container)
    results = await asyncio.gather(
        *(resolve_request(container, request_id, actor=name) for name in ("anna", "boris", "vera")),
        return_exceptions=True,
    )
    done = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(done) == 1 and len(refused) == 2
    assert {e.code for e in refused} == {ErrorCode.INVALID_STATUS_CHANGE}
    assert [m[:2] for m in await messages(container)] == [
        ("email", "connection_request_resolved"),
        ("sms", "connection_request_resolved"),
    ]
    async with container.uow() as tx:
        events = (
            await tx.session.execute(
                select(ConnectionRequestEvent.to_status).where(
                    ConnectionRequestEvent.request_id == request_id
                )
            )
        ).scalars()
        assert sorted(events) == ["new", "resolved"]


async def test_bad_reasons_and_actors_change_nothing(container):
    request_id = await make_request(container)
    for reason, code in (
        ("", ErrorCode.REQUIRED),
        ("  ", ErrorCode.REQUIRED),
        ("я" * 1001, ErrorCode.TOO_LONG),
    ):
        with pytest.raises(DomainError) as exc:
            await reject_request(container, request_id, actor="anna", reason=reason)
        assert exc.value.code == code
    with pytest.raises(DomainError):
        await take_request(container, request_id, actor=" ")
    assert (await show_request(container, request_id))["status"] == "new"
    assert await messages(container) == []
    assert (
        await reject_request(container, request_id, actor="anna", reason="я" * 1000)
    ).to_status == "rejected"
    assert [m[0] for m in await messages(container)] == ["email", "sms"]
