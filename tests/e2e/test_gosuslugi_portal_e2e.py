"""The portal's handoff of «Вход через портал Госуслуги» (docs/portal.md, «Госуслуги»; docs/gosuslugi.md, «The
browser endpoints»), against the local OpenID provider, on both backends.

`GET /auth/gosuslugi/login?portal=<tab>` sets a second cookie with the tab value; the callback, for a state
bound to this browser and that cookie, completes nothing: it answers 303 to `/#gosuslugi?code&state&tab` (or
`?error=cancelled&tab`), and the portal's tab completes it with `gosuslugiComplete`. Requests without the
parameter keep today's answers (tests/e2e/test_gosuslugi_e2e.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from eirc.bootstrap import Container
from eirc.domain import texts
from eirc.security import token_digest
from eirc.storage.tables import OidcState
from tests.conftest import GraphQLClient
from tests.e2e.test_gosuslugi_e2e import gosuslugi_complete
from tests.oidc_provider import (
    LocalOidcProvider,
    follow_authorize,
    oidc_provider_fixture,  # noqa: F401  (the `oidc_provider` fixture)
    oidc_settings_fixture,  # noqa: F401  (the `oidc_settings` fixture)
)
from tests.registration_kit import errors_of

TAB = "Tq3x_9-ZkLw0aB7cD2eF4gH6iJ8kM1nP"  # what the portal sends: 32 characters of base64url
STATE_COOKIE = "eirc_gosuslugi_state"
PORTAL_COOKIE = "eirc_gosuslugi_portal"
CALLBACK = "/auth/gosuslugi/callback"


@pytest.fixture
def settings_overrides(oidc_settings: dict[str, Any]) -> dict[str, Any]:
    return oidc_settings


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie of the answer by its cookie name (the whole header line)."""
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("set-cookie")}


def attributes(line: str) -> dict[str, str]:
    """A Set-Cookie line's attributes other than its value, names lower-cased."""
    out = {}
    for part in line.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        out[name.lower()] = value.lower()
    return out


def handoff(response: httpx.Response) -> dict[str, str]:
    """The 303 to the portal: its fragment's parameters, each exactly once."""
    assert response.status_code == 303, (response.status_code, response.text)
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path, location.query) == ("", "", "/", "")
    name, _, query = location.fragment.partition("?")
    assert name == "gosuslugi"
    params = parse_qs(query, keep_blank_values=True, strict_parsing=True)
    assert all(len(v) == 1 for v in params.values()), params
    return {k: v[0] for k, v in params.items()}


async def portal_login(http: httpx.AsyncClient, tab: str = TAB) -> tuple[httpx.Response, str]:
    response = await http.get("/auth/gosuslugi/login", params={"portal": tab})
    assert response.status_code == 302, response.text
    return response, response.headers["location"]


async def state_used(c: Container, state: str) -> bool:
    """Whether the stored state (it must exist) has been claimed or spent."""
    async with c.uow() as tx:
        used_at = (
            await tx.session.execute(select(OidcState.used_at).where(OidcState.id == token_digest(state)))
        ).scalar_one()
    return used_at is not None


async def state_count(c: Container) -> int:
    async with c.uow() as tx:
        return len((await tx.session.execute(select(OidcState.id))).all())


def assert_both_cookies_deleted(response: httpx.Response) -> None:
    cookies = set_cookies(response)
    for name in (STATE_COOKIE, PORTAL_COOKIE):
        assert f'{name}=""' in cookies[name], cookies
        assert attributes(cookies[name])["max-age"] == "0"
        assert attributes(cookies[name])["path"] == "/auth/gosuslugi"


# --- GET /auth/gosuslugi/login?portal= ----------------------------------------------------------------------------
async def test_login_for_the_portal_sets_the_tab_cookie_beside_the_state_cookie(
    http: httpx.AsyncClient, container: Container, oidc_provider: LocalOidcProvider
) -> None:
    response, location = await portal_login(http)
    assert location.startswith(oidc_provider.issuer + "/authorize?")
    assert response.headers["cache-control"] == "no-store"
    cookies = set_cookies(response)
    assert cookies[PORTAL_COOKIE].startswith(f"{PORTAL_COOKIE}={TAB};")
    state = http.cookies[STATE_COOKIE]
    assert parse_qs(urlsplit(location).query)["state"] == [state]  # the state cookie is today's
    portal, bound = attributes(cookies[PORTAL_COOKIE]), attributes(cookies[STATE_COOKIE])
    assert portal == bound  # the same attributes, the same lifetime
    assert portal["path"] == "/auth/gosuslugi" and portal["samesite"] == "lax" and "httponly" in portal
    assert portal["max-age"] == str(container.settings.oidc_state_ttl_seconds)
    assert "secure" not in portal  # http://testserver; https public URLs get Secure, as the state cookie does
    assert not await state_used(container, state)


@pytest.mark.parametrize(
    "tab",
    [
        "",
        "short",
        "a" * 15,  # one below the shortest
        "a" * 65,  # one above the longest
        "Tq3x+9/ZkLw0aB7cD2eF4gH6iJ8kM1nP",  # base64, not base64url
        "Tq3x_9-ZkLw0aB7cD2eF4gH6iJ8kM1n=",
        "Tq3x_9-ZkLw0aB7c D2eF4gH6iJ8kM1nP",
        "Tq3x_9-ZkLw0aB7c\nD2eF4gH6iJ8kM1nP",
        "Tq3x_9-ZkLw0aB7cD2eF4gH6iJ8kM1nP;Path=/",
        "ЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖЖ",
    ],
)
async def test_login_with_a_tab_value_that_is_not_the_portals_starts_nothing(
    http: httpx.AsyncClient, container: Container, oidc_provider: LocalOidcProvider, tab: str
) -> None:
    response = await http.get("/auth/gosuslugi/login", params={"portal": tab})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert texts.GOSUSLUGI_STATE_INVALID in response.text
    assert "set-cookie" not in response.headers and "location" not in response.headers
    assert await state_count(container) == 0


@pytest.mark.parametrize("tab", ["a" * 16, "Z" * 64, "-_" * 11])
async def test_the_shortest_and_longest_tab_values_are_taken(http: httpx.AsyncClient, tab: str) -> None:
    response, _location = await portal_login(http, tab)
    assert set_cookies(response)[PORTAL_COOKIE].startswith(f"{PORTAL_COOKIE}={tab};")


# --- GET /auth/gosuslugi/callback with the tab cookie ---------------------------------------------------------------
async def test_the_callback_hands_code_and_state_to_the_portal_without_completing(
    http: httpx.AsyncClient, gql: GraphQLClient, container: Container, oidc_provider: LocalOidcProvider
) -> None:
    _response, location = await portal_login(http)
    callback = follow_authorize(location)
    assert callback.code and callback.state
    answer = await http.get(callback.url)

    assert handoff(answer) == {"code": callback.code, "state": callback.state, "tab": TAB}
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert_both_cookies_deleted(answer)
    assert answer.text == ""  # nothing of a resident on the way
    assert oidc_provider.received("/token") == []  # the gateway did not exchange the code
    assert not await state_used(container, callback.state)  # the state is the tab's to claim

    # The portal's tab completes it with the public mutation — a state the browser endpoint started is
    # accepted (the state row does not record who started it) — once.
    done = await gosuslugi_complete(gql, callback.code, callback.state)
    assert done["errors"] == [], done
    assert (done["flow"]["kind"], done["flow"]["step"]) == ("REGISTRATION", "ACCOUNT")
    assert done["flow"]["data"]["lastName"] == "Петров"
    assert await state_used(container, callback.state)
    again = await gosuslugi_complete(gql, callback.code, callback.state)
    assert errors_of(again) == [("INVALID_TOKEN", None)]
    assert again["errors"][0]["message"] == texts.GOSUSLUGI_STATE_INVALID
    assert again["flow"] is None and again["session"] is None

    # The cookies are gone: the same callback again (a reload) is today's refusal, nothing handed over.
    reloaded = await http.get(callback.url)
    assert reloaded.status_code == 400 and texts.GOSUSLUGI_STATE_INVALID in reloaded.text


async def test_the_fragment_carries_any_code_exactly(http: httpx.AsyncClient, container: Container) -> None:
    """Codes are the provider's (signed JWTs, base64 with `+/=`…): each value percent-encoded, decoded back."""
    await portal_login(http)
    state = http.cookies[STATE_COOKIE]
    code = "a+b/c=d&tab=evil#x?y z%41.ж" + "c" * 2000
    answer = await http.get(CALLBACK, params={"code": code, "state": state})
    assert handoff(answer) == {"code": code, "state": state, "tab": TAB}
    assert "tab=evil" not in answer.headers["location"]


async def test_a_callback_without_a_usable_code_is_handed_over_as_failed(
    http: httpx.AsyncClient, container: Container
) -> None:
    await portal_login(http)
    state = http.cookies[STATE_COOKIE]
    answer = await http.get(CALLBACK, params={"state": state})
    assert handoff(answer) == {"error": "failed", "tab": TAB}
    assert_both_cookies_deleted(answer)
    assert await state_used(container, state)  # spent: it cannot complete


async def test_a_declined_sign_in_is_handed_over_as_cancelled_and_the_state_spent(
    http: httpx.AsyncClient, gql: GraphQLClient, container: Container, oidc_provider: LocalOidcProvider
) -> None:
    oidc_provider.person = None  # the resident declines at the provider
    _response, location = await portal_login(http)
    callback = follow_authorize(location)
    assert callback.error == "access_denied" and callback.code is None and callback.state
    answer = await http.get(callback.url)

    assert handoff(answer) == {"error": "cancelled", "tab": TAB}
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert_both_cookies_deleted(answer)
    assert await state_used(container, callback.state)
    late = await gosuslugi_complete(gql, "some-code", callback.state)
    assert errors_of(late) == [("INVALID_TOKEN", None)]


async def test_an_unbound_state_with_the_tab_cookie_is_todays_refusal(
    http: httpx.AsyncClient, container: Container
) -> None:
    """A callback link someone else started (login CSRF): the tab cookie changes nothing, nothing handed over."""
    await portal_login(http)
    theirs = http.cookies[STATE_COOKIE]  # a sign-in started in another browser
    http.cookies.clear()
    await portal_login(http)  # this browser: its own state cookie, and a tab cookie
    assert http.cookies[STATE_COOKIE] != theirs and http.cookies[PORTAL_COOKIE] == TAB

    answer = await http.get(CALLBACK, params={"code": "their-code", "state": theirs})
    assert answer.status_code == 400 and texts.GOSUSLUGI_STATE_INVALID in answer.text
    assert "location" not in answer.headers
    assert not await state_used(container, theirs)  # untouched

    # no state cookie at all, only the tab cookie: the same refusal
    http.cookies.clear()
    alone = await http.get(
        CALLBACK, params={"code": "their-code", "state": theirs}, headers={"Cookie": f"{PORTAL_COOKIE}={TAB}"}
    )
    assert alone.status_code == 400 and texts.GOSUSLUGI_STATE_INVALID in alone.text
    assert "location" not in alone.headers
    assert not await state_used(container, theirs)


async def test_head_of_the_callback_does_nothing_with_the_tab_cookie(
    http: httpx.AsyncClient, container: Container
) -> None:
    _response, location = await portal_login(http)
    callback = follow_authorize(location)
    assert callback.state
    answer = await http.head(callback.url)
    assert answer.status_code == 200 and "location" not in answer.headers
    assert not await state_used(container, callback.state)
    assert http.cookies.get(PORTAL_COOKIE) == TAB


# --- without the tab cookie: today's answers -----------------------------------------------------------------------
async def test_the_callback_with_only_the_state_cookie_is_todays_page(
    http: httpx.AsyncClient, container: Container
) -> None:
    response = await http.get("/auth/gosuslugi/login")
    assert response.status_code == 302
    assert PORTAL_COOKIE not in set_cookies(response)  # nothing to clear: the answer is today's
    callback = follow_authorize(response.headers["location"])
    page = await http.get(callback.url)
    assert page.status_code == 200 and texts.GOSUSLUGI_CONTINUE_TITLE in page.text
    assert PORTAL_COOKIE not in set_cookies(page)
    assert callback.state and await state_used(container, callback.state)  # completed


async def test_a_plain_login_after_an_unfinished_portal_one_is_not_handed_over(
    http: httpx.AsyncClient, container: Container
) -> None:
    await portal_login(http)  # the resident went to the provider from the portal and came back with «Назад»
    response = await http.get("/auth/gosuslugi/login")  # then a plain link to the browser endpoint
    assert response.status_code == 302
    assert f'{PORTAL_COOKIE}=""' in set_cookies(response)[PORTAL_COOKIE]  # the stale tab cookie goes
    assert PORTAL_COOKIE not in http.cookies
    callback = follow_authorize(response.headers["location"])
    page = await http.get(callback.url)
    assert page.status_code == 200 and texts.GOSUSLUGI_CONTINUE_TITLE in page.text


async def test_a_tampered_tab_cookie_is_ignored(http: httpx.AsyncClient, container: Container) -> None:
    """The cookie is ours, but a value that is not a tab value never reaches a URL: today's page."""
    response = await http.get("/auth/gosuslugi/login")
    callback = follow_authorize(response.headers["location"])
    state = http.cookies[STATE_COOKIE]
    http.cookies.clear()
    page = await http.get(callback.url, headers={"Cookie": f"{STATE_COOKIE}={state}; {PORTAL_COOKIE}=x&y"})
    assert page.status_code == 200 and texts.GOSUSLUGI_CONTINUE_TITLE in page.text
