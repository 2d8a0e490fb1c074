"""What a gateway in production shows a stranger (issue 17): no GraphiQL and no introspection unless
EIRC_GRAPHIQL turns them on; names keep no bidirectional controls that would make support's tables lie."""

from __future__ import annotations

import httpx
import pytest

from eirc.bootstrap import build_container
from eirc.web.app import create_app
from tests.conftest import make_settings
from tests.registration_kit import PERSONAL, PERSONAL_DEFAULTS, prove, seed_billing, to_account_step

INTROSPECTION = "{ __schema { queryType { name } } }"


async def _client(database_url: str, **overrides) -> tuple[httpx.AsyncClient, object]:
    container = build_container(make_settings(database_url, **overrides))
    app = create_app(container)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver"), container


@pytest.mark.parametrize(
    ("overrides", "open_"),
    [({"env": "production"}, False), ({"env": "production", "graphiql": True}, True), ({}, True)],
    ids=["production", "production, EIRC_GRAPHIQL=true", "development"],
)
async def test_graphiql_and_introspection(database_url, overrides, open_):
    client, container = await _client(database_url, **overrides)
    try:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        introspected = (await client.post("/graphql", json={"query": INTROSPECTION})).json()
        trivial = (await client.post("/graphql", json={"query": "{ __typename }"})).json()
    finally:
        await client.aclose()
        await container.dispose()
    assert ("graphiql" in page.text.lower() and page.status_code == 200) is open_
    assert ("errors" not in introspected) is open_
    assert trivial == {"data": {"__typename": "Query"}}


async def test_names_lose_bidirectional_controls(gql, container):
    await seed_billing(container)
    flow_id = await to_account_step(gql, container)
    assert (await prove(gql, flow_id))["errors"] == []
    await gql("mutation($id: ID!) { confirmAddress(flowId: $id) { flow { step } } }", {"id": flow_id})
    answer = (
        await gql(PERSONAL, {"id": flow_id, **PERSONAL_DEFAULTS, "last": "Пет\u202eвор", "first": "\u2066Иван\u2069"})
    )["setPersonalData"]
    assert answer["errors"] == []
    assert (answer["flow"]["data"]["lastName"], answer["flow"]["data"]["firstName"]) == ("Петвор", "Иван")
