"""The delivery worker: claims due outbox rows, sends them, records what happened.

One pass (`run_once`):
1. **Claim** a small batch in one short transaction: pending rows that are due (`next_attempt_at <= now`)
   and not claimed by a live worker (`claimed_until` empty or past). PostgreSQL: `SELECT … FOR UPDATE SKIP
   LOCKED`, so concurrent workers take disjoint rows without waiting; SQLite: every transaction is
   `BEGIN IMMEDIATE` (storage/db.py), so claims are serialised. Claimed rows get `claimed_by` (this
   worker) and `claimed_until` (now + lease); rows past their useful life (`expires_at`, or
   `EIRC_DELIVERY_MAX_AGE_SECONDS` after creation) are marked dead as `expired` instead, secret wiped,
   never sent. The transaction commits before anything is sent.
2. **Send** outside any transaction, concurrently within the batch. The `{secret}` placeholder is filled
   from `secret_enc` only now, in memory.
3. **Record**, one short transaction per message and only while the claim is still ours
   (`claimed_by = me`): sent (secret wiped), retry later (attempts + 1, back-off
   `min(BACKOFF × 2^(attempts−1), MAX_BACKOFF)` ±20% jitter, at least the provider's `Retry-After`), or
   dead (a permanent refusal; secret wiped). Each records the gateway of the attempt and the id the gateway
   gave the message, and whether the attempt may have reached the gateway unheard (`ask_status_first`: the
   next attempt asks the gateway's status call before sending again). An operator problem (credentials,
   balance: `DeliveryError.operator`) is retried like any other, and logged at ERROR once per burst.

A worker killed mid-send leaves its claims until the lease runs out; a worker starting on the same host
first releases the claims of workers that are no longer running there, so a restarted gateway resumes at
once. A message sent but not recorded (killed between the provider's 2xx and our commit) is sent again
with the same `Idempotency-Key`, which the providers of CONTRACT §5 honour; a claimed row is marked
`ask_status_first` until its outcome is recorded, so an SMS gateway with a status call (SMSC) is asked
whether it has the message before it is sent again.

Nothing secret is logged: lines name the delivery id, channel, kind and masked recipient, never a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from eirc import metrics
from eirc.bootstrap import Container
from eirc.delivery.adapters import build_adapters, close_adapters, describe
from eirc.delivery.base import Adapter, DeliveryError, OutgoingMessage, RetryableError, Sent
from eirc.delivery.outbox import SECRET_PLACEHOLDER, fill_secret
from eirc.domain.phone import mask_phone
from eirc.storage.db import UnitOfWorkFactory

log = logging.getLogger("eirc.delivery")


JITTER = 0.2
DEFAULT_BATCH_SIZE = 20
DEFAULT_POLL_INTERVAL = 1.0
_ERROR_PAUSE_MAX = 30.0
_MAX_ERROR_LEN = 1000


@dataclass
class RunResult:
    """What one `run_once` did. `dead` counts permanent refusals; `expired` messages are dead too."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    expired: int = 0
    lost: int = 0  # the claim was taken over (lease ran out) before the outcome could be recorded
    more: bool = False  # the last batch was full: more may be due right now

    def add(self, other: RunResult) -> None:
        for f in fields(self):
            if f.name != "more":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.more = other.more

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def backoff_seconds(
    attempts: int, *, base: float, cap: float, rng: random.Random | None = None, jitter: float = JITTER
) -> float:
    """Delay before the next attempt after `attempts` failed ones: base × 2^(attempts−1), capped, ±jitter."""
    exponent = min(max(attempts - 1, 0), 62)
    delay = min(base * (2**exponent), cap)
    factor = (rng or random).uniform(1 - jitter, 1 + jitter)
    return max(0.0, min(delay * factor, cap))


def host_identity() -> str:
    """`host:pid-namespace`: which processes' liveness this host can check."""
    host = (socket.gethostname() or "localhost").replace(":", "_")[:24]
    try:
        pidns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        pidns = 0
    return f"{host}:{pidns}"


def new_worker_id() -> str:
    return f"{host_identity()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def mask_recipient(channel: str, recipient: str) -> str:
    if channel == "sms":
        return mask_phone(recipient)
    if channel == "email" and "@" in recipient:
        local, domain = recipient.rsplit("@", 1)
        return f"{local[:1]}***@{domain}"
    return recipient


def scrub(text: str, secret: str | None) -> str:
    """Never store or log a secret, even if a provider echoes it back in an error."""
    if secret:
        text = text.replace(secret, "***")
    return text[:_MAX_ERROR_LEN]


@dataclass(frozen=True)
class _Claimed:
    id: str
    channel: str
    kind: str
    recipient: str
    payload: dict
    secret_enc: str | None
    idempotency_key: str
    attempts: int
    ask_status_first: bool = False


@dataclass
class _Outcome:
    row: _Claimed
    field: str  # the RunResult counter: sent | retried | dead
    values: dict[str, Any]  # columns to write
    delay: float = 0.0  # seconds until the retry
    operator: bool = False  # the operator's problem (credentials, balance), not the resident's
    note: str | None = None  # what the gateway's answer added (e.g. found by its status call)


class DeliveryWorker:
    """Sends what the outbox holds. `run_once()` for tests (frozen clock); `run_forever(stop)` for processes."""

    def __init__(
        self,
        container: Container,
        adapters: dict[str, Adapter] | None = None,
        *,
        worker_id: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        lease_seconds: float | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_batches: int = 50,
        rng: random.Random | None = None,
    ) -> None:
        self.container = container
        self.settings = container.settings
        self.adapters = adapters if adapters is not None else build_adapters(container.settings)
        self.worker_id = (worker_id or new_worker_id())[:64]
        self.batch_size = batch_size
        # Long enough for the slowest send (SMTP: several round trips, each bounded by the timeout).
        self.lease_seconds = lease_seconds or max(60.0, 10 * self.settings.delivery_timeout_seconds)
        self.poll_interval = poll_interval
        self.max_batches = max_batches
        self.rng = rng or random.Random()
        # The worker's own commits must not wake it (that would be a busy loop): a factory without hooks.
        self._uow = UnitOfWorkFactory(container.uow.engine)
        self._orphans_checked = False
        # gateway → the operator problem logged at ERROR for it, until a message goes through it again
        self._operator_alarms: dict[str, str] = {}

    @property
    def _now(self) -> datetime:
        return self.container.clock.now()

    # --- one pass -------------------------------------------------------------------------------------
    async def run_once(self) -> RunResult:
        """Claim, send and record due messages until none are due (at most `max_batches` batches)."""
        total = RunResult()
        if not self._orphans_checked:
            await self.release_orphaned_claims()
            self._orphans_checked = True
        for _ in range(self.max_batches):
            batch, expired = await self._claim()
            result = RunResult(claimed=len(batch), expired=expired)
            result.more = len(batch) + expired >= self.batch_size
            if batch:
                outcomes = list(await asyncio.gather(*(self._send(row) for row in batch)))
                # If recording fails (database unreachable), the claims stay until their lease ends and the
                # messages are sent again, with the same idempotency keys.
                for outcome, recorded in zip(outcomes, await self._record(outcomes), strict=True):
                    if not recorded:
                        log.warning(
                            "delivery %s: claim was lost before the outcome was recorded", outcome.row.id
                        )
                        result.lost += 1
                        continue
                    self._log(outcome)
                    metrics.delivery_attempt(
                        channel=outcome.row.channel,
                        gateway=outcome.values.get("gateway"),
                        result=outcome.field,
                    )
                    setattr(result, outcome.field, getattr(result, outcome.field) + 1)
            total.add(result)
            if not result.more:
                break
        return total

    async def _claim(self) -> tuple[list[_Claimed], int]:
        now = self._now
        max_age = self.settings.delivery_max_age_seconds
        async with self._uow() as tx:
            rows = await tx.deliveries.due(now=now, max_age_seconds=max_age, limit=self.batch_size)
            if not rows:
                return [], 0
            claimed: list[_Claimed] = []
            expired = 0
            for row in rows:
                deadline = row.expires_at or (
                    row.created_at + timedelta(seconds=self.settings.delivery_max_age_seconds)
                )
                if deadline <= now:
                    expired += 1
                    reason = _expired_reason(row.expires_at is not None, row.attempts, row.last_error)
                    await tx.deliveries.expire(row.id, reason=reason)
                    log.info(
                        "delivery %s (%s/%s) expired unsent after %d attempt(s)",
                        row.id,
                        row.channel,
                        row.kind,
                        row.attempts,
                    )
                    continue
                claimed.append(
                    _Claimed(
                        row.id,
                        row.channel,
                        row.kind,
                        row.recipient,
                        row.payload or {},
                        row.secret_enc,
                        row.idempotency_key,
                        row.attempts,
                        bool(row.ask_status_first),
                    )
                )
            if claimed:
                # In doubt until the outcome is recorded: if this worker dies mid-send, the next attempt asks
                # the gateway's status call first (the adapters get the value from before this claim).
                await tx.deliveries.claim(
                    [c.id for c in claimed],
                    worker_id=self.worker_id,
                    until=now + timedelta(seconds=self.lease_seconds),
                )
            await tx.commit()
        return claimed, expired

    async def _send(self, row: _Claimed) -> _Outcome:
        """Send one claimed message; what to record about it (nothing is written here)."""
        secret: str | None = None
        if row.secret_enc:
            secret = self.container.secrets.decrypt(row.secret_enc)
            if secret is None:
                return self._dead(row, "secret cannot be decrypted (was EIRC_SECRET_KEY changed?)")
        message = OutgoingMessage(
            id=row.id,
            channel=row.channel,
            kind=row.kind,
            recipient=row.recipient,
            idempotency_key=row.idempotency_key,
            payload=fill_secret(row.payload, secret),
            template=row.payload,
            attempt=row.attempts + 1,
            has_secret=secret is not None,
            ask_status_first=row.ask_status_first,
        )
        adapter = self.adapters.get(row.channel)
        error: DeliveryError | None = None
        sent: Sent | None = None
        if adapter is None:
            error = RetryableError(f"no adapter for channel {row.channel!r}")
        else:
            try:
                sent = await adapter.send(message) or Sent(adapter.name)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # an adapter bug must not lose the message
                error = RetryableError(f"unexpected error in {adapter.name}: {type(exc).__name__}")
                log.error("delivery %s: %s raised %s", row.id, adapter.name, type(exc).__name__)
        gateway = adapter.name if adapter is not None else None
        if sent is not None:
            values = {"status": "sent", "sent_at": self._now, "secret_enc": None, "last_error": None}
            values.update(_gateway_values(sent.gateway, sent.message_id, secret))
            return _Outcome(row, "sent", values, note=sent.note and scrub(sent.note, secret))
        assert error is not None
        reason = scrub(error.reason, secret)
        recorded = _gateway_values(gateway, error.message_id, secret)
        if not error.retryable:
            return self._dead(row, reason, recorded)
        recorded["ask_status_first"] = error.ambiguous
        delay = backoff_seconds(
            row.attempts + 1,
            base=self.settings.delivery_backoff_seconds,
            cap=self.settings.delivery_max_backoff_seconds,
            rng=self.rng,
        )
        if error.retry_after:
            delay = max(delay, min(error.retry_after, self.settings.delivery_max_backoff_seconds))
        values = {"next_attempt_at": self._now + timedelta(seconds=delay), "last_error": reason, **recorded}
        return _Outcome(row, "retried", values, delay=delay, operator=error.operator)

    def _dead(self, row: _Claimed, reason: str, recorded: dict[str, Any] | None = None) -> _Outcome:
        values = {"status": "dead", "secret_enc": None, "last_error": reason, "ask_status_first": False}
        return _Outcome(row, "dead", {**values, **(recorded or {})})

    async def _record(self, outcomes: list[_Outcome]) -> list[bool]:
        """Record a batch's outcomes in one transaction, each only while the claim is still ours."""
        recorded = []
        async with self._uow() as tx:
            for o in outcomes:
                recorded.append(
                    await tx.deliveries.record(o.row.id, worker_id=self.worker_id, values=o.values)
                )
            await tx.commit()
        return recorded

    def _log(self, o: _Outcome) -> None:
        row = o.row
        who = mask_recipient(row.channel, row.recipient)
        attempt = row.attempts + 1
        gateway = o.values.get("gateway") or row.channel
        if o.field == "sent":
            log.info(
                "delivery %s (%s/%s to %s) sent via %s%s, attempt %d%s",
                row.id,
                row.channel,
                row.kind,
                who,
                gateway,
                f" as {o.values['gateway_message_id']}" if o.values.get("gateway_message_id") else "",
                attempt,
                f" ({o.note})" if o.note else "",
            )
            if self._operator_alarms.pop(gateway, None) is not None:
                log.warning("%s accepts messages again: the operator problem is over", gateway)
        elif o.operator and gateway not in self._operator_alarms:
            self._operator_alarms[gateway] = o.values["last_error"]
            log.error(
                "OPERATOR PROBLEM with %s, not the resident's fault: %s — delivery %s (%s/%s to %s) and the "
                "messages after it are kept and retried (retry in %.1fs) until it is fixed or they expire; "
                "logged once until %s accepts a message again",
                gateway,
                o.values["last_error"],
                row.id,
                row.channel,
                row.kind,
                who,
                o.delay,
                gateway,
            )
        elif o.field == "retried":
            log.warning(
                "delivery %s (%s/%s to %s) attempt %d failed, retry in %.1fs: %s",
                row.id,
                row.channel,
                row.kind,
                who,
                attempt,
                o.delay,
                o.values["last_error"],
            )
        else:
            log.error(
                "delivery %s (%s/%s to %s) failed for good: %s",
                row.id,
                row.channel,
                row.kind,
                who,
                o.values["last_error"],
            )

    async def resume_after_start(self) -> None:
        """A (re)started worker frees the claims of dead workers on this host and gives every message that
        is backing off one try now: a restart is often the fix (a provider is back, a setting corrected),
        and the backlog should not wait out back-offs of up to EIRC_DELIVERY_MAX_BACKOFF_SECONDS."""
        await self.release_orphaned_claims()
        self._orphans_checked = True
        count = await make_due_now(self._uow, now=self._now)
        if count:
            log.info("%d pending delivery(ies) waiting on back-off are due now", count)

    async def release_orphaned_claims(self) -> int:
        """Free claims held by workers of this host that are no longer running (killed mid-send)."""
        prefix = host_identity() + ":"
        now = self._now
        async with self._uow() as tx:
            holders = await tx.deliveries.claim_holders(now=now)
            dead = []
            for holder in holders:
                if not holder.startswith(prefix) or holder == self.worker_id:
                    continue
                pid_text = holder[len(prefix) :].split(":", 1)[0]
                if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
                    dead.append(holder)
            if not dead:
                return 0
            count = await tx.deliveries.release_claims(dead)
            await tx.commit()
        if count:
            log.warning("released %d delivery claim(s) of stopped worker(s) %s", count, ", ".join(dead))
        return count

    # --- the loop ---------------------------------------------------------------------------------------
    async def run_forever(self, stop: asyncio.Event) -> None:
        """Pass after pass until `stop` is set; between passes wait for a commit wake-up or the poll interval.

        The poll picks up messages queued by other processes (other gateway processes, the CLI) and retries
        that have come due; the wake-up makes a message queued in this process go out at once.
        """
        wakeup = self.container.delivery_wakeup
        log.info("delivery worker %s started (%s)", self.worker_id, describe(self.adapters))
        try:
            await self.resume_after_start()
        except Exception as exc:  # the first pass retries; a start-up nicety must not stop the worker
            log.error("delivery worker: could not resume pending messages: %s", _describe(exc))
        pause = self.poll_interval
        while not stop.is_set():
            if wakeup is not None:
                wakeup.clear()
            try:
                result = await self.run_once()
            except Exception as exc:  # the database may be briefly unreachable: keep going
                log.error("delivery worker pass failed: %s; next try in %.0fs", _describe(exc), pause)
                await _wait_any(stop, None, pause)
                pause = min(pause * 2, _ERROR_PAUSE_MAX)
                continue
            pause = self.poll_interval
            if result.more:
                continue
            await _wait_any(stop, wakeup, self.poll_interval)
        log.info("delivery worker %s stopped", self.worker_id)


async def make_due_now(uow: UnitOfWorkFactory, *, now: datetime, channel: str | None = None) -> int:
    """Pending messages waiting on back-off (of `channel`) become due now; claimed ones are left alone."""
    async with uow() as tx:
        count = await tx.deliveries.make_due(now=now, channel=channel)
        await tx.commit()
    return count


async def _wait_any(stop: asyncio.Event, wakeup: asyncio.Event | None, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if wakeup is not None:
        waiters.append(asyncio.ensure_future(wakeup.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        for w in waiters:
            with contextlib.suppress(asyncio.CancelledError):
                await w


def _gateway_values(gateway: str | None, message_id: str | None, secret: str | None) -> dict[str, Any]:
    """The delivery columns naming the gateway of an attempt and the id it gave the message."""
    values: dict[str, Any] = {"gateway": gateway[:20] if gateway else None, "ask_status_first": False}
    if message_id and message_id != secret:  # an id is the gateway's number, never the code itself
        values["gateway_message_id"] = message_id[:100]
    return values


def _expired_reason(has_useful_life: bool, attempts: int, last_error: str | None) -> str:
    what = "past its useful life" if has_useful_life else "not delivered within EIRC_DELIVERY_MAX_AGE_SECONDS"
    reason = (
        f"expired: {what}, never sent" if attempts == 0 else f"expired: {what} after {attempts} attempt(s)"
    )
    if last_error:
        reason += f"; last error: {last_error}"
    return reason[:_MAX_ERROR_LEN]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]


async def run_in_process(container: Container, stop: asyncio.Event) -> None:
    """The background task of `eirc serve` (and the body of `eirc worker`)."""
    adapters = build_adapters(container.settings)
    warn_dev_outbox(container, adapters)
    worker = DeliveryWorker(container, adapters)
    try:
        await worker.run_forever(stop)
    finally:
        await close_adapters(adapters)


def warn_dev_outbox(container: Container, adapters: dict[str, Adapter]) -> None:
    dev = [channel for channel, adapter in sorted(adapters.items()) if adapter.name == "dev-outbox"]
    if dev and not container.settings.is_development:
        log.warning(
            "no provider configured for %s: these messages go to the development outbox and are NOT sent",
            ", ".join(dev),
        )


__all__ = [
    "SECRET_PLACEHOLDER",
    "DeliveryWorker",
    "RunResult",
    "backoff_seconds",
    "run_in_process",
]
