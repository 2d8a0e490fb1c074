"""GraphQL requests counted and timed (eirc/metrics.py): one strawberry SchemaExtension around each operation.

The `operation` label is what the request asks for, from a fixed set — never the client's operation name,
which is free text: the one root field it selects (`me`, `login`, `startPhone`, … — aliases of one field
count as that field), `multiple` when it selects several different ones, `introspection` for `__schema` /
`__type`, `unknown` for a field the schema does not have, `invalid` when the document does not parse.

The `outcome`: `ok`; `user_error` when a mutation's payload carries errors (the client selected `errors`);
`invalid` when the request was refused before execution (syntax, validation, the limits); `error` for a
field's GraphQL error; `internal_error` for an unexpected exception (masked for the client).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from eirc import metrics

MULTIPLE, INTROSPECTION, UNKNOWN, INVALID = "multiple", "introspection", "unknown", "invalid"


def root_field_names(*roots: type | None) -> frozenset[str]:
    """The GraphQL names of the root types' fields: the values the `operation` label may take."""
    names: set[str] = set()
    for root in roots:
        if root is None:
            continue
        for f in root.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            names.add(f.graphql_name or _camel(f.python_name))
    return frozenset(names)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def observed(known: frozenset[str]) -> type[SchemaExtension]:
    """The extension class for a schema whose root fields are `known` (a fresh instance per request)."""

    class GraphQLMetrics(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            started = time.perf_counter()
            outcome = None
            try:
                yield
            except GraphQLError:  # e.g. a syntax error raised through the parser cache: strawberry answers it
                outcome = INVALID
                raise
            except Exception:
                outcome = "internal_error"
                raise
            finally:
                context = self.execution_context
                metrics.graphql_request(
                    operation_of(context, known),
                    outcome or outcome_of(context.result),
                    time.perf_counter() - started,
                )

    return GraphQLMetrics


def operation_of(context: Any, known: frozenset[str]) -> str:
    document = context.graphql_document
    if document is None:
        return INVALID
    wanted = context.operation_name if context.operation_name else None
    operation = None
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            name = definition.name.value if definition.name else None
            if operation is None and (wanted is None or name == wanted):
                operation = definition
        elif isinstance(definition, FragmentDefinitionNode):
            fragments[definition.name.value] = definition
    if operation is None:
        return UNKNOWN
    names: set[str] = set()
    _collect(operation.selection_set, fragments, names, set())
    names.discard("__typename")
    if not names:
        return UNKNOWN
    if names <= {"__schema", "__type"}:
        return INTROSPECTION
    if len(names) > 1:
        return MULTIPLE
    (name,) = names
    return name if name in known else UNKNOWN


def _collect(selections: SelectionSetNode, fragments: dict, names: set[str], seen: set[str]) -> None:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, names, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in seen and name in fragments:
                seen.add(name)
                _collect(fragments[name].selection_set, fragments, names, seen)


def outcome_of(result: Any) -> str:
    if result is None:
        return "internal_error"
    errors = result.errors or []
    if errors:
        if any(_unexpected(e) for e in errors):
            return "internal_error"
        return "invalid" if result.data is None else "error"
    data = result.data or {}
    for value in data.values():
        if isinstance(value, dict) and value.get("errors"):
            return "user_error"
    return "ok"


def _unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        return True
    return bool(error.extensions and error.extensions.get("code") == "INTERNAL")  # masked already
