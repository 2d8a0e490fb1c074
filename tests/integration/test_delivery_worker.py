"""The delivery worker against real local peers (HTTP provider, aiosmtpd), on SQLite and PostgreSQL.

A frozen clock replaces sleeping: a retry is due once the test moves the clock.
"""

from __future__ import annotations

import asyncio
import os
import random
import ssl
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from eirc.bootstrap import build_container
from eirc.delivery.adapters import build_adapters, close_adapters
from eirc.delivery.base import OutgoingMessage, PermanentError
from eirc.delivery.dev_outbox import BANNER, DevOutboxAdapter
from eirc.delivery.messages import SMS_CODE_TEXT, queue_crm, queue_email, queue_sms, queue_sms_code
from eirc.delivery.outbox import enqueue
from eirc.delivery.smtp_mail import SmtpMailAdapter
from eirc.delivery.worker import DeliveryWorker, backoff_seconds, host_identity
from eirc.storage.tables import Delivery
from tests.conftest import make_settings
from tests.providers import CRM_PATH, CRM_TOKEN, SMS_PATH, SMS_TOKEN, SmtpSink, self_signed_certificate

PHONE = "+79161234567"
CODE = "5927318406"  # long and distinctive: it cannot occur by chance in ids or timestamps


@pytest.fixture
def settings_overrides(provider_settings: dict[str, Any]) -> dict[str, Any]:
    return provider_settings


async def rows(container) -> list[Delivery]:
    async with container.uow() as tx:
        found = list(
            (await tx.session.execute(select(Delivery).order_by(Delivery.created_at, Delivery.id))).scalars()
        )
        tx.session.expunge_all()  # keep them readable after the transaction ends
    return found


async def one(container) -> Delivery:
    found = await rows(container)
    assert len(found) == 1, found
    return found[0]


async def sms_code(container, code: str = CODE, phone: str = PHONE, ttl: float | None = None) -> Delivery:
    async with container.uow() as tx:
        d = await queue_sms_code(tx, container, phone=phone, code=code, ttl_seconds=ttl)
        await tx.commit()
    return d


async def crm_event(container, n: int = 0, type: str = "registration") -> Delivery:
    async with container.uow() as tx:
        d = await queue_crm(
            tx,
            container,
            type=type,
            data={"phone": PHONE, "last_name": "Иванов", "n": n},
            occurred_at=container.clock.now(),
        )
        await tx.commit()
    return d


# --- happy paths and the contract's wire format ------------------------------------------------------------
async def test_sms_is_sent_as_the_contract_says(container, provider, deliver, clock) -> None:
    queued = await sms_code(container)
    result = await deliver()
    assert (result.claimed, result.sent) == (1, 1)

    [request] = provider.received(SMS_PATH)
    assert request.authorization == f"Bearer {SMS_TOKEN}"
    assert request.idempotency_key == queued.idempotency_key
    assert request.body == {
        "id": queued.idempotency_key,
        "phone": PHONE,
        "text": SMS_CODE_TEXT.format(secret=CODE),
    }
    assert provider.last_code(PHONE) == CODE
    assert provider.last_code(PHONE, length=len(CODE)) == CODE

    row = await one(container)
    assert (row.status, row.attempts, row.sent_at, row.secret_enc, row.last_error) == (
        "sent",
        1,
        clock.now(),
        None,
        None,
    )
    assert row.claimed_by is None and row.claimed_until is None


async def test_crm_is_sent_as_the_contract_says(container, provider, deliver) -> None:
    queued = await crm_event(container, type="connection_request")
    await deliver()
    [body] = provider.crm_messages("connection_request")
    assert set(body) == {"id", "type", "occurred_at", "data"}
    assert body["id"] == queued.idempotency_key
    assert body["data"] == {"phone": PHONE, "last_name": "Иванов", "n": 0}
    assert body["occurred_at"] == container.clock.now().isoformat()
    [request] = provider.received(CRM_PATH)
    assert request.authorization == f"Bearer {CRM_TOKEN}"
    assert request.idempotency_key == queued.idempotency_key


async def test_the_code_is_the_only_run_of_digits() -> None:
    assert not any(ch.isdigit() for ch in SMS_CODE_TEXT)


async def test_a_rolled_back_change_sends_nothing(container, provider, deliver) -> None:
    async with container.uow() as tx:
        await queue_sms_code(tx, container, phone=PHONE, code=CODE, ttl_seconds=300)
        # no commit: the registration failed
    assert (await deliver()).claimed == 0
    assert provider.received() == []
    assert await rows(container) == []


# --- retries, back-off, dead letters ----------------------------------------------------------------------
async def test_provider_failing_then_up_delivers_once_with_doubling_backoff(
    container, provider, deliver, clock
) -> None:
    queued = await sms_code(container, ttl=3600)
    provider.fail_next(3, 503)
    base = container.settings.delivery_backoff_seconds
    for attempt in (1, 2, 3):
        result = await deliver()
        assert result.retried == 1
        row = await one(container)
        delay = (row.next_attempt_at - clock.now()).total_seconds()
        expected = base * 2 ** (attempt - 1)
        assert 0.8 * expected - 0.01 <= delay <= 1.2 * expected + 0.01, (attempt, delay)
        assert (row.status, row.attempts) == ("pending", attempt)
        assert row.last_error.startswith("HTTP 503")
        assert row.secret_enc is not None  # still needed for the next attempt
        assert (await deliver()).claimed == 0  # not due yet
        clock.advance(delay)
    assert (await deliver()).sent == 1
    row = await one(container)
    assert (row.status, row.attempts, row.last_error, row.secret_enc) == ("sent", 4, None, None)
    assert [r.status for r in provider.received(SMS_PATH)] == [503, 503, 503, 200]
    assert {r.idempotency_key for r in provider.received(SMS_PATH)} == {queued.idempotency_key}
    assert len(provider.accepted(SMS_PATH)) == 1
    clock.advance(3600)
    assert (await deliver()).claimed == 0


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    rng = random.Random(7)
    for attempts, nominal in [(1, 5), (2, 10), (3, 20), (4, 40), (10, 2560)]:
        for _ in range(50):
            d = backoff_seconds(attempts, base=5, cap=3600, rng=rng)
            assert 0.8 * nominal <= d <= 1.2 * nominal
    for _ in range(50):
        assert 0.8 * 3600 <= backoff_seconds(40, base=5, cap=3600, rng=rng) <= 3600
    assert backoff_seconds(10_000, base=5, cap=60, rng=rng) <= 60


async def test_connection_refused_is_retried(container, provider, deliver, clock) -> None:
    await crm_event(container)
    provider.down()
    assert (await deliver()).retried == 1
    row = await one(container)
    assert row.last_error.startswith("connection failed")
    provider.up()
    clock.advance(60)
    assert (await deliver()).sent == 1
    assert len(provider.crm_messages()) == 1


async def test_timeout_is_retried(container, provider, clock) -> None:
    await crm_event(container)
    provider.slow(1.0)
    adapters = build_adapters(
        make_settings(container.settings.database_url, crm_url=provider.crm_url, delivery_timeout_seconds=0.2)
    )
    try:
        result = await DeliveryWorker(container, adapters).run_once()
    finally:
        await close_adapters(adapters)
    assert result.retried == 1
    assert (await one(container)).last_error.startswith("timeout")


async def test_400_is_dead_with_the_reason_and_the_secret_wiped(container, provider, deliver, clock) -> None:
    await sms_code(container)
    provider.fail_next(1, 400)
    result = await deliver()
    assert result.dead == 1
    row = await one(container)
    assert row.status == "dead"
    assert row.last_error.startswith("HTTP 400")
    assert row.secret_enc is None
    clock.advance(86400)
    assert (await deliver()).claimed == 0
    assert len(provider.received()) == 1


async def test_429_is_retried_no_sooner_than_retry_after(container, provider, deliver, clock) -> None:
    await crm_event(container)
    provider.fail_next(1, 429, retry_after=120)
    assert (await deliver()).retried == 1
    row = await one(container)
    assert row.status == "pending" and row.last_error.startswith("HTTP 429")
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=120)
    clock.advance(121)
    assert (await deliver()).sent == 1


async def test_expired_sms_is_never_sent_and_its_code_wiped(container, provider, deliver, clock) -> None:
    await sms_code(container, ttl=300)
    clock.advance(301)
    result = await deliver()
    assert (result.expired, result.sent, result.claimed) == (1, 0, 0)
    row = await one(container)
    assert row.status == "dead" and row.last_error.startswith("expired")
    assert row.secret_enc is None
    assert provider.received() == []


async def test_sms_expiring_while_the_provider_is_down_is_never_sent(
    container, provider, deliver, clock
) -> None:
    await sms_code(container, ttl=300)
    provider.down()
    assert (await deliver()).retried == 1
    provider.up()
    clock.advance(301)
    assert (await deliver()).expired == 1
    row = await one(container)
    assert row.status == "dead" and row.secret_enc is None
    assert "after 1 attempt(s)" in row.last_error and "connection failed" in row.last_error
    assert provider.received() == []


async def test_a_message_older_than_max_age_is_dead(container, provider, deliver, clock) -> None:
    await crm_event(container)
    provider.fail_next(100, 503)
    await deliver()
    clock.advance(container.settings.delivery_max_age_seconds + 1)
    assert (await deliver()).expired == 1
    assert "EIRC_DELIVERY_MAX_AGE_SECONDS" in (await one(container)).last_error


# --- secrets ---------------------------------------------------------------------------------------------
async def _raw_database_text(container) -> str:
    """Everything the database holds (every row of every table, and on SQLite the files themselves)."""
    url = container.settings.database_url
    chunks: list[str] = []
    async with container.uow() as tx:
        if container.uow.dialect == "postgresql":
            tables = (
                (
                    await tx.session.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    )
                )
                .scalars()
                .all()
            )
            for table in tables:
                chunks += [
                    str(r) for r in (await tx.session.execute(text(f'SELECT t::text FROM "{table}" t'))).all()
                ]
        else:
            tables = (
                (await tx.session.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")))
                .scalars()
                .all()
            )
            for table in tables:
                chunks += [str(r) for r in (await tx.session.execute(text(f'SELECT * FROM "{table}"'))).all()]
    if url.startswith("sqlite"):
        chunks.append(_sqlite_files(url.split(":///", 1)[1]))
    return "\n".join(chunks)


def _sqlite_files(path: str) -> str:
    return "\n".join(
        Path(path + suffix).read_bytes().decode("latin-1")
        for suffix in ("", "-wal")
        if Path(path + suffix).exists()
    )


def _pid_of_a_finished_process() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


async def test_the_code_is_never_stored_in_clear_and_wiped_after_sending(
    container, provider, deliver
) -> None:
    queued = await sms_code(container)
    assert CODE not in await _raw_database_text(container)
    row = await one(container)
    assert row.secret_enc and container.secrets.decrypt(row.secret_enc) == CODE
    assert CODE not in str(row.payload)

    await deliver()
    assert provider.last_code(PHONE) == CODE
    row = await one(container)
    assert row.status == "sent" and row.secret_enc is None
    assert CODE not in await _raw_database_text(container)
    assert queued.secret_enc not in "\n".join(str(v) for v in row.model_dump().values())


async def test_a_secret_echoed_in_an_error_is_not_stored_nor_logged(container, caplog) -> None:
    class Echo:
        name = "echo"

        async def send(self, message: OutgoingMessage) -> None:
            raise PermanentError(f"bad text: {message.payload['text']}")

        async def aclose(self) -> None: ...

    await sms_code(container)
    with caplog.at_level("DEBUG"):
        await DeliveryWorker(container, {"sms": Echo()}).run_once()
    row = await one(container)
    assert row.status == "dead" and "***" in row.last_error
    assert CODE not in row.last_error
    assert CODE not in caplog.text


async def test_nothing_secret_is_logged(container, provider, deliver, caplog) -> None:
    provider.fail_next(1, 503)
    await sms_code(container)
    with caplog.at_level("DEBUG"):
        await deliver()
        container.clock.advance(3600)
        await deliver()
    assert "sent" in caplog.text
    assert CODE not in caplog.text
    assert PHONE not in caplog.text  # masked


async def test_an_adapter_bug_does_not_lose_the_message(container, clock) -> None:
    class Broken:
        name = "broken"

        async def send(self, message: OutgoingMessage) -> None:
            raise KeyError(message.payload["text"])

        async def aclose(self) -> None: ...

    await sms_code(container)
    assert (await DeliveryWorker(container, {"sms": Broken()}).run_once()).retried == 1
    row = await one(container)
    assert row.status == "pending" and row.last_error == "unexpected error in broken: KeyError"
    assert row.secret_enc is not None


# --- replay ---------------------------------------------------------------------------------------------
async def test_replay_of_a_dead_message_keeps_its_idempotency_key(
    container, provider, deliver, clock
) -> None:
    from eirc.delivery.support import replay

    queued = await crm_event(container)
    provider.fail_next(1, 400)
    assert (await deliver()).dead == 1
    clock.advance(3 * 86400)  # long after: the replay gets a fresh useful life
    view = await replay(
        container.uow, queued.id, now=clock.now(), max_age_seconds=container.settings.delivery_max_age_seconds
    )
    assert (view.status, view.attempts, view.idempotency_key) == ("pending", 0, queued.idempotency_key)
    assert (await deliver()).sent == 1
    keys = [r.idempotency_key for r in provider.received(CRM_PATH)]
    assert keys == [queued.idempotency_key, queued.idempotency_key]
    assert provider.crm_messages()[0]["id"] == queued.idempotency_key


async def test_replay_of_a_sent_message_is_deduplicated_by_the_provider(container, provider, deliver) -> None:
    from eirc.delivery.support import replay

    queued = await crm_event(container)
    await deliver()
    await replay(container.uow, queued.id, now=container.clock.now(), max_age_seconds=3600)
    assert (await deliver()).sent == 1
    assert provider.keys(CRM_PATH) == {queued.idempotency_key: 2}
    assert len(provider.accepted(CRM_PATH)) == 1  # the second one is a duplicate for the provider


async def test_replay_refusals(container, provider, deliver) -> None:
    from eirc.delivery.support import ReplayRefused, replay

    code = await sms_code(container)
    with pytest.raises(ReplayRefused, match="still pending"):
        await replay(container.uow, code.id, now=container.clock.now(), max_age_seconds=3600)
    await deliver()
    with pytest.raises(ReplayRefused, match="cannot be replayed"):
        await replay(container.uow, code.id, now=container.clock.now(), max_age_seconds=3600)
    with pytest.raises(ReplayRefused, match="no delivery"):
        await replay(container.uow, "nope", now=container.clock.now(), max_age_seconds=3600)
    assert (await one(container)).status == "sent"


# --- development outbox ------------------------------------------------------------------------------------
@pytest.mark.parametrize("settings_overrides", [{}])
async def test_unconfigured_channels_go_to_the_development_outbox(container, deliver, capsys) -> None:
    await sms_code(container)
    async with container.uow() as tx:
        await queue_email(
            tx,
            container,
            to="ivan@example.com",
            kind="email_confirmation",
            subject="Подтвердите",
            text="Ссылка: http://testserver/confirm-email?token={secret}",
            secret="tok123",
        )
        await queue_crm(tx, container, type="registration", data={"phone": PHONE})
        await tx.commit()
    result = await deliver()
    assert result.sent == 3
    err = capsys.readouterr().err
    assert err.count(BANNER) == 3
    assert CODE in err and "token=tok123" in err  # development: the developer needs the code
    assert {r.status for r in await rows(container)} == {"sent"}
    assert {r.secret_enc for r in await rows(container)} == {None}


async def test_development_outbox_outside_development_masks_secrets() -> None:
    import io

    stream = io.StringIO()
    adapter = DevOutboxAdapter("sms", show_secrets=False, stream=stream)
    template = {"text": SMS_CODE_TEXT}
    await adapter.send(
        OutgoingMessage(
            "1",
            "sms",
            "sms_code",
            PHONE,
            "k",
            {"text": SMS_CODE_TEXT.format(secret=CODE)},
            template,
            has_secret=True,
        )
    )
    out = stream.getvalue()
    assert BANNER in out and CODE not in out and "***" in out


# --- SMTP --------------------------------------------------------------------------------------------------
async def test_email_over_smtp(container, smtp_sink, deliver) -> None:
    token = "tok-" + "A" * 40
    async with container.uow() as tx:
        queued = await queue_email(
            tx,
            container,
            to="ivan@example.com",
            kind="email_confirmation",
            subject="Подтвердите e-mail",
            text=f"Откройте ссылку: {container.settings.public_url}/confirm-email?token={{secret}}",
            html="<p><a href='http://testserver/confirm-email?token={secret}'>Подтвердить</a></p>",
            secret=token,
        )
        await tx.commit()
    assert (await deliver()).sent == 1
    mail = smtp_sink.last_message("ivan@example.com")
    assert mail.mail_from == "noreply@eirc.test"
    assert mail.message["Subject"] == "Подтвердите e-mail"
    assert mail.message["Message-ID"] == f"<{queued.idempotency_key}@eirc.test>"
    assert smtp_sink.confirmation_token("ivan@example.com") == token
    assert smtp_sink.confirmation_link("ivan@example.com") == f"http://testserver/confirm-email?token={token}"
    assert mail.message.get_body(("html",)) is not None
    row = await one(container)
    assert row.status == "sent" and row.secret_enc is None


async def test_smtp_temporary_refusal_is_retried_and_permanent_is_dead(
    container, smtp_sink, deliver, clock
) -> None:
    async with container.uow() as tx:
        await queue_email(tx, container, to="a@example.com", kind="notice", subject="s", text="t")
        await tx.commit()
    smtp_sink.fail_next_rcpt(1, "451 4.3.0 try again later")
    assert (await deliver()).retried == 1
    assert "SMTP 451" in (await one(container)).last_error
    smtp_sink.fail_next_rcpt(1, "550 5.1.1 no such user")
    clock.advance(3600)
    assert (await deliver()).dead == 1
    row = await one(container)
    assert row.status == "dead" and "SMTP 550" in row.last_error
    assert smtp_sink.messages == []


async def test_smtp_down_is_retried(container, deliver) -> None:
    settings = make_settings(container.settings.database_url, smtp_host="127.0.0.1", smtp_port=1)
    async with container.uow() as tx:
        await queue_email(tx, container, to="a@example.com", kind="notice", subject="s", text="t")
        await tx.commit()
    adapter = SmtpMailAdapter(settings)
    assert (await DeliveryWorker(container, {"email": adapter}).run_once()).retried == 1
    assert (await one(container)).last_error.startswith("connection failed")


async def test_smtp_starttls_and_login(container, tmp_path, clock) -> None:
    cert, key = self_signed_certificate(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    sink = SmtpSink(tls_context=server_ctx, credentials=("mailer", "s3cret"))
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert))

        def adapter(password: str) -> SmtpMailAdapter:
            s = make_settings(
                container.settings.database_url,
                smtp_host=sink.host,
                smtp_port=sink.port,
                smtp_starttls=True,
                smtp_user="mailer",
                smtp_password=password,
                mail_from="noreply@eirc.test",
            )
            return SmtpMailAdapter(s, ssl_context=client_ctx)

        async with container.uow() as tx:
            await queue_email(tx, container, to="ivan@example.com", kind="notice", subject="s", text="t")
            await tx.commit()
        # a wrong password is a configuration problem: retried, not dead
        assert (await DeliveryWorker(container, {"email": adapter("wrong")}).run_once()).retried == 1
        assert "authentication failed" in (await one(container)).last_error
        clock.advance(3600)
        assert (await DeliveryWorker(container, {"email": adapter("s3cret")}).run_once()).sent == 1
        mail = sink.last_message("ivan@example.com")
        assert mail.tls and mail.authenticated_as == "mailer"
        # without STARTTLS the relay refuses: retried
        async with container.uow() as tx:
            await queue_email(tx, container, to="petr@example.com", kind="notice", subject="s", text="t")
            await tx.commit()
        plain = SmtpMailAdapter(
            make_settings(container.settings.database_url, smtp_host=sink.host, smtp_port=sink.port)
        )
        assert (await DeliveryWorker(container, {"email": plain}).run_once()).retried == 1
    finally:
        sink.close()


# --- concurrency and crashes ----------------------------------------------------------------------------
async def test_two_workers_racing_send_each_message_once(container, provider, clock) -> None:
    n = 200
    async with container.uow() as tx:
        for i in range(n):
            await queue_crm(tx, container, type="registration", data={"n": i})
        await tx.commit()
    other = build_container(container.settings, clock=clock, hasher=container.hasher)
    adapters_a, adapters_b = build_adapters(container.settings), build_adapters(container.settings)
    try:
        a = DeliveryWorker(container, adapters_a, batch_size=10)
        b = DeliveryWorker(other, adapters_b, batch_size=10)

        async def drain(worker: DeliveryWorker) -> int:
            sent = 0
            while True:
                result = await worker.run_once()
                sent += result.sent
                if result.claimed == 0:
                    return sent

        sent_a, sent_b = await asyncio.gather(drain(a), drain(b))
    finally:
        await close_adapters(adapters_a)
        await close_adapters(adapters_b)
        await other.dispose()
    assert sent_a + sent_b == n
    if container.uow.dialect == "postgresql":
        assert sent_a > 0 and sent_b > 0  # both really worked
    keys = provider.keys(CRM_PATH)
    assert len(keys) == n and set(keys.values()) == {1}
    assert sorted(b["data"]["n"] for b in provider.crm_messages()) == list(range(n))
    assert {r.status for r in await rows(container)} == {"sent"}


async def test_a_claim_taken_over_after_the_lease_is_not_recorded_twice(container, provider, clock) -> None:
    await crm_event(container)
    adapters = build_adapters(container.settings)

    class Stalling:
        name = "stalling"

        async def send(self, message: OutgoingMessage) -> None:
            # while this worker is stuck, its lease runs out and another worker sends the message
            clock.advance(3600)
            assert (await DeliveryWorker(container, adapters, worker_id="other").run_once()).sent == 1

        async def aclose(self) -> None: ...

    try:
        result = await DeliveryWorker(
            container, {"crm": Stalling()}, worker_id="stuck", lease_seconds=60
        ).run_once()
    finally:
        await close_adapters(adapters)
    assert result.lost == 1
    row = await one(container)
    assert (row.status, row.attempts) == ("sent", 1)


async def test_claims_of_a_killed_worker_on_this_host_are_released_at_start(container, provider) -> None:
    dead_pid = _pid_of_a_finished_process()
    queued = await crm_event(container)
    now = container.clock.now()
    async with container.uow() as tx:
        await tx.session.execute(
            update(Delivery)
            .where(Delivery.id == queued.id)
            .values(claimed_by=f"{host_identity()}:{dead_pid}:dead00", claimed_until=now + timedelta(hours=1))
        )
        # a live claim (this process) is left alone
        live = await enqueue(
            tx,
            secrets=container.secrets,
            now=now,
            channel="crm",
            kind="registration",
            recipient="domopult",
            payload={"type": "registration", "occurred_at": "", "data": {}},
        )
        await tx.session.flush()
        await tx.session.execute(
            update(Delivery)
            .where(Delivery.id == live.id)
            .values(
                claimed_by=f"{host_identity()}:{os.getpid()}:live00", claimed_until=now + timedelta(hours=1)
            )
        )
        await tx.commit()
    adapters = build_adapters(container.settings)
    try:
        result = await DeliveryWorker(container, adapters).run_once()
    finally:
        await close_adapters(adapters)
    assert result.sent == 1
    assert [b["id"] for b in provider.crm_messages()] == [queued.idempotency_key]


async def test_the_worker_wakes_on_commit(container, provider) -> None:
    container.delivery_wakeup = asyncio.Event()
    adapters = build_adapters(container.settings)
    worker = DeliveryWorker(container, adapters, poll_interval=30)  # only the wake-up can be fast
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    try:
        await asyncio.sleep(0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await sms_code(container)
        while not provider.sms_messages(PHONE):
            assert loop.time() - started < 1.0, "not delivered within a second of the commit"
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await close_adapters(adapters)
    assert provider.last_code(PHONE) == CODE


# --- helpers for other journeys --------------------------------------------------------------------------------
async def test_queue_helpers(container) -> None:
    from datetime import date
    from decimal import Decimal

    async with container.uow() as tx:
        code = await queue_sms_code(tx, container, phone=PHONE, code="1234")
        note = await queue_sms(tx, container, phone=PHONE, kind="request_resolved", text="Ваш адрес добавлен")
        crm = await queue_crm(
            tx,
            container,
            type="registration",
            data={"birth_date": date(1990, 5, 1), "amount": Decimal("300.50")},
        )
        with pytest.raises(ValueError, match="secrets"):
            await queue_crm(tx, container, type="registration", data={"password": "x"})
        with pytest.raises(ValueError, match="unknown"):
            await queue_crm(tx, container, type="other", data={})
        await tx.commit()
    assert code.expires_at == container.clock.now() + timedelta(seconds=container.settings.code_ttl_seconds)
    assert code.payload == {"text": SMS_CODE_TEXT} and code.secret_enc
    assert note.expires_at is None and note.secret_enc is None
    assert crm.payload["data"] == {"birth_date": "1990-05-01", "amount": "300.50"}
    assert crm.recipient == "domopult" and crm.kind == "registration"
    assert len({code.idempotency_key, note.idempotency_key, crm.idempotency_key}) == 3


async def test_a_started_worker_retries_the_backlog_at_once(container, provider, deliver) -> None:
    await crm_event(container)
    provider.down()
    assert (await deliver()).retried == 1  # now backing off (the frozen clock does not move)
    provider.up()
    adapters = build_adapters(container.settings)
    worker = DeliveryWorker(container, adapters, poll_interval=30)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while not provider.crm_messages():
            assert loop.time() - started < 2.0, "the backlog was not retried at start"
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await close_adapters(adapters)
    row = await one(container)
    assert (row.status, row.attempts) == ("sent", 2)
