"""Госуслуги over GraphQL and the browser endpoints (CONTRACT §3: gosuslugiStart, gosuslugiComplete,
`GET /auth/gosuslugi/login`, `GET /auth/gosuslugi/callback`), against the local OpenID provider, on both
backends: the three outcomes end to end (the registration finished through the normal mutations, no SMS),
and the clear refusals."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from eirc.bootstrap import Container
from eirc.domain import texts
from eirc.storage.tables import Delivery, OidcState, User
from tests.conftest import GraphQLClient, make_settings
from tests.oidc_provider import (
    LocalOidcProvider,
    Person,
    follow_authorize,
    oidc_provider_fixture,  # noqa: F401  (the `oidc_provider` fixture)
    oidc_settings_fixture,  # noqa: F401  (the `oidc_settings` fixture)
)
from tests.registration_kit import (
    CONFIRM_ADDRESS,
    ERRORS,
    FLOW_FIELDS,
    ME,
    PERSONAL,
    PROFILE_FIELDS,
    SET_PASSWORD,
    errors_of,
    prove,
    register,
    seed_billing,
)

PROVIDER_PHONE = "+79167654321"
START = f"mutation {{ gosuslugiStart {{ url {ERRORS} }} }}"
COMPLETE = (
    FLOW_FIELDS
    + f"""
mutation($code: String!, $state: String!) {{
  gosuslugiComplete(code: $code, state: $state) {{
    session {{ token expiresAt }} profile {{ {PROFILE_FIELDS} }} flow {{ ...F }} {ERRORS}
  }}
}}"""
)
UNAVAILABLE = "Вход через портал Госуслуги сейчас недоступен"


@pytest.fixture
def settings_overrides(oidc_settings: dict[str, Any]) -> dict[str, Any]:
    return oidc_settings


async def gosuslugi_start(gql: GraphQLClient, *, token: str | None = None) -> dict:
    return (await gql(START, token=token))["gosuslugiStart"]


async def gosuslugi_complete(gql: GraphQLClient, code: str, state: str, *, token: str | None = None) -> dict:
    return (await gql(COMPLETE, {"code": code, "state": state}, token=token))["gosuslugiComplete"]


async def through_provider(gql: GraphQLClient, *, token: str | None = None) -> dict:
    """gosuslugiStart → the browser at the provider → gosuslugiComplete, as a web frontend does it."""
    started = await gosuslugi_start(gql, token=token)
    assert started["errors"] == [] and started["url"], started
    callback = follow_authorize(started["url"])
    assert callback.code and callback.state
    return await gosuslugi_complete(gql, callback.code, callback.state, token=token)


# --- the three outcomes --------------------------------------------------------------------------------------
async def test_an_unknown_person_registers_without_an_sms_and_signs_in_again(
    gql: GraphQLClient, container: Container
) -> None:
    await seed_billing(container)
    done = await through_provider(gql)

    assert done["errors"] == [] and done["session"] is None and done["profile"] is None
    flow = done["flow"]
    assert (flow["kind"], flow["step"], flow["phone"], flow["phoneVerified"]) == (
        "REGISTRATION",
        "ACCOUNT",
        PROVIDER_PHONE,
        True,
    )
    data = flow["data"]
    assert (data["lastName"], data["firstName"], data["middleName"]) == ("Петров", "Иван", "Сергеевич")
    assert (data["email"], data["birthDate"]) == ("ivan.petrov@gosuslugi.example", "1985-04-12")

    # The rest of the registration is the ordinary one; «Регистрация: личные данные» comes prefilled.
    flow_id = flow["id"]
    assert (await prove(gql, flow_id))["errors"] == []
    assert (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]["errors"] == []
    personal = {
        "id": flow_id,
        "last": data["lastName"],
        "first": data["firstName"],
        "middle": data["middleName"],
        "birth": data["birthDate"],
        "email": data["email"],
        "notify": True,
    }
    answer = (await gql(PERSONAL, personal))["setPersonalData"]
    assert answer["errors"] == [] and answer["flow"]["step"] == "PASSWORD", answer
    finished = (await gql(SET_PASSWORD, {"id": flow_id, "password": "Parol2024a"}))["setPassword"]
    assert finished["errors"] == [], finished
    profile = finished["profile"]
    assert profile["phone"] == PROVIDER_PHONE and profile["gosuslugiLinked"] is True

    async with container.uow() as tx:
        assert not (await tx.session.execute(select(Delivery).where(Delivery.channel == "sms"))).first()
        user = (await tx.session.execute(select(User))).scalar_one()
        assert (user.gosuslugi_sub, user.source) == ("esia-1000001", "gosuslugi")

    again = await through_provider(gql)
    assert again["errors"] == [] and again["flow"] is None
    assert again["profile"]["id"] == profile["id"]
    me = (await gql(ME, token=again["session"]["token"]))["me"]
    assert me["id"] == profile["id"] and me["gosuslugiLinked"] is True


async def test_a_signed_in_resident_links_the_profile_then_signs_in_with_it(
    gql: GraphQLClient, container: Container
) -> None:
    await seed_billing(container)
    token = (await register(gql, container))["session"]["token"]
    assert (await gql(ME, token=token))["me"]["gosuslugiLinked"] is False

    linked = await through_provider(gql, token=token)
    assert linked["errors"] == [] and linked["session"] is None and linked["flow"] is None
    assert linked["profile"]["gosuslugiLinked"] is True
    assert (await gql(ME, token=token))["me"]["gosuslugiLinked"] is True

    signed_in = await through_provider(gql)
    assert signed_in["errors"] == []
    assert signed_in["profile"]["id"] == linked["profile"]["id"]
    assert signed_in["session"]["token"] != token


async def test_linking_completed_without_the_session_is_refused(
    gql: GraphQLClient, container: Container
) -> None:
    await seed_billing(container)
    token = (await register(gql, container))["session"]["token"]
    started = await gosuslugi_start(gql, token=token)
    callback = follow_authorize(started["url"])
    assert callback.code and callback.state

    done = await gosuslugi_complete(gql, callback.code, callback.state)  # no Authorization
    assert errors_of(done) == [("NOT_AUTHENTICATED", None)]
    assert done["profile"] is None and done["session"] is None
    assert (await gql(ME, token=token))["me"]["gosuslugiLinked"] is False


async def test_start_with_a_dead_session_is_refused(gql: GraphQLClient) -> None:
    started = await gosuslugi_start(gql, token="not-a-session")
    assert errors_of(started) == [("NOT_AUTHENTICATED", None)] and started["url"] is None


# --- refusals over GraphQL -------------------------------------------------------------------------------------
async def test_a_forged_or_replayed_state_is_a_clear_error(gql: GraphQLClient) -> None:
    started = await gosuslugi_start(gql)
    callback = follow_authorize(started["url"])
    assert callback.code and callback.state

    forged = await gosuslugi_complete(gql, callback.code, "forged-state")
    assert errors_of(forged) == [("INVALID_TOKEN", None)]
    assert forged["errors"][0]["message"] == texts.GOSUSLUGI_STATE_INVALID

    assert (await gosuslugi_complete(gql, callback.code, callback.state))["errors"] == []
    replayed = await gosuslugi_complete(gql, callback.code, callback.state)
    assert errors_of(replayed) == [("INVALID_TOKEN", None)]


async def test_a_bad_id_token_is_a_clear_error(gql: GraphQLClient, oidc_provider: LocalOidcProvider) -> None:
    started = await gosuslugi_start(gql)
    callback = follow_authorize(started["url"])
    oidc_provider.sign_with_other_key()
    assert callback.code and callback.state
    done = await gosuslugi_complete(gql, callback.code, callback.state)
    assert errors_of(done) == [("INVALID_TOKEN", None)]
    assert done["errors"][0]["message"] == texts.GOSUSLUGI_LOGIN_FAILED


async def test_an_unverified_phone_is_a_clear_error(
    gql: GraphQLClient, oidc_provider: LocalOidcProvider
) -> None:
    oidc_provider.person = dataclasses.replace(Person(), phone_number_verified=False)
    done = await through_provider(gql)
    assert errors_of(done) == [("GOSUSLUGI_PHONE_REQUIRED", None)]
    assert done["errors"][0]["message"] == texts.GOSUSLUGI_PHONE_REQUIRED


async def test_provider_down_is_a_clear_error(gql: GraphQLClient, oidc_provider: LocalOidcProvider) -> None:
    oidc_provider.down()
    started = await gosuslugi_start(gql)
    assert errors_of(started) == [("GOSUSLUGI_UNAVAILABLE", None)] and started["url"] is None
    assert started["errors"][0]["message"] == UNAVAILABLE


async def test_long_codes_pass_the_argument_limit_but_not_beyond_it(gql: GraphQLClient) -> None:
    long_code = "c" * 2000  # providers' codes can be signed JWTs
    assert errors_of(await gosuslugi_complete(gql, long_code, "forged")) == [("INVALID_TOKEN", None)]
    assert errors_of(await gosuslugi_complete(gql, "c" * 4097, "forged")) == [("TOO_LONG", None)]


# --- issuer unset -------------------------------------------------------------------------------------------
@pytest.fixture
async def disabled_http(container: Container, database_url: str):
    from eirc.web.app import create_app

    off = dataclasses.replace(container, settings=make_settings(database_url), clients={})
    transport = httpx.ASGITransport(app=create_app(off), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_unset_issuer_answers_not_available_everywhere(disabled_http: httpx.AsyncClient) -> None:
    gql = GraphQLClient(disabled_http)
    started = await gosuslugi_start(gql)
    assert errors_of(started) == [("GOSUSLUGI_UNAVAILABLE", None)] and started["url"] is None
    assert started["errors"][0]["message"] == UNAVAILABLE
    done = await gosuslugi_complete(gql, "code", "state")
    assert errors_of(done) == [("GOSUSLUGI_UNAVAILABLE", None)]

    page = await disabled_http.get("/auth/gosuslugi/login")
    assert page.status_code == 503 and UNAVAILABLE in page.text
    assert page.headers["content-type"].startswith("text/html")


# --- the browser endpoints ---------------------------------------------------------------------------------------
async def browser_login(http: httpx.AsyncClient) -> tuple[httpx.Response, str]:
    response = await http.get("/auth/gosuslugi/login")
    assert response.status_code == 302, response.text
    return response, response.headers["location"]


async def test_browser_sign_in_of_an_unknown_person_continues_the_registration(
    http: httpx.AsyncClient, container: Container, oidc_provider: LocalOidcProvider
) -> None:
    response, location = await browser_login(http)
    assert location.startswith(oidc_provider.issuer + "/authorize?")
    cookie = response.headers["set-cookie"]
    assert "eirc_gosuslugi_state=" in cookie and "HttpOnly" in cookie and "Path=/auth/gosuslugi" in cookie
    assert "samesite=lax" in cookie.lower()
    assert response.headers["cache-control"] == "no-store"

    callback = follow_authorize(location)
    assert urlsplit(callback.url).path == "/auth/gosuslugi/callback"
    page = await http.get(callback.url)  # the client keeps the cookie, as a browser does
    assert page.status_code == 200, page.text
    assert texts.GOSUSLUGI_CONTINUE_TITLE in page.text and "flowId" in page.text  # development page
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert 'eirc_gosuslugi_state=""' in page.headers["set-cookie"]  # spent: the cookie goes

    again = await http.get(callback.url)  # the same callback again (reload): the state is spent
    assert again.status_code == 400 and texts.GOSUSLUGI_STATE_INVALID in again.text


async def test_browser_sign_in_of_a_linked_person(http: httpx.AsyncClient, container: Container) -> None:
    now = container.clock.now()
    async with container.uow() as tx:
        tx.session.add(
            User(
                phone="+79160000001",
                last_name="Сидоров",
                first_name="Петр",
                gosuslugi_sub="esia-1000001",
                created_at=now,
                updated_at=now,
            )
        )
        await tx.commit()
    _response, location = await browser_login(http)
    callback = follow_authorize(location)
    assert "token" not in callback.url.lower()
    page = await http.get(callback.url)
    assert page.status_code == 200 and texts.GOSUSLUGI_SIGNED_IN_TITLE in page.text


async def test_browser_callback_without_the_cookie_is_refused(
    http: httpx.AsyncClient, container: Container
) -> None:
    """A callback link made by someone else (login CSRF) does not sign this browser in."""
    _response, location = await browser_login(http)
    callback = follow_authorize(location)
    http.cookies.clear()
    page = await http.get(callback.url)
    assert page.status_code == 400 and texts.GOSUSLUGI_STATE_INVALID in page.text
    async with container.uow() as tx:
        assert (await tx.session.execute(select(OidcState.used_at))).scalar_one() is None  # untouched


async def test_browser_callback_of_a_declined_sign_in(
    http: httpx.AsyncClient, container: Container, oidc_provider: LocalOidcProvider
) -> None:
    oidc_provider.person = None  # the resident declines at the provider
    _response, location = await browser_login(http)
    callback = follow_authorize(location)
    assert callback.error == "access_denied" and callback.code is None
    page = await http.get(callback.url)
    assert page.status_code == 400 and texts.GOSUSLUGI_CANCELLED_TEXT in page.text
    async with container.uow() as tx:
        assert (await tx.session.execute(select(OidcState.used_at))).scalar_one() is not None  # spent


async def test_browser_callback_without_a_usable_code(http: httpx.AsyncClient) -> None:
    for bad in ("", "x" * 5000):
        _response, location = await browser_login(http)
        callback = follow_authorize(location)
        assert callback.code and callback.state
        url = callback.url.replace(f"code={callback.code}", f"code={bad}")
        assert url != callback.url
        page = await http.get(url)
        assert page.status_code == 400, page.text
        assert texts.GOSUSLUGI_LOGIN_FAILED in page.text
        assert texts.REQUIRED_FIELD not in page.text


async def test_browser_callback_head_does_nothing(http: httpx.AsyncClient, container: Container) -> None:
    _response, location = await browser_login(http)
    callback = follow_authorize(location)
    assert (await http.head(callback.url)).status_code == 200
    async with container.uow() as tx:
        assert (await tx.session.execute(select(OidcState.used_at))).scalar_one() is None


async def test_browser_login_when_the_provider_is_down(
    http: httpx.AsyncClient, oidc_provider: LocalOidcProvider
) -> None:
    oidc_provider.down()
    page = await http.get("/auth/gosuslugi/login")
    assert page.status_code == 503 and UNAVAILABLE in page.text
    assert "set-cookie" not in page.headers


async def test_browser_callback_when_the_provider_fails(
    http: httpx.AsyncClient, oidc_provider: LocalOidcProvider
) -> None:
    _response, location = await browser_login(http)
    callback = follow_authorize(location)
    oidc_provider.token_mode = "error_500"
    page = await http.get(callback.url)
    assert page.status_code == 503 and UNAVAILABLE in page.text

    oidc_provider.down()
    _response, location = await browser_login(http)  # discovery is cached: the URL needs no call
    state = http.cookies["eirc_gosuslugi_state"]
    page = await http.get("/auth/gosuslugi/callback", params={"code": "x", "state": state})
    assert page.status_code == 503 and UNAVAILABLE in page.text
