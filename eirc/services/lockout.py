"""The sign-in lockout (SPEC §4, §11): the one implementation of counting a password attempt, used by every
use case that checks a password (`login`, `changePassword`).

The rules, and why (docs/signin.md has the long version):

- Every attempt is counted *before* the password is verified, in its own transaction that commits before
  the slow hash: `begin_attempt` reserves an attempt on the subject's counter unless the subject is locked.
  A subject is the user (so the phone and the e-mail share one counter) or, for an unknown login, a keyed
  digest of the login (so an unknown login locks exactly like a known one).
- The attempt that reaches ``EIRC_LOGIN_MAX_FAILURES`` locks the subject *as it is reserved*, for
  ``EIRC_LOGIN_LOCKOUT_SECONDS``; a success lifts the lock at once (`clear`). So whatever happens to an
  attempt after it was counted — a wrong password, a crash, an exception in the hasher — the counters are
  those of a wrong password, and a lock always has its end: nothing in between. Because the attempt is
  reserved before the hash, concurrent requests (several processes, several aliased fields) can never get
  more passwords checked than the attempts left.
- NIST SP 800-63B's ceiling of 100 consecutive failures per account: each lock adds its round to a second
  counter (`streak`); when one more round would pass ``MAX_CONSECUTIVE_FAILURES`` the lock becomes a
  suspension (``LOGIN_LOCKED`` with its own text) that time does not lift — a password reset by SMS or
  `eirc users unlock` does (`clear`).
- Per client address, at most ``EIRC_LOGIN_PER_CLIENT_PER_MINUTE`` attempts (``RATE_LIMITED``), counted
  first: a throttled attempt touches no subject's counter, so one source can neither walk through many
  accounts nor lock many residents out.
- All counters live in the database (`counter` table, storage/lockout.py), so the limits hold across
  gateway processes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from eirc.domain import texts
from eirc.domain.errors import DomainError, ErrorCode
from eirc.storage.db import UnitOfWork
from eirc.storage.lockout import CounterRow

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.lockout")

# NIST SP 800-63B §5.2.2: no more than 100 consecutive failed attempts on one account.
MAX_CONSECUTIVE_FAILURES = 100
# Failures are consecutive until a success: the counters keep them this long (a row's life, for purging).
MEMORY_SECONDS = 365 * 86400
# A suspension is a lock that time does not lift in practice; a success path (SMS reset, support) does.
SUSPENSION_SECONDS = 100 * 365 * 86400
CLIENT_WINDOW_SECONDS = 60


def user_subject(user_id: str) -> str:
    return f"u:{user_id}"


def fail_key(subject: str) -> str:
    return f"login:fail:{subject}"


def streak_key(subject: str) -> str:
    return f"login:streak:{subject}"


def client_key(client_ip: str) -> str:
    return f"login:client:{client_ip}"


@dataclass(frozen=True)
class Attempt:
    subject: str
    count: int  # attempts of the subject since its last success or lock, this one included


def _is_suspension(locked_until: datetime, now: datetime) -> bool:
    return locked_until - now > timedelta(seconds=SUSPENSION_SECONDS // 2)


async def begin_attempt(
    tx: UnitOfWork, deps: Deps, *, subject: str, client_ip: str | None, field: str = "password"
) -> Attempt:
    """Count one password attempt for `subject` (and the client) in `tx`; the caller commits before it
    verifies the password. Raises ``RATE_LIMITED`` (the client is over its limit: the caller's transaction
    is not to be committed, nothing of the subject was touched) or ``LOGIN_LOCKED`` — on `field`, the
    password field (the seed shows the lockout under «Пароль»)."""
    s = deps.settings
    now = deps.clock.now()
    if client_ip:
        window = await tx.counters.hit(client_key(client_ip), now=now, window_seconds=CLIENT_WINDOW_SECONDS)
        if window.count > s.login_per_client_per_minute:
            if window.count == s.login_per_client_per_minute + 1:  # once a window, not once a request
                log.info(
                    "sign-in refused: client %s over %s attempts a minute",
                    client_ip,
                    s.login_per_client_per_minute,
                )
            raise DomainError(ErrorCode.RATE_LIMITED, field)

    key = fail_key(subject)
    memory = now + timedelta(seconds=MEMORY_SECONDS)
    row = await tx.lockout.claim(key, expires_at=memory)
    if row.locked_until is not None and row.locked_until > now:
        suspended = _is_suspension(row.locked_until, now)
        raise DomainError(ErrorCode.LOGIN_LOCKED, field, message=texts.LOGIN_SUSPENDED if suspended else None)
    fresh = row.expires_at <= now  # never counted, or the last lock has ended: a new round
    count = 1 if fresh else row.count + 1
    expires_at = memory if fresh else row.expires_at
    locked_until = None
    if count >= s.login_max_failures:  # the last attempt this round allows: locked unless it succeeds
        streak = await tx.lockout.add(streak_key(subject), count, expires_at=memory)
        if streak + s.login_max_failures > MAX_CONSECUTIVE_FAILURES:
            locked_until = now + timedelta(seconds=SUSPENSION_SECONDS)
            log.warning("password sign-in suspended for %s: %s consecutive failures", subject[:10], streak)
        else:
            locked_until = now + timedelta(seconds=s.login_lockout_seconds)
            log.info(
                "sign-in locked for %s until %s unless this attempt succeeds", subject[:10], locked_until
            )
        expires_at = locked_until  # the round ends with the lock
    await tx.lockout.store(key, CounterRow(count=count, expires_at=expires_at, locked_until=locked_until))
    return Attempt(subject=subject, count=count)


async def clear(tx: UnitOfWork, subject: str) -> None:
    """A success (or a password reset, or support): the lock lifted and the failures forgotten."""
    await tx.lockout.delete(fail_key(subject), streak_key(subject))


async def clear_user(tx: UnitOfWork, user_id: str) -> None:
    await clear(tx, user_subject(user_id))


@dataclass(frozen=True)
class LockState:
    failed_attempts: int  # since the last success or the end of the last lock
    consecutive_failures: int  # since the last success, across locks
    locked_until: datetime | None
    suspended: bool


async def lock_state(tx: UnitOfWork, deps: Deps, subject: str) -> LockState:
    """What support sees of a subject's counters (`eirc users show`)."""
    now = deps.clock.now()
    rows = await tx.lockout.read(fail_key(subject), streak_key(subject))
    fail = rows.get(fail_key(subject))
    streak = rows.get(streak_key(subject))
    locked_until = fail.locked_until if fail is not None else None
    if locked_until is not None and locked_until <= now:
        locked_until = None
    failed = fail.count if fail is not None and fail.expires_at > now else 0
    closed = streak.count if streak is not None and streak.expires_at > now else 0
    return LockState(
        failed_attempts=failed,
        consecutive_failures=closed + (failed if locked_until is None else 0),
        locked_until=locked_until,
        suspended=locked_until is not None and _is_suspension(locked_until, now),
    )
