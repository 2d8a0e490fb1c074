"""The HTTP and GraphQL door (issue 10, SPEC §10): broken, oversized, batched, GET-mutation and cross-origin
requests get a clear 4xx — never a 5xx; the real screens' biggest documents pass the GraphQL limits and
abuse does not; an unexpected exception reaches the client as a generic message with the request id.

HTTP-level: run on SQLite only (the door does not touch the database's dialect).
"""

from __future__ import annotations

import logging

import httpx
import pytest
from graphql import get_introspection_query

from eirc.graphql import limits
from eirc.storage.migrate import upgrade
from eirc.web.guard import MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_QUERY_STRING_BYTES
from tests.e2e.signin_helpers import CountingVerify, make_user
from tests.registration_kit import ME, SET_PASSWORD

INTERNAL = "Внутренняя ошибка. Код запроса: "


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('door') / 'eirc.db'}"
    upgrade(url)
    return url


@pytest.fixture
def settings_overrides():
    return {"cors_origins": "https://lk.example, https://m.lk.example"}


def _refusal(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    message = body["errors"][0]["message"]
    assert fragment.lower() in message.lower(), message
    assert body["errors"][0]["extensions"]["requestId"] == response.headers["x-request-id"]


JSON = {"content-type": "application/json"}


# --- HTTP ------------------------------------------------------------------------------------------------
async def test_a_body_over_the_limit_is_413_declared_or_streamed(http):
    big = b'{"query": "{ passwordRules }", "pad": "' + b"a" * (64 * 1024) + b'"}'
    _refusal(await http.post("/graphql", content=big, headers=JSON), 413, "over 65536 bytes")

    async def chunks():
        for _ in range(20):
            yield b"a" * 8192

    _refusal(await http.post("/graphql", content=chunks(), headers=JSON), 413, "over 65536 bytes")


@pytest.mark.parametrize(
    ("content", "headers", "status", "fragment"),
    [
        (b'{"query": "{ passwordRules \xff }"}', JSON, 400, "not valid UTF-8"),
        (b'{"query": ', JSON, 400, "not valid JSON"),
        (b"", JSON, 400, "not valid JSON"),
        (b"", {}, 400, "as JSON"),
        (b'[{"query": "{ passwordRules }"}, {"query": "{ passwordRules }"}]', JSON, 400, "Batched"),
        (b"[]", JSON, 400, "Batched"),
        (b"42", JSON, 400, "JSON object"),
        (b'"{ passwordRules }"', JSON, 400, "JSON object"),
        (b"{}", JSON, 400, "no `query`"),
        (b'{"query": 5}', JSON, 400, "no `query`"),
        (b'{"query": "{ passwordRules }", "variables": [1, 2]}', JSON, 400, "`variables`"),
        (b'{"query": "{ passwordRules }", "variables": "x"}', JSON, 400, "`variables`"),
        (b'{"query": "{ passwordRules }", "operationName": 5}', JSON, 400, "`operationName`"),
        (b'{"query": "{ passwordRules }", "extensions": "x"}', JSON, 400, "`extensions`"),
        (
            b"query=%7B+passwordRules+%7D",
            {"content-type": "application/x-www-form-urlencoded"},
            415,
            "as JSON",
        ),
        (b'{"query": "{ passwordRules }"}', {"content-type": "text/plain"}, 415, "as JSON"),
        (b"{}", {"content-type": "application/json", "content-length": "abc"}, 400, "Content-Length"),
    ],
)
async def test_broken_requests_are_a_clear_4xx(http, content, headers, status, fragment):
    _refusal(await http.post("/graphql", content=content, headers=headers), status, fragment)


async def test_a_multipart_upload_is_refused(http):
    response = await http.post(
        "/graphql",
        data={"operations": '{"query": "mutation { logout }"}', "map": "{}"},
        files={"0": ("a.bin", b"\x00\x01" * 100, "application/octet-stream")},
    )
    _refusal(response, 415, "as JSON")


async def test_an_operation_name_pointing_nowhere_and_odd_variables(http):
    response = await http.post("/graphql", json={"query": "query A { passwordRules }", "operationName": "B"})
    assert response.status_code == 400 and "Unknown operation" in response.text
    response = await http.post(
        "/graphql", json={"query": "query($id: ID!) { flow(id: $id) { id } }", "variables": {"id": {"a": 1}}}
    )
    assert response.status_code == 200 and response.json()["data"] is None
    response = await http.post(
        "/graphql", json={"query": "{ passwordRules }", "variables": {"unused": [1] * 50}}
    )
    assert response.status_code == 200 and response.json()["data"]["passwordRules"]


async def test_mutations_only_over_post(http, container, monkeypatch):
    verify = CountingVerify(container, monkeypatch)
    login = 'mutation { login(login: "+79161234567", password: "Secret7a") { errors { code } } }'
    _refusal(await http.get("/graphql", params={"query": login}), 405, "only over POST")
    both = "query A { passwordRules } " + login.replace("mutation", "mutation B")
    _refusal(await http.get("/graphql", params={"query": both, "operationName": "A"}), 405, "only over POST")
    assert verify.calls == 0
    ok = await http.get("/graphql", params={"query": "{ passwordRules }"})
    assert ok.status_code == 200 and ok.json()["data"]["passwordRules"]
    assert (await http.put("/graphql", json={"query": "{ passwordRules }"})).status_code == 405
    assert (await http.delete("/graphql")).status_code == 405


async def test_headers_and_query_string_limits(http):
    many = {f"x-h{i}": "v" for i in range(MAX_HEADER_COUNT + 1)}
    _refusal(await http.post("/graphql", json={"query": "{ passwordRules }"}, headers=many), 431, "headers")
    huge = {"x-big": "a" * MAX_HEADER_BYTES}
    _refusal(await http.post("/graphql", json={"query": "{ passwordRules }"}, headers=huge), 431, "headers")
    long_query = "{ passwordRules" + " " * MAX_QUERY_STRING_BYTES + "}"
    _refusal(await http.get("/graphql", params={"query": long_query}), 414, "Query string")
    # An Authorization header of any length is cut, never a 5xx.
    response = await http.post(
        "/graphql", json={"query": ME}, headers={"authorization": "Bearer " + "a" * 10000}
    )
    assert response.status_code == 200 and response.json()["data"]["me"] is None


async def test_cors_preflight_allowed_and_refused_origins(http):
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
    }
    ok = await http.options("/graphql", headers={"Origin": "https://lk.example", **preflight})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://lk.example"
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()

    refused = await http.options("/graphql", headers={"Origin": "https://evil.example", **preflight})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers

    # A simple request from a refused origin is answered, but a browser gets no permission to read it.
    post = await http.post(
        "/graphql", json={"query": "{ passwordRules }"}, headers={"Origin": "https://evil.example"}
    )
    assert post.status_code == 200 and "access-control-allow-origin" not in post.headers
    mine = await http.post(
        "/graphql", json={"query": "{ passwordRules }"}, headers={"Origin": "https://m.lk.example"}
    )
    assert mine.headers["access-control-allow-origin"] == "https://m.lk.example"
    assert "x-request-id" in mine.headers["access-control-expose-headers"].lower()
    # Refusals at the door carry the CORS headers too, so a screen can read why.
    big = await http.post(
        "/graphql", content=b"x" * (70 * 1024), headers={**JSON, "Origin": "https://lk.example"}
    )
    assert big.status_code == 413 and big.headers["access-control-allow-origin"] == "https://lk.example"


# --- GraphQL limits ----------------------------------------------------------------------------------------
async def test_the_biggest_real_documents_pass(http, container):
    await make_user(container)
    for document in (ME, SET_PASSWORD, get_introspection_query(descriptions=True)):
        response = await http.post(
            "/graphql", json={"query": document, "variables": {"id": "x", "password": "x"}}
        )
        assert response.status_code == 200
        assert "errors" not in response.json(), response.json()["errors"]


def _errors(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["message"] for e in response.json().get("errors", [])]


async def test_abuse_of_depth_aliases_tokens_and_mutation_fields(http, container, monkeypatch):
    verify = CountingVerify(container, monkeypatch)
    deep = "{ me " + "{ addresses " * 40 + "{ id }" + " }" * 40 + " }"
    assert _errors(await http.post("/graphql", json={"query": deep}))

    fifteen = "{ " + " ".join(f"a{i}: passwordRules" for i in range(limits.MAX_ALIASES)) + " }"
    assert _errors(await http.post("/graphql", json={"query": fifteen})) == []
    sixteen = "{ " + " ".join(f"a{i}: passwordRules" for i in range(limits.MAX_ALIASES + 1)) + " }"
    assert any("alias" in m.lower() for m in _errors(await http.post("/graphql", json={"query": sixteen})))

    tokens = "{ " + "passwordRules " * limits.MAX_TOKENS + "}"
    assert any("tokens" in m for m in _errors(await http.post("/graphql", json={"query": tokens})))

    def logins(n: int, prefix: str = "l") -> str:
        return " ".join(
            f'{prefix}{i}: login(login: "+79161234567", password: "Wrong{i}x") {{ errors {{ code }} }}'
            for i in range(n)
        )

    three = await http.post("/graphql", json={"query": f"mutation {{ {logins(3)} }}"})
    assert _errors(three) == [] and verify.calls == 3
    four = await http.post("/graphql", json={"query": f"mutation {{ {logins(4)} }}"})
    assert any("at most 3 mutation fields" in m for m in _errors(four))
    spread = (
        f"mutation {{ ...A ...B }} fragment A on Mutation {{ {logins(2, 'a')} }} "
        f"fragment B on Mutation {{ {logins(2, 'b')} }}"
    )
    assert any(
        "at most 3 mutation fields" in m for m in _errors(await http.post("/graphql", json={"query": spread}))
    )
    inline = f"mutation {{ ... on Mutation {{ {logins(4)} }} }}"
    assert any("at most 3" in m for m in _errors(await http.post("/graphql", json={"query": inline})))
    assert verify.calls == 3  # nothing of the refused requests was checked


async def test_an_unexpected_exception_is_masked_with_the_request_id(http, monkeypatch, caplog):
    from eirc.services import registration

    async def broken(*_args, **_kwargs):
        raise RuntimeError("database on fire; password=Secret7a")

    monkeypatch.setattr(registration, "get_flow", broken)
    monkeypatch.setattr(registration, "start_phone", broken)
    caplog.set_level(logging.INFO)
    for document in (
        '{ flow(id: "abc") { id } }',
        'mutation { startPhone(phone: "+79161234567", consent: true) { errors { code } } }',
    ):
        caplog.clear()
        response = await http.post("/graphql", json={"query": document})
        assert response.status_code == 200
        request_id = response.headers["x-request-id"]
        [error] = response.json()["errors"]
        assert error["message"] == INTERNAL + request_id
        assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
        assert "fire" not in response.text and "Traceback" not in response.text
        records = [r for r in caplog.records if r.exc_info]
        assert len(records) == 1, "the unexpected error is logged once, with its traceback"
        assert records[0].request_id == request_id and request_id in records[0].getMessage()
        assert "RuntimeError" in caplog.text and "Traceback" in caplog.text


async def test_client_mistakes_are_one_quiet_line_without_values(http, caplog):
    caplog.set_level(logging.DEBUG)
    await http.post("/graphql", json={"query": "{"})
    await http.post(
        "/graphql",
        json={
            "query": 'mutation($p: String!) { login(login: "x", password: $p) { errors { code } } }',
            "variables": {"p": 918273645},
        },
    )
    refused = [r for r in caplog.records if r.name.startswith(("strawberry", "eirc.graphql"))]
    assert refused and all(r.levelno <= logging.INFO and not r.exc_info for r in refused)
    assert "918273645" not in caplog.text
