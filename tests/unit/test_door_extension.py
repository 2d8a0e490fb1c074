"""DoorExtension (graphql/limits.py) is the five stock extensions it replaced, in one: every document here
runs on eirc's schema built both ways, and the outcomes (data, error messages, paths) must be identical."""

from __future__ import annotations

from typing import Any

import pytest

from eirc.graphql.limits import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_MUTATION_FIELDS,
    MAX_TOKENS,
    DoorExtension,
    separate_extensions,
)
from eirc.graphql.schema import build_schema, schema

ONE = build_schema()
FIVE = build_schema(extensions=separate_extensions())

DOCUMENTS = {
    "trivial": "{ __typename }",
    "syntax error": "{ __typename ",
    "unknown field": "{ nope }",
    "too many tokens": "{ " + " ".join(["__typename"] * (MAX_TOKENS + 5)) + " }",
    "too deep": "{ me " + "{ addresses " * (MAX_DEPTH + 1) + "{ id }" + " }" * (MAX_DEPTH + 2),
    "too many aliases": "{ " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES + 1)) + " }",
    "too many mutation fields": "mutation { "
    + " ".join(f"a{i}: logout" for i in range(MAX_MUTATION_FIELDS + 1))
    + " }",
    "a variable of the wrong type": ("query($x: Int!) { __typename }", {"x": "nope"}),
    "introspection": "{ __schema { queryType { name } } }",
}


def outcome(result: Any) -> tuple[Any, list[tuple]]:
    return result.data, [(e.message, e.path) for e in result.errors or []]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_one_extension_answers_as_the_five_did(name):
    document = DOCUMENTS[name]
    query, variables = document if isinstance(document, tuple) else (document, None)
    expected = outcome(FIVE.execute_sync(query, variable_values=variables))
    got = outcome(ONE.execute_sync(query, variable_values=variables))
    assert got == expected
    if name != "trivial" and name != "introspection":
        assert got[1], "the door refused it"


async def test_an_unexpected_error_is_masked_the_same_way():
    # `me` without a request context fails inside the resolver: an unexpected error, masked
    expected = outcome(await FIVE.execute("{ me { id } }"))
    got = outcome(await ONE.execute("{ me { id } }"))
    assert got == expected
    assert got[1] and got[1][0][0].startswith("Внутренняя ошибка"), got


def test_the_real_schema_uses_the_one_extension():
    assert [type(e) if not isinstance(e, type) else e for e in schema.extensions] == [DoorExtension]
