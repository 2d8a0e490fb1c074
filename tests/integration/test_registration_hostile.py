"""Hostile strings in every argument of every registration mutation (SPEC §10): always a payload with
UserErrors (or a clean success), never a GraphQL error, never a 5xx — on both backends (PostgreSQL refuses
NUL bytes and no driver encodes a lone surrogate, so these must be refused before they reach a query)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import GraphQLClient
from tests.registration_kit import (
    CONFIRM_ADDRESS,
    CONFIRM_CODE,
    CONFIRM_EMAIL,
    FLOW,
    GO_BACK,
    PERSONAL,
    PERSONAL_DEFAULTS,
    RESEND,
    SET_PASSWORD,
    START,
    prove,
    seed_billing,
    to_account_step,
    to_password_step,
)


class AsciiJsonClient(GraphQLClient):
    """Sends the JSON body ASCII-escaped, so lone surrogates travel as `\\ud800` as a hostile client sends them."""

    async def __call__(self, query: str, variables: dict | None = None, *, token: str | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}, ensure_ascii=True)
        response = await self.http.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.text
        document = response.json()
        assert "errors" not in document, document["errors"]
        return document["data"]

    async def raw(self, query: str, variables: dict | None = None) -> dict:
        """The whole answer (data and errors)."""
        body = json.dumps({"query": query, "variables": variables or {}}, ensure_ascii=True)
        response = await self.http.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def gql(http):
    return AsciiJsonClient(http)


HOSTILE = [
    "\x00",
    "12\x0034",
    "\ud800",
    "a\udfffb",
    "٣٤٥٦",
    "１２３４",
    "\u202e1234",
    "' OR 1=1 --",
    "${jndi:x}",
    " " * 64,
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_strings_everywhere(gql, container, value):
    await seed_billing(container)
    answer = (await gql(START, {"phone": value, "consent": True}))["startPhone"]
    assert answer["errors"] and answer["flow"] is None

    flow_id = await to_account_step(gql, container)
    assert (await gql(CONFIRM_CODE, {"id": value, "code": "1234"}))["confirmCode"]["errors"]
    assert (await gql(RESEND, {"id": value}))["resendCode"]["errors"]
    # a query has no payload for a UserError: text no database can take is a clear GraphQL error there
    answer = await gql.raw(FLOW, {"id": value})
    assert (answer.get("data") or {}).get("flow") is None
    assert all("INTERNAL" not in str(e) for e in answer.get("errors") or [])
    for field in ("period", "account", "amount"):
        answer = await prove(gql, flow_id, **{field: value})
        assert answer["errors"], answer
        assert answer["flow"] is None or answer["flow"]["step"] == "ACCOUNT"  # None: refused at the door
    assert (await prove(gql, flow_id))["errors"] == []
    assert (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]["errors"] == []
    for field in ("last", "first", "middle", "email"):
        answer = (await gql(PERSONAL, {"id": flow_id, **{**PERSONAL_DEFAULTS, field: value}}))[
            "setPersonalData"
        ]
        if not answer["errors"]:  # e.g. a name in another script: a name after all
            assert "\x00" not in value and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
            assert (await gql(GO_BACK, {"id": flow_id}))["goBack"]["flow"]["step"] == "PERSONAL"
    assert (await gql(CONFIRM_EMAIL, {"token": value}))["confirmEmail"]["errors"]


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_passwords_and_codes(gql, container, value):
    await seed_billing(container)
    flow_id = await to_password_step(gql, container)
    answer = (await gql(SET_PASSWORD, {"id": flow_id, "password": value}))["setPassword"]
    assert answer["errors"] and answer["session"] is None
    other = (await gql(START, {"phone": "+79031234567", "consent": True}))["startPhone"]["flow"]["id"]
    answer = (await gql(CONFIRM_CODE, {"id": other, "code": value}))["confirmCode"]
    assert answer["errors"] and (answer["flow"] is None or answer["flow"]["step"] == "CODE")
