"""Fuzzing at the door (issue 10): hypothesis-graphql generates queries AND mutations from `schema.graphql`
— valid ones and ones with a schema violation — and sends them over HTTP to the app (SQLite). No answer may
be a 5xx or a masked internal error, and a resident registered before the run signs in afterwards with the
same password, their data unchanged.

Bounded and reproducible: `EIRC_FUZZ_EXAMPLES` examples (300 by default), derandomized, no example
database, no deadline.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import graphql
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema
from sqlalchemy import select

from eirc.bootstrap import build_container
from eirc.clock import FrozenClock
from eirc.security import PasswordHasher
from eirc.storage.migrate import upgrade
from eirc.storage.tables import User, UserAddress
from tests.conftest import GraphQLClient, make_settings
from tests.registration_kit import register, seed_billing

EXAMPLES = int(os.environ.get("EIRC_FUZZ_EXAMPLES", "300"))
SDL = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text(encoding="utf-8")
PHONE = "+79161234567"
PASSWORD = "Parol2024a"
LOGIN = "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { session { token } errors { code } } }"


def _string_node(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[graphql.StringValueNode]:
    return strategy.map(lambda value: graphql.StringValueNode(value=value))


DATE = _string_node(st.one_of(st.dates().map(lambda d: d.isoformat()), st.text(max_size=12)))
DATETIME = _string_node(st.one_of(st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=20)))
SCALARS = {"Date": DATE, "DateTime": DATETIME}
DOCUMENTS = st.one_of(
    from_schema(SDL, custom_scalars=SCALARS),
    from_schema(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE),
)


async def _snapshot(c) -> tuple:
    async with c.uow() as tx:
        user = (await tx.session.execute(select(User).where(User.phone == PHONE))).scalar_one()
        addresses = (
            await tx.session.execute(select(UserAddress).where(UserAddress.user_id == user.id))
        ).scalars()
        keep = (
            "id",
            "phone",
            "password_hash",
            "last_name",
            "first_name",
            "middle_name",
            "email",
            "email_confirmed",
        )
        return tuple(getattr(user, k) for k in keep), sorted(
            (a.account_number, a.primary, a.ebill) for a in addresses
        )


def test_fuzzed_queries_and_mutations_never_break_the_door(tmp_path: Path) -> None:
    from eirc.web.app import create_app

    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    upgrade(url)
    container = build_container(make_settings(url), clock=FrozenClock(), hasher=PasswordHasher())
    app = create_app(container)
    loop = asyncio.new_event_loop()

    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    fuzzer = client("10.1.0.1")
    try:
        resident = client("10.1.0.2")
        loop.run_until_complete(seed_billing(container))
        loop.run_until_complete(register(GraphQLClient(resident), container, PHONE, PASSWORD))
        before = loop.run_until_complete(_snapshot(container))
        failures: list[tuple[int, str, str]] = []

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(document=DOCUMENTS)
        def send(document: str) -> None:
            response = loop.run_until_complete(fuzzer.post("/graphql", json={"query": document}))
            internal = response.status_code == 200 and "INTERNAL" in response.text
            if response.status_code >= 500 or internal:
                failures.append((response.status_code, document, response.text[:500]))
            assert response.status_code < 500, (document, response.text)
            assert not internal, (document, response.text)

        send()
        assert failures == []

        # The resident is untouched and still signs in (from their own address: the fuzzer's is throttled).
        assert loop.run_until_complete(_snapshot(container)) == before
        answer = loop.run_until_complete(GraphQLClient(resident)(LOGIN, {"l": PHONE, "p": PASSWORD}))["login"]
        assert answer["errors"] == [] and answer["session"]["token"]
        loop.run_until_complete(resident.aclose())
    finally:
        loop.run_until_complete(fuzzer.aclose())
        loop.run_until_complete(container.dispose())
        loop.close()
