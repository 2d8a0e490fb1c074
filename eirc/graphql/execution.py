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

Every other field (resolvers, objects, lists, arguments, extensions) takes the general path unchanged, and
so does every field when a schema extension has a `resolve` hook (graphql-core middleware sees each field).
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from graphql import GraphQLField, GraphQLObjectType, Undefined, is_leaf_type, is_non_null_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_BACKREF = "strawberry-definition"
_BASIC_RESOLVER = "_get_basic_result"  # strawberry's resolver of a basic field (schema_converter)

# schema → {id(GraphQLField): (strawberry field, leaf type, non-null) for a plain leaf field, or None}.
# Keyed by field id *per schema*: a schema holds its fields, so their ids are stable while it lives.
_PLAIN_LEAVES: WeakKeyDictionary[Any, dict[int, tuple[Any, Any, bool] | None]] = WeakKeyDictionary()


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


class PlainLeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        known = _PLAIN_LEAVES.get(self.schema)
        if known is None:
            known = _PLAIN_LEAVES[self.schema] = {}
        self._plain_leaves = known
        # A schema extension with a `resolve` hook (graphql-core middleware) must see every field.
        manager = self.middleware_manager
        self._shortcut = not (manager is not None and manager.middlewares)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any = None,
    ) -> Any:
        field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        if field is not None and self._shortcut:
            known = self._plain_leaves
            key = id(field)
            try:
                plain = known[key]
            except KeyError:
                plain = known[key] = _plain_leaf(field)
            if plain is not None:
                definition, leaf, non_null = plain
                try:
                    value = definition.default_resolver(source, definition.python_name)
                    if value is None:
                        if not non_null:
                            return None
                    else:
                        coerced = leaf.coerce_output_value(value)
                        if coerced is not None and coerced is not Undefined:
                            return coerced
                except Exception:  # noqa: S110 — the general path below raises it again, as a field error
                    pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
