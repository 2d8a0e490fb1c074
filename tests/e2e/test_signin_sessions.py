"""Sessions over GraphQL (SPEC §4): logout, logoutEverywhere, changePassword end the right sessions."""

from __future__ import annotations

import pytest

from eirc.domain import texts
from eirc.services.lockout import lock_state, user_subject
from tests.e2e.signin_helpers import (
    ME,
    NEW_PASSWORD,
    PASSWORD,
    PHONE,
    codes_of,
    login,
    make_user,
    user_by_phone,
)

LOGOUT = "mutation { logout }"
LOGOUT_EVERYWHERE = "mutation { logoutEverywhere }"
CHANGE = """
mutation($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new) {
    session { token expiresAt }
    profile { phone }
    errors { code field message failedRules }
  }
}"""


@pytest.fixture
def settings_overrides():
    return {"login_per_client_per_minute": 1000}


async def _token(gql) -> str:
    payload = await login(gql, PHONE, PASSWORD)
    assert payload["errors"] == []
    return payload["session"]["token"]


async def _me(gql, token):
    return (await gql(ME, token=token))["me"]


async def test_session_expires(container, gql, clock):
    await make_user(container)
    token = await _token(gql)
    assert await _me(gql, token) is not None
    clock.advance(container.settings.session_ttl_seconds + 1)
    assert await _me(gql, token) is None
    assert (await gql(LOGOUT, token=token))["logout"] is False


async def test_logout_ends_only_this_session(container, gql):
    await make_user(container)
    first, second = await _token(gql), await _token(gql)
    assert (await gql(LOGOUT, token=first))["logout"] is True
    assert await _me(gql, first) is None
    assert await _me(gql, second) is not None
    assert (await gql(LOGOUT, token=first))["logout"] is False  # already ended
    assert (await gql(LOGOUT))["logout"] is False  # no session at all
    assert (await gql(LOGOUT, token="not-a-token"))["logout"] is False


async def test_logout_everywhere_ends_all_of_the_users_sessions_only(container, gql):
    await make_user(container)
    await make_user(container, phone="+79162220033", email="neighbour@example.com")
    first, second = await _token(gql), await _token(gql)
    neighbour = (await login(gql, "+79162220033", PASSWORD))["session"]["token"]
    assert (await gql(LOGOUT_EVERYWHERE))["logoutEverywhere"] is False
    assert (await gql(LOGOUT_EVERYWHERE, token=first))["logoutEverywhere"] is True
    assert await _me(gql, first) is None
    assert await _me(gql, second) is None
    assert await _me(gql, neighbour) is not None
    assert (await gql(LOGOUT_EVERYWHERE, token=second))["logoutEverywhere"] is False


async def test_change_password(container, gql):
    await make_user(container)
    own, other = await _token(gql), await _token(gql)

    payload = (await gql(CHANGE, {"current": PASSWORD, "new": NEW_PASSWORD}))["changePassword"]
    assert codes_of(payload) == ["NOT_AUTHENTICATED"]

    payload = (await gql(CHANGE, {"current": PASSWORD, "new": "ab11"}, token=own))["changePassword"]
    assert payload["errors"] == [
        {
            "code": "WEAK_PASSWORD",
            "field": "newPassword",
            "message": texts.WEAK_PASSWORD,
            "failedRules": ["MIN_LENGTH", "NO_REPEATED_ADJACENT_DIGITS"],
        }
    ]

    payload = (await gql(CHANGE, {"current": "Wrong1pass", "new": NEW_PASSWORD}, token=own))["changePassword"]
    assert payload["errors"] == [
        {
            "code": "INVALID_CREDENTIALS",
            "field": "currentPassword",
            "message": texts.INVALID_CREDENTIALS,
            "failedRules": None,
        }
    ]
    user = await user_by_phone(container)
    async with container.uow() as tx:
        assert (await lock_state(tx, container, user_subject(user.id))).failed_attempts == 1  # counted

    payload = (await gql(CHANGE, {"current": PASSWORD, "new": NEW_PASSWORD}, token=own))["changePassword"]
    assert payload["errors"] == []
    assert payload["session"]["token"] == own
    assert payload["profile"]["phone"] == PHONE
    assert await _me(gql, own) is not None  # the caller's session stays
    assert await _me(gql, other) is None  # every other one ended
    assert codes_of(await login(gql, PHONE, PASSWORD)) == ["INVALID_CREDENTIALS"]
    assert (await login(gql, PHONE, NEW_PASSWORD))["errors"] == []


async def test_change_password_wrong_current_locks_like_login(container, gql):
    await make_user(container)
    own = await _token(gql)
    for _ in range(container.settings.login_max_failures):
        payload = (await gql(CHANGE, {"current": "Wrong1pass", "new": NEW_PASSWORD}, token=own))[
            "changePassword"
        ]
        assert codes_of(payload) == ["INVALID_CREDENTIALS"]
    payload = (await gql(CHANGE, {"current": PASSWORD, "new": NEW_PASSWORD}, token=own))["changePassword"]
    assert codes_of(payload) == ["LOGIN_LOCKED"]
    assert codes_of(await login(gql, PHONE, PASSWORD)) == ["LOGIN_LOCKED"]
