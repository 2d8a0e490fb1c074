"""Text no library downstream can take — a NUL (PostgreSQL refuses it), a lone UTF-16 surrogate (valid in
JSON, not encodable as UTF-8: argon2, the drivers and the logs would raise) — is refused as a UserError
(`INVALID_INPUT` on the argument) in every string argument of every mutation, on both databases (issue 17).
Queries answer a clear GraphQL error. Nothing is stored, nothing is hashed, no answer is a 5xx."""

from __future__ import annotations

import json

import pytest

from eirc.graphql.errors import screen_field
from tests.e2e.test_door_lengths import SAMPLE, _named, _string_arguments, _type_ref

UNUSABLE = {"nul": "+7916\x001234567", "lone surrogate": "ab\ud800cd"}


@pytest.fixture
def no_hashing(container, monkeypatch):
    calls: list[str] = []

    async def refuse(*_args, **_kwargs):
        calls.append("hasher")
        raise AssertionError("the password hasher ran on unusable text")

    monkeypatch.setattr(container.hasher, "hash", refuse)
    monkeypatch.setattr(container.hasher, "verify", refuse)
    return calls


@pytest.mark.parametrize("kind", sorted(UNUSABLE))
async def test_every_string_argument_refuses_unusable_text(http, no_hashing, kind):
    bad = UNUSABLE[kind]
    failures = []
    for operation, name, field, argument, selection in await _string_arguments(http):
        variables, declared, passed = {}, [], []
        for arg in field["args"]:
            type_name, _, required = _named(arg["type"])
            if not required and arg["name"] != argument:
                continue
            declared.append(f"${arg['name']}: {_type_ref(arg['type'])}")
            passed.append(f"{arg['name']}: ${arg['name']}")
            variables[arg["name"]] = bad if arg["name"] == argument else SAMPLE[type_name]
        document = f"{operation}({', '.join(declared)}) {{ {name}({', '.join(passed)}) {selection} }}"
        # ensure_ascii: a lone surrogate travels as the JSON escape `\ud800`, as a hostile client sends it
        raw = json.dumps({"query": document, "variables": variables}, ensure_ascii=True)
        response = await http.post("/graphql", content=raw, headers={"content-type": "application/json"})
        body = response.json()
        if response.status_code != 200 or any("INTERNAL" in str(e) for e in body.get("errors") or []):
            failures.append((name, argument, response.status_code, body))
            continue
        if operation == "mutation":
            payload = (body.get("data") or {}).get(name) or {}
            codes = [(e["code"], e["field"]) for e in payload.get("errors", [])]
            if codes != [("INVALID_INPUT", screen_field(argument, name))]:
                failures.append((name, argument, body))
        else:
            messages = [e["message"] for e in body.get("errors", [])]
            if not any(m.startswith(f"{argument}:") for m in messages):
                failures.append((name, argument, body))
    assert failures == []
    assert no_hashing == []


async def test_a_password_the_hasher_cannot_take_never_locks_a_resident_out(http, gql, container, clock):
    """Even past the door (the hasher raising inside a sign-in), the counters end as a wrong password would:
    the lock that comes has its end, and then the right password signs in."""
    from tests.e2e.signin_helpers import PASSWORD, PHONE, make_user

    await make_user(container)
    real = container.hasher.verify

    async def broken(*_args, **_kwargs):
        raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")

    container.hasher.verify = broken  # type: ignore[method-assign]
    login = 'mutation($p: String!) { login(login: "%s", password: $p) { session { token } errors { code } } }'
    try:
        for _ in range(container.settings.login_max_failures + 2):  # each a masked internal error
            response = await http.post(
                "/graphql", json={"query": login % PHONE, "variables": {"p": "Good7pass"}}
            )
            assert response.status_code == 200
    finally:
        container.hasher.verify = real  # type: ignore[method-assign]
    locked = await gql(login % PHONE, {"p": PASSWORD})
    assert [e["code"] for e in locked["login"]["errors"]] == ["LOGIN_LOCKED"]
    clock.advance(container.settings.login_lockout_seconds + 1)
    again = await gql(login % PHONE, {"p": PASSWORD})
    assert again["login"]["errors"] == [] and again["login"]["session"]["token"]
