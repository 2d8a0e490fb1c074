"""Per-client-address limits of the public mutations (issue 10, SPEC §11): `forgotPassword` and
`proveAccount` (new), on the one mechanism (services.throttle) that `startPhone` and `gosuslugiStart` use;
database counters, so they hold across gateway processes — run on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import GraphQLClient
from tests.registration_kit import prove, seed_billing, to_account_step

FORGOT = "mutation($l: String!) { forgotPassword(login: $l) { flow { id } errors { code field message } } }"


@pytest.fixture
def settings_overrides():
    return {"forgot_password_per_client_per_hour": 3, "prove_account_per_client_per_hour": 2}


async def _client(app, address: str):
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def _codes(payload: dict) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def test_forgot_password_per_client_address(app, gql, clock):
    logins = ["+79160000001", "nobody@example.com", "+79160000002"]
    for login in logins:  # known or not, each call counts alike
        assert _codes((await gql(FORGOT, {"l": login}))["forgotPassword"]) == []
    refused = (await gql(FORGOT, {"l": "+79160000003"}))["forgotPassword"]
    assert _codes(refused) == [("RATE_LIMITED", "login")] and refused["flow"] is None
    assert refused["errors"][0]["message"].startswith("Слишком много запросов")

    async with await _client(app, "10.0.0.2") as other:  # another address has its own window
        assert _codes((await GraphQLClient(other)(FORGOT, {"l": "+79160000004"}))["forgotPassword"]) == []

    clock.advance(3601)
    assert _codes((await gql(FORGOT, {"l": "+79160000005"}))["forgotPassword"]) == []


async def test_prove_account_per_client_address(app, container, gql):
    await seed_billing(container)
    flow_a = await to_account_step(gql, container, "+79161110001")
    flow_b = await to_account_step(gql, container, "+79161110002")
    assert _codes(await prove(gql, flow_a, amount="1,00")) == [("AMOUNT_MISMATCH", "amountDue")]
    assert _codes(await prove(gql, flow_b, amount="2,00")) == [("AMOUNT_MISMATCH", "amountDue")]
    # A third guess from the same address, in a third flow or the first, is refused before any comparison —
    # even a right one.
    assert _codes(await prove(gql, flow_a)) == [("RATE_LIMITED", "accountNumber")]
    async with await _client(app, "10.0.0.3") as other:  # the limit is the address's, not the flow's
        done = await prove(GraphQLClient(other), flow_b)
    assert _codes(done) == [] and done["flow"]["step"] == "ADDRESS"
