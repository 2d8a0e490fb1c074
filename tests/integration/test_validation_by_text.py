"""ValidationByText (graphql/limits.py): validation results cached by the query's text, on eirc's real schema.

A cached result must be the result: an invalid document is refused every time with the same errors, a valid
one runs every time, two texts never share a result, the door's limits hold on every request — and the
cache is a bounded LRU. A counting wrapper around strawberry's `validate_document` shows which requests
were really validated and which were answered from the cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import strawberry.schema.schema as strawberry_schema

from eirc.graphql import limits
from eirc.graphql.limits import ValidationByText
from eirc.graphql.schema import schema


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    ValidationByText._results.clear()
    yield
    ValidationByText._results.clear()


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per real validation (ValidationByText imports `validate_document` at call time)."""
    calls: list[int] = []
    original = strawberry_schema.validate_document

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate_document", counting)
    return calls


def messages(result) -> list[str]:
    return [e.message for e in result.errors or []]


UNKNOWN = "{ passwordRules nope }"
UNKNOWN_ERROR = "Cannot query field 'nope' on type 'Query'."


async def test_an_invalid_query_is_refused_the_first_and_every_next_time(validations):
    first = await schema.execute(UNKNOWN)
    assert first.data is None
    assert messages(first) == [UNKNOWN_ERROR]
    assert len(validations) == 1
    for _ in range(3):
        again = await schema.execute(UNKNOWN)
        assert again.data is None
        # the same error, once (the cached list is not appended to by later requests)
        assert messages(again) == [UNKNOWN_ERROR]
        assert again.errors[0].locations == first.errors[0].locations
    assert len(validations) == 1  # answered from the cache


async def test_a_valid_query_runs_every_time(validations):
    query = "{ passwordRules }"
    results = [await schema.execute(query) for _ in range(3)]
    for result in results:
        assert result.errors is None
        assert isinstance(result.data["passwordRules"], list) and result.data["passwordRules"]
    assert len(validations) == 1
    # an error raised while *executing* a cached valid document does not poison its cache entry
    failing = '{ passwordRules flow(id: "x") { id } }'
    assert (await schema.execute(failing)).errors  # no context: the resolver fails (masked)
    for _ in range(2):
        result = await schema.execute(query)
        assert result.errors is None and result.data["passwordRules"]


async def test_variables_do_not_change_a_cached_result(validations):
    query = "query($yes: Boolean!) { passwordRules @include(if: $yes) }"
    shown = await schema.execute(query, variable_values={"yes": True})
    hidden = await schema.execute(query, variable_values={"yes": False})
    assert shown.errors is None and shown.data["passwordRules"]
    assert hidden.errors is None and hidden.data == {}
    wrong = await schema.execute(query, variable_values={"yes": "maybe"})
    assert wrong.errors and wrong.data is None  # variable coercion is not validation: still checked
    assert len(validations) == 1


async def test_two_texts_do_not_share_results(validations):
    a = await schema.execute("{ nope }")
    b = await schema.execute("{ nope2 }")
    c = await schema.execute("{  passwordRules  }")
    d = await schema.execute("{  passwordRules  nope }")
    assert messages(a) == [UNKNOWN_ERROR]
    assert messages(b) == ["Cannot query field 'nope2' on type 'Query'."]
    assert c.errors is None
    assert messages(d) == [UNKNOWN_ERROR]
    assert len(validations) == 4
    assert messages(await schema.execute("{ nope2 }")) == ["Cannot query field 'nope2' on type 'Query'."]
    assert (await schema.execute("{  passwordRules  }")).errors is None
    assert len(validations) == 4


async def test_the_limits_refuse_every_time(validations):
    deep = "{ me " + "{ addresses " * 10 + "{ id }" + " }" * 10 + " }"
    many = "{ " + " ".join(f"a{i}: passwordRules" for i in range(limits.MAX_ALIASES + 1)) + " }"
    enough = "{ " + " ".join(f"a{i}: passwordRules" for i in range(limits.MAX_ALIASES)) + " }"
    for _ in range(3):
        assert f"'anonymous' exceeds maximum operation depth of {limits.MAX_DEPTH}" in messages(
            await schema.execute(deep)
        )
        refused = await schema.execute(many)
        assert refused.data is None
        assert any("alias" in m.lower() for m in messages(refused)), messages(refused)
        assert (await schema.execute(enough)).errors is None
    assert len(validations) == 3


async def test_the_mutation_field_limit_refuses_every_time(validations):
    four = "mutation { " + " ".join(f"l{i}: logout" for i in range(limits.MAX_MUTATION_FIELDS + 1)) + " }"
    for _ in range(2):
        assert any("at most 3 mutation fields" in m for m in messages(await schema.execute(four)))
    assert len(validations) == 1


async def test_the_cache_is_a_bounded_lru(validations):
    size = ValidationByText.MAXSIZE
    first = "{ k0: __typename }"
    assert (await schema.execute(first)).data == {"k0": "Query"}
    for i in range(1, size):  # fill it up exactly
        await schema.execute(f"{{ k{i}: __typename }}")
    assert len(ValidationByText._results) == size
    # the first text is the oldest: using it again makes it the newest (a hit, no validation)
    before = len(validations)
    assert (await schema.execute(first)).data == {"k0": "Query"}
    assert len(validations) == before
    for i in range(size, size + 10):  # ten more: the ten oldest go, the recently used one stays
        await schema.execute(f"{{ k{i}: __typename }}")
    assert len(ValidationByText._results) == size
    cached_texts = {key[1] for key in ValidationByText._results}
    assert first in cached_texts
    assert "{ k1: __typename }" not in cached_texts and "{ k10: __typename }" not in cached_texts
    assert f"{{ k{size + 9}: __typename }}" in cached_texts
    # an evicted text is validated again, and still answers correctly
    before = len(validations)
    assert (await schema.execute("{ k1: __typename }")).data == {"k1": "Query"}
    assert len(validations) == before + 1
    assert len(ValidationByText._results) == size


async def test_through_the_gateway_an_unknown_field_is_refused_twice(http):
    for _ in range(2):
        response = await http.post("/graphql", json={"query": "{ unknownField }"})
        assert response.status_code == 200
        body = response.json()
        assert [e["message"] for e in body["errors"]] == [
            "Cannot query field 'unknownField' on type 'Query'."
        ]
        assert body.get("data") is None
