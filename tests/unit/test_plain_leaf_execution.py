"""PlainLeafExecutionContext (graphql/execution.py): plain leaf fields take a shortcut, and nothing a client
can see changes — every document here runs on the same small schema twice, with graphql-core's general
execution and with the shortcut, and the results (data, errors, their messages, paths and locations) must
be identical. A spy on the general path checks that the shortcut is really taken where it should be."""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from eirc.graphql.execution import PlainLeafExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    DARK_BLUE = "dark-blue"


class Never(BasePermission):
    message = "not for you"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


class Upper(strawberry.extensions.FieldExtension):
    def resolve(self, next_, source, info, **kwargs):
        return next_(source, info, **kwargs).upper()


@strawberry.type
class Pet:
    name: str


@strawberry.type
class Person:
    first_name: str  # a graphql name (firstName) that differs from the Python name
    nick: str | None
    age: int
    score: float | None
    colour: Colour
    shade: Colour | None
    born: datetime | None
    secret: str = strawberry.field(permission_classes=[Never])
    shout: str = strawberry.field(extensions=[Upper()])
    pets: list[Pet]
    tags: list[str]

    @strawberry.field
    def greeting(self, prefix: str = "Hi") -> str:
        return f"{prefix}, {self.first_name}"

    @strawberry.field
    def best_friend(self) -> Person | None:
        return FRIEND

    @strawberry.field
    async def mood(self) -> str:
        return f"{self.first_name} is fine"


def person(**values: Any) -> Person:
    defaults: dict[str, Any] = {
        "first_name": "Ivan",
        "nick": None,
        "age": 42,
        "score": 1.5,
        "colour": Colour.DARK_BLUE,
        "shade": None,
        "born": datetime(2000, 1, 2, 3, 4, 5),
        "secret": "s3cr3t",
        "shout": "quiet",
        "pets": [Pet(name="Rex"), Pet(name="Tom")],
        "tags": ["a", "b"],
    }
    defaults.update(values)
    return Person(**defaults)


FRIEND = person(first_name="Petr", age=7)
CURRENT: dict[str, Any] = {}  # what the root fields return, set by each test


@strawberry.type
class Query:
    @strawberry.field
    def person(self) -> Person | None:
        return CURRENT["person"]

    @strawberry.field
    def required_person(self) -> Person:
        return CURRENT["person"]

    @strawberry.field
    def people(self) -> list[Person] | None:
        return CURRENT["people"]

    @strawberry.field
    async def later(self) -> Person | None:
        return CURRENT["person"]


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self) -> Person:
        return CURRENT["person"]


class Quiet(strawberry.Schema):
    def process_errors(self, errors: list, execution_context: Any = None) -> None:
        """The errors are compared, not logged."""


DEFAULT = Quiet(query=Query, mutation=Mutation)
PLAIN = Quiet(query=Query, mutation=Mutation, execution_context_class=PlainLeafExecutionContext)


def outcome(result: Any) -> tuple[Any, list[tuple]]:
    errors = [
        (e.message, e.path, [(loc.line, loc.column) for loc in e.locations or []])
        for e in result.errors or []
    ]
    return result.data, errors


@pytest.fixture
def general_path(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the fields that went graphql-core's general way (under the plain leaf context)."""
    names: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.execute_field

    def spy(self, parent_type, source, field_details_list, path, position_context=None):
        if isinstance(self, PlainLeafExecutionContext):
            names.append(f"{parent_type.name}.{field_details_list[0].node.name.value}")
        return original(self, parent_type, source, field_details_list, path, position_context)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", spy)
    return names


def both(query: str, variables: dict | None = None, **root: Any) -> tuple[Any, list[tuple]]:
    """Run `query` with both execution contexts; assert identical outcomes; return the plain one's."""
    CURRENT.clear()
    CURRENT.update(root)
    expected = outcome(DEFAULT.execute_sync(query, variable_values=variables))
    got = outcome(PLAIN.execute_sync(query, variable_values=variables))
    assert got == expected
    assert json.dumps(got[0]) == json.dumps(expected[0])  # the same fields in the same order, too
    return got


def test_plain_leaves_skip_the_general_path(general_path):
    data, errors = both("{ person { firstName nick age score colour shade } }", person=person())
    assert errors == []
    assert data == {
        "person": {
            "firstName": "Ivan",
            "nick": None,
            "age": 42,
            "score": 1.5,
            "colour": "DARK_BLUE",
            "shade": None,
        }
    }
    # Only the root field (a resolver) went the general way; the six leaves were read directly.
    assert general_path == ["Query.person"]


def test_a_nullable_leaf_holding_none_is_null(general_path):
    data, errors = both("{ person { nick shade born } }", person=person(nick=None, shade=None, born=None))
    assert (data, errors) == ({"person": {"nick": None, "shade": None, "born": None}}, [])
    assert general_path == ["Query.person"]


def test_a_non_null_leaf_holding_none_fails_as_graphql_core_does():
    data, errors = both("{ person { nick firstName age } }", person=person(first_name=None))
    # The error is graphql-core's, at the field's path; the nullable parent becomes null.
    assert data == {"person": None}
    assert errors == [
        ("Cannot return null for non-nullable field Person.firstName.", ["person", "firstName"], [(1, 17)])
    ]


def test_null_propagates_up_to_the_nearest_nullable_parent():
    # requiredPerson is non-null, so the null climbs to the root: data itself is null.
    data, errors = both("{ requiredPerson { firstName } }", person=person(first_name=None))
    assert data is None
    assert [(m, p) for m, p, _ in errors] == [
        ("Cannot return null for non-nullable field Person.firstName.", ["requiredPerson", "firstName"])
    ]
    # In a list of non-null items, one bad item nulls the whole (nullable) list.
    data, errors = both(
        "{ people { age firstName } }", people=[person(), person(first_name=None), person(first_name=None)]
    )
    assert data == {"people": None}
    assert [p for _, p, _ in errors] == [["people", 1, "firstName"]]  # the list stops at its first error


def test_enums_serialise_to_their_names():
    data, errors = both(
        "{ person { colour shade } }", person=person(colour=Colour.RED, shade=Colour.DARK_BLUE)
    )
    assert (data, errors) == ({"person": {"colour": "RED", "shade": "DARK_BLUE"}}, [])
    # the enum's value (not its member) is accepted the same way by both paths
    data, errors = both("{ person { colour } }", person=person(colour="dark-blue"))
    assert (data, errors) == ({"person": {"colour": "DARK_BLUE"}}, [])


def test_a_value_the_enum_refuses_fails_as_graphql_core_does():
    data, errors = both("{ person { age colour } }", person=person(colour="purple"))
    assert data == {"person": None}
    assert len(errors) == 1 and errors[0][1] == ["person", "colour"]
    data, errors = both("{ person { shade } }", person=person(shade="purple"))
    assert data == {"person": {"shade": None}}  # nullable: the field alone is null
    assert len(errors) == 1 and errors[0][1] == ["person", "shade"]


@pytest.mark.parametrize("value", [2**40, -(2**31) - 1, "x", 1.5, [1]], ids=repr)
def test_an_int_the_scalar_refuses_fails_as_graphql_core_does(value):
    data, errors = both("{ person { firstName age } }", person=person(age=value))
    assert data == {"person": None}
    assert len(errors) == 1
    message, path, _ = errors[0]
    assert path == ["person", "age"]
    assert "Int cannot represent" in message


def test_values_the_scalars_coerce_are_coerced_the_same_way():
    # Int accepts a bool and an integral float; Float an int; String an int — in both paths alike.
    data, errors = both("{ person { age score firstName } }", person=person(age=True, score=3, first_name=12))
    assert (data, errors) == ({"person": {"age": 1, "score": 3.0, "firstName": "12"}}, [])
    data, errors = both("{ person { age } }", person=person(age=7.0))
    assert (data, errors) == ({"person": {"age": 7}}, [])


def test_a_custom_scalar_and_its_refusal():
    data, errors = both("{ person { born } }", person=person())
    assert (data, errors) == ({"person": {"born": "2000-01-02T03:04:05"}}, [])
    data, errors = both("{ person { born } }", person=person(born="not a datetime"))
    assert data == {"person": {"born": None}}
    assert [p for _, p, _ in errors] == [["person", "born"]]


def test_an_attribute_that_raises_is_a_field_error():
    class Exploding(Person):
        @property
        def nick(self) -> str | None:  # type: ignore[override]
            raise RuntimeError("boom")

    exploding = Exploding.__new__(Exploding)
    exploding.__dict__.update(person().__dict__)
    del exploding.__dict__["nick"]
    data, errors = both("{ person { firstName nick } }", person=exploding)
    assert data == {"person": {"firstName": "Ivan", "nick": None}}
    assert errors == [("boom", ["person", "nick"], [(1, 22)])]


def test_aliases_and_the_same_field_twice(general_path):
    data, errors = both(
        "{ person { a: firstName b: firstName firstName firstName years: age c: colour } }", person=person()
    )
    assert errors == []
    assert data == {"person": {"a": "Ivan", "b": "Ivan", "firstName": "Ivan", "years": 42, "c": "DARK_BLUE"}}
    assert general_path == ["Query.person"]
    # an error under an alias has the alias in its path
    data, errors = both("{ person { n: nick x: firstName } }", person=person(first_name=None))
    assert data == {"person": None}
    assert [p for _, p, _ in errors] == [["person", "x"]]


def test_resolvers_extensions_permissions_objects_and_lists_take_the_general_path(general_path):
    query = """{ person {
        greeting short: greeting(prefix: "Yo") shout tags pets { name }
        bestFriend { firstName age bestFriend { firstName } }
    } }"""
    data, errors = both(query, person=person())
    assert errors == []
    assert data == {
        "person": {
            "greeting": "Hi, Ivan",
            "short": "Yo, Ivan",
            "shout": "QUIET",  # the field extension ran
            "tags": ["a", "b"],
            "pets": [{"name": "Rex"}, {"name": "Tom"}],
            "bestFriend": {"firstName": "Petr", "age": 7, "bestFriend": {"firstName": "Petr"}},
        }
    }
    general = set(general_path)
    assert {"Person.greeting", "Person.shout", "Person.tags", "Person.pets", "Person.bestFriend"} <= general
    # the plain leaves below the objects were still read directly
    assert not general & {"Pet.name", "Person.firstName", "Person.age"}


def test_a_permission_on_an_attribute_field_is_still_checked(general_path):
    data, errors = both("{ person { firstName secret } }", person=person())
    assert data == {"person": None}
    assert [(m, p) for m, p, _ in errors] == [("not for you", ["person", "secret"])]
    assert "Person.secret" in general_path


def test_include_and_skip_with_variables():
    query = """query($yes: Boolean!, $no: Boolean!) { person {
        firstName @include(if: $yes) nick @include(if: $no) age @skip(if: $yes) colour @skip(if: $no)
        ... on Person @include(if: $yes) { score }
        ...F @skip(if: $yes)
    } }
    fragment F on Person { shade }"""
    data, errors = both(query, {"yes": True, "no": False}, person=person())
    assert (data, errors) == ({"person": {"firstName": "Ivan", "colour": "DARK_BLUE", "score": 1.5}}, [])
    data, errors = both(query, {"yes": False, "no": True}, person=person())
    assert (data, errors) == ({"person": {"nick": None, "age": 42, "shade": None}}, [])


def test_typename_and_fragments():
    data, errors = both(
        "{ person { __typename ...F } } fragment F on Person { firstName ... { age } }", person=person()
    )
    assert (data, errors) == ({"person": {"__typename": "Person", "firstName": "Ivan", "age": 42}}, [])


def test_leaves_between_other_fields_keep_the_selections_order(general_path):
    query = """{ person {
        age greeting firstName pets { name } b: nick tags colour bestFriend { age x: firstName age } shade
    } }"""
    data, errors = both(query, person=person())
    assert errors == []
    assert list(data["person"]) == [
        "age",
        "greeting",
        "firstName",
        "pets",
        "b",
        "tags",
        "colour",
        "bestFriend",
        "shade",
    ]
    assert list(data["person"]["bestFriend"]) == ["age", "x"]
    assert not set(general_path) & {"Person.age", "Person.firstName", "Person.nick", "Person.colour"}


async def test_leaves_beside_an_async_resolver_keep_the_order_and_errors():
    queries = (
        "{ later { firstName mood age bestFriend { age mood } nick } }",
        "{ people { mood age } }",
        "mutation { touch { age mood shade firstName } }",
    )
    for first_name in ("Ivan", None):  # None: a non-null leaf fails beside a pending async field
        CURRENT.clear()
        CURRENT.update(person=person(first_name=first_name), people=[person(age=1), person(age=2)])
        for query in queries:
            expected = outcome(await DEFAULT.execute(query))
            got = outcome(await PLAIN.execute(query))
            assert got == expected
            assert json.dumps(got[0]) == json.dumps(expected[0])


async def test_async_execution_and_mutations(general_path):
    CURRENT.update(person=person(first_name=None))
    for query in ("{ later { age firstName } }", "mutation { touch { age firstName } }"):
        expected = outcome(await DEFAULT.execute(query))
        got = outcome(await PLAIN.execute(query))
        assert got == expected
        assert got[1][0][0] == "Cannot return null for non-nullable field Person.firstName."
    CURRENT.update(person=person())
    general_path.clear()
    assert outcome(await PLAIN.execute("{ later { age colour } }")) == (
        {"later": {"age": 42, "colour": "DARK_BLUE"}},
        [],
    )
    assert general_path == ["Query.later"]


@strawberry.type
class Row:
    name: str
    size: int | None


@strawberry.type
class DictQuery:
    @strawberry.field
    def row(self) -> Row:
        return {"name": "from a dict", "size": None}  # type: ignore[return-value]

    @strawberry.field
    def bad(self) -> Row | None:
        return {"size": 1}  # type: ignore[return-value]


def test_the_configured_default_resolver_is_used(general_path):
    config = StrawberryConfig(default_resolver=lambda source, name: source[name])
    default = Quiet(query=DictQuery, config=config)
    plain = Quiet(query=DictQuery, config=config, execution_context_class=PlainLeafExecutionContext)
    for query in ("{ row { name size } }", "{ bad { size name } }"):
        assert outcome(plain.execute_sync(query)) == outcome(default.execute_sync(query))
    general_path.clear()
    assert outcome(plain.execute_sync("{ row { name size } }")) == (
        {"row": {"name": "from a dict", "size": None}},
        [],
    )
    assert general_path == ["DictQuery.row"]


# A schema extension's `resolve` hook (a graphql-core middleware, run for every field on the general path)
# sees the plain leaves too: with middleware the shortcut is off (it once skipped them).
def test_a_schema_extension_resolve_hook_sees_every_field():
    seen: list[str] = []

    class Audit(SchemaExtension):
        def resolve(self, _next, root, info, *args, **kwargs):
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    CURRENT.update(person=person())
    query = "{ person { firstName age } }"
    Quiet(query=Query, extensions=[Audit]).execute_sync(query)
    expected, seen[:] = list(seen), []
    Quiet(query=Query, extensions=[Audit], execution_context_class=PlainLeafExecutionContext).execute_sync(
        query
    )
    assert expected == ["person", "firstName", "age"]
    assert seen == expected


def test_eirc_schema_has_no_extension_with_a_resolve_hook():
    """A `resolve` hook turns the shortcut off for every field (above): eirc's schema has none."""
    from eirc.graphql.limits import schema_extensions
    from eirc.graphql.schema import schema

    assert schema.execution_context_class is PlainLeafExecutionContext
    for factory in schema_extensions():
        extension = factory()
        assert not extension._implements_resolve(), type(extension).__name__
