"""A shorter path through graphql-core for plain leaf fields (`me`'s names, flags and address lines).

graphql-core executes every field the same way: it builds a resolve-info object, calls the field's
resolver, then walks `complete_value` (non-null → leaf → coerce). For a strawberry "basic" field — no
resolver, no extensions, no arguments: the value is an attribute of the parent object — and a scalar or
enum type, all of that amounts to reading the attribute and coercing it. `me` has 33 such fields and they
were a third of its cost (scripts/bench_me.py), so this execution context does exactly that for them:

- the same value (strawberry's configured default resolver, by the field's Python name);
- the same coercion (`coerce_output_value` of the field's leaf type, as `complete_leaf_value` does);
- anything else — a null for a non-null field, a value the scalar refuses, an exception — goes the general
  way (`super().execute_field`), so errors, their paths and null propagation are graphql-core's own.

Two levels of the same shortcut:

- `execute_fields` (an object's selection): the plain leaves are read in one loop — no response path, no
  per-field call — and only the other fields go to graphql-core, whose results are put back in the
  selection's order (an address of `me` is all plain leaves, so it never enters the general path);
- `execute_field` (one field, when graphql-core asks): the same reading, for any field it is given.

Every other field (resolvers, objects, lists, arguments, extensions) takes the general path unchanged, and
so does every field when a schema extension has a `resolve` hook (graphql-core middleware sees each field).
"""

from __future__ import annotations

import weakref
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLObjectType,
    GraphQLResolveInfoHelpers,
    GraphQLString,
    Undefined,
    is_leaf_type,
    is_non_null_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_BACKREF = "strawberry-definition"
_BASIC_RESOLVER = "_get_basic_result"  # strawberry's resolver of a basic field (schema_converter)

# schema → {id(object type): {field name: how to read it (_Leaf), or None: the general path}}. Keyed by
# type id *per schema*: a schema holds its types, so their ids are stable while it lives.
_READERS: WeakKeyDictionary[Any, dict[int, dict[str, _Leaf | None]]] = WeakKeyDictionary()
# Scalars whose coercion gives back a value of exactly this Python type unchanged (graphql-core's own
# `serialize_string`, `serialize_id`, `serialize_boolean`); any other value is coerced.
_AS_IS = {id(GraphQLString): str, id(GraphQLID): str, id(GraphQLBoolean): bool}


def _plain_leaf(field: GraphQLField) -> tuple[Any, Any, bool] | None:
    definition = (field.extensions or {}).get(_BACKREF)
    if (
        definition is None
        or field.args
        or getattr(field.resolve, "__name__", None) != _BASIC_RESOLVER
        or not getattr(definition, "is_basic_field", False)
    ):
        return None
    non_null = is_non_null_type(field.type)
    leaf = field.type.of_type if non_null else field.type  # type: ignore[attr-defined]
    return (definition, leaf, non_null) if is_leaf_type(leaf) else None


class _Leaf:
    """How to read one plain leaf field of an object (`_plain_leaf`), with the scalar's no-op case."""

    __slots__ = ("as_is", "coerce", "name", "non_null", "resolve")

    def __init__(self, definition: Any, leaf: Any, non_null: bool) -> None:
        self.resolve = definition.default_resolver  # strawberry's: `getattr` unless configured otherwise
        self.name = definition.python_name
        self.coerce = leaf.coerce_output_value
        self.as_is = _AS_IS.get(id(leaf))
        self.non_null = non_null


_GENERAL = object()  # «take graphql-core's path»: a value the shortcut does not settle


def _read(leaf: _Leaf, source: Any) -> Any:
    """The field's value as graphql-core would complete it, or _GENERAL (a null for a non-null field, a
    value the scalar refuses, an exception: graphql-core's path raises and reports it properly)."""
    try:
        value = leaf.resolve(source, leaf.name)
        if value is None:
            return _GENERAL if leaf.non_null else None
        if type(value) is leaf.as_is:
            return value
        coerced = leaf.coerce(value)
    except Exception:
        return _GENERAL
    return _GENERAL if coerced is None or coerced is Undefined else coerced


def _helpers_without_a_cycle(context: Any) -> GraphQLResolveInfoHelpers:
    """graphql-core's resolver helpers (`info.async_helpers`), calling the context through a weak reference.

    graphql-core keeps them as the context's own bound methods, a reference cycle: the context — and the
    request, its response and everything else the context reaches — would then wait for the cyclic garbage
    collector instead of going when the request ends (docs/signin.md, «Garbage»).
    """
    ref = weakref.ref(context)

    def gather(*args: Any, **kwargs: Any) -> Any:
        return ref().gather_async_work(*args, **kwargs)  # type: ignore[union-attr]

    def track(*args: Any, **kwargs: Any) -> Any:
        return ref().track_async_work(*args, **kwargs)  # type: ignore[union-attr]

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


class PlainLeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = _helpers_without_a_cycle(self)
        readers = _READERS.get(self.schema)
        if readers is None:
            readers = _READERS[self.schema] = {}
        self._readers = readers
        # A schema extension with a `resolve` hook (graphql-core middleware) must see every field.
        manager = self.middleware_manager
        self._shortcut = not (manager is not None and manager.middlewares)

    def _readers_of(self, parent_type: GraphQLObjectType) -> dict[str, _Leaf | None]:
        readers = self._readers.get(id(parent_type))
        if readers is None:
            readers = {}
            for name, field in parent_type.fields.items():
                plain = _plain_leaf(field)
                readers[name] = _Leaf(*plain) if plain is not None else None
            self._readers[id(parent_type)] = readers
        return readers

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any = None,
    ) -> Any:
        if not self._shortcut:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        readers = self._readers_of(parent_type)
        read: dict[str, Any] = {}
        rest: dict[str, Any] | None = None
        for response_name, field_details_list in grouped_field_set.items():
            leaf = readers.get(field_details_list[0].node.name.value)
            if leaf is not None:
                value = _read(leaf, source_value)
                if value is not _GENERAL:
                    read[response_name] = value
                    continue
            if rest is None:
                rest = {}
            rest[response_name] = field_details_list
        if rest is None:
            return read
        if not read:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results = super().execute_fields(parent_type, source_value, path, rest, position_context)

        def in_order(others: dict[str, Any]) -> dict[str, Any]:
            return {
                name: read[name] if name in read else others[name]
                for name in grouped_field_set
                if name in read or name in others
            }

        if self.is_awaitable(results):

            async def awaited() -> dict[str, Any]:
                return in_order(await results)

            return awaited()
        return in_order(results)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any = None,
    ) -> Any:
        if self._shortcut:
            leaf = self._readers_of(parent_type).get(field_details_list[0].node.name.value)
            if leaf is not None:
                value = _read(leaf, source)
                if value is not _GENERAL:
                    return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
