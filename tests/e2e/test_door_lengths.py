"""Every string argument of every query and mutation has a length limit, checked before any work
(issue 10, SPEC §10). The list of arguments comes from the schema by introspection, so a new mutation or
argument is covered without touching this file.

A 100,000-character value (Cyrillic: 200 KB of UTF-8) is over the 64 KiB body limit, so the door answers
413 first; with the body limit raised, the argument check answers `TOO_LONG` on the argument — and the
password hasher is never reached.
"""

from __future__ import annotations

import pytest

from eirc.graphql.errors import screen_field
from eirc.storage.migrate import upgrade

HUGE = "я" * 100_000

INTROSPECT = """
{ __schema {
    queryType { name } mutationType { name }
    types { name kind fields { name
      args { name type { kind name ofType { kind name ofType { kind name } } } }
      type { kind name ofType { kind name ofType { kind name } } } } }
} }"""

SAMPLE = {
    "String": "x",
    "ID": "x",
    "Boolean": True,
    "Int": 1,
    "Date": "2000-01-01",
    "DateTime": "2020-01-01T00:00:00Z",
}


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('lengths') / 'eirc.db'}"
    upgrade(url)
    return url


@pytest.fixture
def settings_overrides():
    return {"max_body_bytes": 1024 * 1024}


@pytest.fixture
def no_hashing(container, monkeypatch):
    calls: list[str] = []

    async def refuse(*_args, **_kwargs):
        calls.append("hasher")
        raise AssertionError("the password hasher ran on an over-long argument")

    def refuse_sync(*_args, **_kwargs):
        calls.append("hasher")
        raise AssertionError("the password hasher ran on an over-long argument")

    monkeypatch.setattr(container.hasher, "hash", refuse)
    monkeypatch.setattr(container.hasher, "verify", refuse)
    monkeypatch.setattr(container.hasher, "hash_sync", refuse_sync)
    monkeypatch.setattr(container.hasher, "verify_sync", refuse_sync)
    return calls


def _named(t: dict) -> tuple[str, str, bool]:
    """(type name, kind, required) of an argument or field type."""
    required = t["kind"] == "NON_NULL"
    while t.get("ofType"):
        t = t["ofType"]
    return t["name"], t["kind"], required


def _type_ref(t: dict) -> str:
    if t["kind"] == "NON_NULL":
        return _type_ref(t["ofType"]) + "!"
    if t["kind"] == "LIST":
        return "[" + _type_ref(t["ofType"]) + "]"
    return t["name"]


async def _string_arguments(http) -> list[tuple[str, str, dict, str, str]]:
    """(operation, field, field introspection, argument, selection) for every String/ID argument."""
    data = (await http.post("/graphql", json={"query": INTROSPECT})).json()["data"]["__schema"]
    types = {t["name"]: t for t in data["types"]}
    found = []
    for operation, root in (("query", data["queryType"]), ("mutation", data["mutationType"])):
        for field in types[root["name"]]["fields"]:
            returned, kind, _ = _named(field["type"])
            if kind == "OBJECT":
                names = {f["name"] for f in types[returned]["fields"]}
                selection = "{ errors { code field message } }" if "errors" in names else "{ __typename }"
            else:
                selection = ""
            for arg in field["args"]:
                if _named(arg["type"])[0] in ("String", "ID"):
                    found.append((operation, field["name"], field, arg["name"], selection))
    return found


async def test_every_string_argument_is_refused_too_long_before_any_work(http, no_hashing):
    arguments = await _string_arguments(http)
    fields = {(op, f) for op, f, *_ in arguments}
    # The introspection really found the public surface (a sanity floor, not a list to maintain).
    assert {
        ("mutation", "login"),
        ("mutation", "setPassword"),
        ("mutation", "changePassword"),
        ("query", "flow"),
    } <= fields
    assert len(arguments) >= 30

    failures = []
    for operation, name, field, argument, selection in arguments:
        variables, declared, passed = {}, [], []
        for arg in field["args"]:
            type_name, _, required = _named(arg["type"])
            if not required and arg["name"] != argument:
                continue
            declared.append(f"${arg['name']}: {_type_ref(arg['type'])}")
            passed.append(f"{arg['name']}: ${arg['name']}")
            variables[arg["name"]] = HUGE if arg["name"] == argument else SAMPLE[type_name]
        document = f"{operation}({', '.join(declared)}) {{ {name}({', '.join(passed)}) {selection} }}"
        response = await http.post("/graphql", json={"query": document, "variables": variables})
        if response.status_code != 200:
            failures.append((name, argument, response.status_code))
            continue
        body = response.json()
        if operation == "mutation":
            payload = (body.get("data") or {}).get(name) or {}
            codes = [(e["code"], e["field"]) for e in payload.get("errors", [])]
            if codes != [("TOO_LONG", screen_field(argument, name))]:
                failures.append((name, argument, body))
        else:
            messages = [e["message"] for e in body.get("errors", [])]
            if not any(m.startswith(f"{argument}:") and "длин" in m.lower() for m in messages):
                failures.append((name, argument, body))
    assert failures == []
    assert no_hashing == []


async def test_with_the_default_body_limit_the_door_answers_413(container, http, monkeypatch):
    monkeypatch.setattr(container.settings, "max_body_bytes", 64 * 1024)
    import httpx

    from eirc.web.app import create_app

    app = create_app(container)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/graphql",
            json={
                "query": "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { errors { code } } }",
                "variables": {"l": "+79161234567", "p": HUGE},
            },
        )
    assert response.status_code == 413
