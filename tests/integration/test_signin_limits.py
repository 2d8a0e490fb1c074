"""The sign-in counters on both backends: concurrent attempts never get more passwords checked than allowed."""

from __future__ import annotations

import asyncio

import pytest

from eirc.domain.errors import DomainError, ErrorCode
from eirc.services import lockout, signin
from tests.e2e.signin_helpers import PASSWORD, PHONE, CountingVerify, make_user, user_by_phone


@pytest.fixture
def settings_overrides():
    return {"login_per_client_per_minute": 1000}


async def _attempt(c, password: str, login: str = PHONE) -> str:
    try:
        await signin.login(c, login=login, password=password, client_ip="10.0.0.1")
    except DomainError as exc:
        return exc.code
    return "OK"


async def test_concurrent_attempts_check_at_most_the_attempts_left(container, monkeypatch):
    await make_user(container)
    counting = CountingVerify(container, monkeypatch)
    results = await asyncio.gather(*(_attempt(container, f"Wrong{i}x") for i in range(12)))
    limit = container.settings.login_max_failures
    assert counting.calls == limit
    assert sorted(results) == sorted(
        [ErrorCode.INVALID_CREDENTIALS] * limit + [ErrorCode.LOGIN_LOCKED] * (12 - limit)
    )
    assert await _attempt(container, PASSWORD) == ErrorCode.LOGIN_LOCKED
    user = await user_by_phone(container)
    async with container.uow() as tx:
        state = await lockout.lock_state(tx, container, lockout.user_subject(user.id))
    assert state.locked_until is not None
    assert state.consecutive_failures == limit


async def test_a_success_clears_the_counters(container, clock):
    await make_user(container)
    for _ in range(3):
        assert await _attempt(container, "Wrong1x") == ErrorCode.INVALID_CREDENTIALS
    assert await _attempt(container, PASSWORD) == "OK"
    user = await user_by_phone(container)
    async with container.uow() as tx:
        state = await lockout.lock_state(tx, container, lockout.user_subject(user.id))
    assert (state.failed_attempts, state.consecutive_failures, state.locked_until) == (0, 0, None)


async def test_failures_are_consecutive_until_a_success(container, clock):
    await make_user(container)
    for _ in range(container.settings.login_max_failures - 1):
        assert await _attempt(container, "Wrong1x") == ErrorCode.INVALID_CREDENTIALS
    clock.advance(86400 * 7)  # time alone forgets nothing
    assert await _attempt(container, "Wrong1x") == ErrorCode.INVALID_CREDENTIALS
    assert await _attempt(container, PASSWORD) == ErrorCode.LOGIN_LOCKED


async def test_never_more_than_100_consecutive_failures(container, clock, monkeypatch):
    """NIST SP 800-63B: lock after lock, the 100th consecutive failure suspends password sign-in."""
    await make_user(container)
    counting = CountingVerify(container, monkeypatch)
    results = []
    for _ in range(30):  # as fast as the lock allows, for hours
        for _ in range(container.settings.login_max_failures + 1):
            results.append(await _attempt(container, "Wrong1x"))
        clock.advance(container.settings.login_lockout_seconds + 1)
    assert counting.calls == lockout.MAX_CONSECUTIVE_FAILURES
    assert results.count(ErrorCode.INVALID_CREDENTIALS) == lockout.MAX_CONSECUTIVE_FAILURES
    assert await _attempt(container, PASSWORD) == ErrorCode.LOGIN_LOCKED
    user = await user_by_phone(container)
    async with container.uow() as tx:
        state = await lockout.lock_state(tx, container, lockout.user_subject(user.id))
        assert state.suspended and state.consecutive_failures == lockout.MAX_CONSECUTIVE_FAILURES
        await lockout.clear_user(tx, user.id)  # what an SMS reset or `eirc users unlock` does
        await tx.commit()
    assert await _attempt(container, PASSWORD) == "OK"


async def test_the_streak_counts_across_lock_periods(container, clock):
    """Lock after lock, the consecutive failures add up (NIST's ceiling is about them)."""
    await make_user(container)
    limit = container.settings.login_max_failures
    for _ in range(3):
        for _ in range(limit):
            assert await _attempt(container, "Wrong1x") == ErrorCode.INVALID_CREDENTIALS
        assert await _attempt(container, "Wrong1x") == ErrorCode.LOGIN_LOCKED  # not counted
        clock.advance(container.settings.login_lockout_seconds + 1)
    user = await user_by_phone(container)
    async with container.uow() as tx:
        state = await lockout.lock_state(tx, container, lockout.user_subject(user.id))
    assert state.consecutive_failures == 3 * limit


async def test_a_throttled_client_leaves_the_subject_untouched(container, monkeypatch):
    """Over the client's limit: RATE_LIMITED, and the resident's counter is not counted (both backends:
    the transaction's rollback on SQLite, the statement's own condition on PostgreSQL)."""
    await make_user(container)
    monkeypatch.setattr(container.settings, "login_per_client_per_minute", 2)
    assert await _attempt(container, "Wrong1x") == ErrorCode.INVALID_CREDENTIALS
    assert await _attempt(container, "Wrong1x", login="someone@example.com") == ErrorCode.INVALID_CREDENTIALS
    for login in (PHONE, "someone@example.com", "not a login"):
        assert await _attempt(container, "Wrong1x", login=login) == ErrorCode.RATE_LIMITED
    user = await user_by_phone(container)
    async with container.uow() as tx:
        assert (await lockout.lock_state(tx, container, lockout.user_subject(user.id))).failed_attempts == 1
