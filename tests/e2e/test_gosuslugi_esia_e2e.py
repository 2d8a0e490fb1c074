"""Госуслуги through ЕСИА over GraphQL and the browser endpoints (CONTRACT §3, §4a), against the local ЕСИА
(tests/esia_provider.py), on both backends: `gosuslugiStart` → ЕСИА's v2/ac → `gosuslugiComplete`, and
`/auth/gosuslugi/login` → the callback — the three outcomes and the refusals."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from eirc.bootstrap import Container
from eirc.domain import texts
from eirc.storage.tables import OidcState, User
from tests.conftest import GraphQLClient
from tests.esia_provider import (
    OID,
    PROVIDER_PHONE,
    EsiaPerson,
    FakeEsia,
    contact,
    esia_material_fixture,  # noqa: F401  (the `esia_material` fixture)
    esia_provider_fixture,  # noqa: F401  (the `esia_provider` fixture)
    esia_settings_fixture,  # noqa: F401  (the `esia_settings` fixture)
    follow_authorize,
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


@pytest.fixture
def settings_overrides(esia_settings: dict[str, Any]) -> dict[str, Any]:
    return esia_settings


async def gosuslugi_start(gql: GraphQLClient, *, token: str | None = None) -> dict:
    return (await gql(START, token=token))["gosuslugiStart"]


async def gosuslugi_complete(gql: GraphQLClient, code: str, state: str, *, token: str | None = None) -> dict:
    return (await gql(COMPLETE, {"code": code, "state": state}, token=token))["gosuslugiComplete"]


async def through_esia(gql: GraphQLClient, *, token: str | None = None) -> dict:
    started = await gosuslugi_start(gql, token=token)
    assert started["errors"] == [] and started["url"], started
    callback = follow_authorize(started["url"])
    assert callback.code and callback.state, callback
    return await gosuslugi_complete(gql, callback.code, callback.state, token=token)


# --- the three outcomes over GraphQL --------------------------------------------------------------------------
async def test_an_unknown_resident_registers_prefilled_without_an_sms_and_signs_in_again(
    gql: GraphQLClient, container: Container, esia_provider: FakeEsia
) -> None:
    await seed_billing(container)
    done = await through_esia(gql)

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
    assert (data["birthDate"], data["email"]) == ("1985-04-12", "ivan.petrov@gosuslugi.example")
    assert len(esia_provider.verified_signatures) == 2  # v2/ac and v3/te, both verified by OpenSSL

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
    assert (await gql(PERSONAL, personal))["setPersonalData"]["errors"] == []
    finished = (await gql(SET_PASSWORD, {"id": flow_id, "password": "Parol2024a"}))["setPassword"]
    assert finished["errors"] == [] and finished["profile"]["gosuslugiLinked"] is True
    async with container.uow() as tx:
        user = (await tx.session.execute(select(User))).scalar_one()
        assert (user.gosuslugi_sub, user.source, user.phone) == (OID, "gosuslugi", PROVIDER_PHONE)

    again = await through_esia(gql)
    assert again["errors"] == [] and again["flow"] is None
    assert again["profile"]["id"] == finished["profile"]["id"]
    assert (await gql(ME, token=again["session"]["token"]))["me"]["gosuslugiLinked"] is True


async def test_a_signed_in_resident_links_the_profile_then_signs_in_with_it(
    gql: GraphQLClient, container: Container
) -> None:
    await seed_billing(container)
    token = (await register(gql, container))["session"]["token"]
    linked = await through_esia(gql, token=token)
    assert (
        linked["errors"] == [] and linked["session"] is None and linked["profile"]["gosuslugiLinked"] is True
    )
    signed_in = await through_esia(gql)
    assert signed_in["errors"] == [] and signed_in["profile"]["id"] == linked["profile"]["id"]
    assert signed_in["session"]["token"] != token


# --- refusals over GraphQL -------------------------------------------------------------------------------------
async def test_a_forged_or_replayed_state_is_a_clear_error(
    gql: GraphQLClient, esia_provider: FakeEsia
) -> None:
    started = await gosuslugi_start(gql)
    callback = follow_authorize(started["url"])
    assert callback.code and callback.state

    forged = await gosuslugi_complete(gql, callback.code, "0b9a4b0e-7c43-4a8e-9f0e-3c2d1a0b9c8d")
    assert errors_of(forged) == [("INVALID_TOKEN", None)]
    assert forged["errors"][0]["message"] == texts.GOSUSLUGI_STATE_INVALID
    assert esia_provider.received("/aas/oauth2/v3/te") == []

    assert (await gosuslugi_complete(gql, callback.code, callback.state))["errors"] == []
    replayed = await gosuslugi_complete(gql, callback.code, callback.state)
    assert errors_of(replayed) == [("INVALID_TOKEN", None)]
    assert len(esia_provider.received("/aas/oauth2/v3/te")) == 1


async def test_a_bad_token_signature_is_a_clear_error(gql: GraphQLClient, esia_provider: FakeEsia) -> None:
    started = await gosuslugi_start(gql)
    callback = follow_authorize(started["url"])
    esia_provider.sign_with_other_key = True
    assert callback.code and callback.state
    done = await gosuslugi_complete(gql, callback.code, callback.state)
    assert errors_of(done) == [("INVALID_TOKEN", None)]
    assert done["errors"][0]["message"] == texts.GOSUSLUGI_LOGIN_FAILED


async def test_an_unverified_mobile_is_a_clear_error(gql: GraphQLClient, esia_provider: FakeEsia) -> None:
    esia_provider.persons[OID] = dataclasses.replace(
        EsiaPerson(), contacts=[contact("MBT", "+7(916)7654321", verified=False)]
    )
    done = await through_esia(gql)
    assert errors_of(done) == [("GOSUSLUGI_PHONE_REQUIRED", None)]
    assert done["errors"][0]["message"] == texts.GOSUSLUGI_PHONE_REQUIRED


async def test_esia_down_is_a_clear_error(gql: GraphQLClient, esia_provider: FakeEsia) -> None:
    started = await gosuslugi_start(gql)  # the URL needs no call to ЕСИА: it is signed locally
    callback = follow_authorize(started["url"])
    esia_provider.down()
    assert callback.code and callback.state
    done = await gosuslugi_complete(gql, callback.code, callback.state)
    assert errors_of(done) == [("GOSUSLUGI_UNAVAILABLE", None)]


# --- the browser endpoints ---------------------------------------------------------------------------------------
async def browser_login(http: httpx.AsyncClient) -> str:
    response = await http.get("/auth/gosuslugi/login")
    assert response.status_code == 302, response.text
    assert "eirc_gosuslugi_state=" in response.headers["set-cookie"]
    return response.headers["location"]


async def test_browser_sign_in_of_an_unknown_resident_continues_the_registration(
    http: httpx.AsyncClient, esia_provider: FakeEsia
) -> None:
    location = await browser_login(http)
    assert location.startswith(esia_provider.url + "/aas/oauth2/v2/ac?")
    callback = follow_authorize(location)
    assert urlsplit(callback.url).path == "/auth/gosuslugi/callback"
    page = await http.get(callback.url)
    assert page.status_code == 200, page.text
    assert texts.GOSUSLUGI_CONTINUE_TITLE in page.text and "flowId" in page.text

    again = await http.get(callback.url)  # replayed: the state is spent
    assert again.status_code == 400 and texts.GOSUSLUGI_STATE_INVALID in again.text


async def test_browser_sign_in_of_a_linked_person(http: httpx.AsyncClient, container: Container) -> None:
    now = container.clock.now()
    async with container.uow() as tx:
        tx.session.add(
            User(
                phone="+79160000001",
                last_name="Сидоров",
                first_name="Петр",
                gosuslugi_sub=OID,
                created_at=now,
                updated_at=now,
            )
        )
        await tx.commit()
    callback = follow_authorize(await browser_login(http))
    page = await http.get(callback.url)
    assert page.status_code == 200 and texts.GOSUSLUGI_SIGNED_IN_TITLE in page.text


async def test_browser_callback_with_a_forged_state_is_refused(
    http: httpx.AsyncClient, container: Container
) -> None:
    callback = follow_authorize(await browser_login(http))
    forged = callback.url.replace(f"state={callback.state}", "state=0b9a4b0e-7c43-4a8e-9f0e-3c2d1a0b9c8d")
    page = await http.get(forged)
    assert page.status_code == 400 and texts.GOSUSLUGI_STATE_INVALID in page.text
    async with container.uow() as tx:
        assert (await tx.session.execute(select(OidcState.used_at))).scalar_one() is None  # untouched


async def test_browser_callback_of_a_signature_esia_refused(
    http: httpx.AsyncClient, esia_provider: FakeEsia
) -> None:
    esia_provider.certificates.clear()  # the certificate is not (or no longer) registered at ЕСИА
    callback = follow_authorize(await browser_login(http))
    assert callback.error == "invalid_client" and callback.code is None
    page = await http.get(callback.url)
    assert page.status_code == 400 and texts.GOSUSLUGI_CANCELLED_TEXT in page.text


async def test_browser_callback_of_an_unverified_mobile(
    http: httpx.AsyncClient, esia_provider: FakeEsia
) -> None:
    esia_provider.persons[OID] = dataclasses.replace(EsiaPerson(), contacts=[])
    page = await http.get(follow_authorize(await browser_login(http)).url)
    assert page.status_code == 400 and texts.GOSUSLUGI_PHONE_REQUIRED in page.text


async def test_browser_callback_when_esia_fails(http: httpx.AsyncClient, esia_provider: FakeEsia) -> None:
    callback = follow_authorize(await browser_login(http))
    esia_provider.token_mode = "error_500"
    page = await http.get(callback.url)
    assert page.status_code == 503 and "Вход через портал Госуслуги сейчас недоступен" in page.text
