"""Limits at the GraphQL door (SPEC §10, §11).

- depth, aliases and tokens: strawberry's own limiters, with values that fit the real screens;
- at most MAX_MUTATION_FIELDS root fields in one mutation operation, counted through fragments, so a
  request with a dozen aliased `login` fields is refused before any attempt is checked;
- every string argument has a length limit, checked before the resolver runs (`TOO_LONG` as a UserError
  on the mutation's payload — never a slow hash of a megabyte);
- unexpected exceptions are masked: the client sees a generic message with the request id, the log
  holds the detail.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, ClassVar

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
)
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.extensions.field_extension import FieldExtension

from eirc.domain.errors import ErrorCode
from eirc.domain.texts import error_text
from eirc.requestid import current_request_id

log = logging.getLogger("eirc.graphql")

MAX_DEPTH = 8
MAX_ALIASES = 15
MAX_TOKENS = 2000
MAX_MUTATION_FIELDS = 3

# Maximum length of each string argument, by argument name (GraphQL names); the rest get DEFAULT.
DEFAULT_MAX_LENGTH = 300
ARGUMENT_MAX_LENGTH: dict[str, int] = {
    "phone": 64,
    "login": 254,
    "code": 32,
    "password": 128,
    "currentPassword": 128,
    "newPassword": 128,
    "flowId": 128,
    "token": 128,
    "state": 256,
    "period": 16,
    "accountNumber": 64,
    "amountDue": 64,
    "lastName": 100,
    "firstName": 100,
    "middleName": 100,
    "email": 254,
    "address": 300,
    "flat": 20,
    "addressId": 64,
    "id": 128,
}


# Where one argument name means something longer: (field, argument) → maximum length.
FIELD_ARGUMENT_MAX_LENGTH: dict[tuple[str, str], int] = {
    ("gosuslugiComplete", "code"): 4096,  # the provider's authorization code (may be a signed JWT)
}


def max_length_of(argument: str, field: str | None = None) -> int:
    if field is not None and (field, argument) in FIELD_ARGUMENT_MAX_LENGTH:
        return FIELD_ARGUMENT_MAX_LENGTH[(field, argument)]
    return ARGUMENT_MAX_LENGTH.get(argument, DEFAULT_MAX_LENGTH)


class MaxMutationFields(ValidationRule):
    """At most MAX_MUTATION_FIELDS root fields in a mutation (aliases and fragments included)."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
        if node.operation != OperationType.MUTATION:
            return
        fragments = {
            d.name.value: d
            for d in self.context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        count = _count_root_fields(node.selection_set, fragments, set())
        if count > MAX_MUTATION_FIELDS:
            self.report_error(
                GraphQLError(
                    f"A request may hold at most {MAX_MUTATION_FIELDS} mutation fields; this one holds {count}.",
                    nodes=[node],
                )
            )


def _count_root_fields(selection_set: SelectionSetNode, fragments: dict, seen: set[str]) -> int:
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += 1
        elif isinstance(selection, InlineFragmentNode):
            count += _count_root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen or name not in fragments:
                continue
            seen.add(name)
            count += _count_root_fields(fragments[name].selection_set, fragments, seen)
    return count


class ArgumentLengthLimits(FieldExtension):
    """Refuse an over-long string argument before the resolver runs.

    A mutation answers with its payload type holding a TOO_LONG UserError for that argument; a query
    field answers a GraphQL error (queries have no payload to carry it).
    """

    def apply(self, field: Any) -> None:
        self.payload_type = field.type if hasattr(field.type, "__strawberry_definition__") else None
        self.field_name = field.graphql_name or _camel(field.python_name)

    def _too_long(self, kwargs: dict[str, Any]) -> str | None:
        for name, value in kwargs.items():
            graphql_name = _camel(name)
            if isinstance(value, str) and len(value) > max_length_of(graphql_name, self.field_name):
                return graphql_name
        return None

    def _refuse(self, argument: str) -> Any:
        from eirc.graphql.errors import UserError

        error = UserError(code=ErrorCode.TOO_LONG, field=argument, message=error_text(ErrorCode.TOO_LONG))
        if self.payload_type is not None and "errors" in {
            f.python_name for f in self.payload_type.__strawberry_definition__.fields
        }:
            return self.payload_type(errors=[error])
        raise GraphQLError(f"{argument}: {error.message}")

    def resolve(self, next_, source, info, **kwargs):
        argument = self._too_long(kwargs)
        return self._refuse(argument) if argument else next_(source, info, **kwargs)

    async def resolve_async(self, next_, source, info, **kwargs):
        argument = self._too_long(kwargs)
        if argument:
            return self._refuse(argument)
        return await next_(source, info, **kwargs)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask only exceptions raised by our code — validation and syntax errors stay clear."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected)

    def _process_result(self, result: object) -> None:
        # Strawberry's own test is `isinstance(result, _ResultWithErrors)`, a runtime-checkable Protocol:
        # ~8 µs per request to find out whether the result has `errors`.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = current_request_id()
        log.error(
            "unexpected error in %s (request %s)",
            ".".join(str(p) for p in (error.path or [])),
            request_id,
            exc_info=error.original_error,
        )
        return GraphQLError(
            message=f"Внутренняя ошибка. Код запроса: {request_id}",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )


# Where graphql-core's messages start quoting the client's input.
_VALUE_IN_MESSAGE = re.compile(
    r"\s*\b(got invalid value|has invalid value|cannot represent|found|Unexpected)\b.*", re.S
)


def log_refusals(errors: list[GraphQLError]) -> None:
    """What strawberry's `Schema.process_errors` logs, made fit for a server log.

    Strawberry logs every error at ERROR with a traceback — the syntax error of a fuzzer as loudly as a bug.
    Here a client's mistake (syntax, validation, a limit, a variable of the wrong type) is one INFO line
    without the value it carried (a mistyped password must not reach the log); an unexpected exception is
    left to MaskUnexpectedErrors, which logs it once, with its traceback and the request id.
    """
    for error in errors:
        if _is_unexpected(error):
            continue
        first_line = error.message.split("\n", 1)[0]
        log.info(
            "GraphQL request refused: %s", _VALUE_IN_MESSAGE.sub(" (value not logged)", first_line)[:300]
        )


class DoorSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        log_refusals(errors)


# The validation rules are built ONCE: the validation cache is keyed by the rule classes, and the limiters
# make a new rule class per instance — building them per request would make every request a cache miss.
VALIDATION_RULES = (
    MaxMutationFields,
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
)


class ValidationByText(SchemaExtension):
    """Validation results cached by the query's *text* (strawberry's ValidationCache keys them by the parsed
    document, whose hash walks the whole syntax tree on every request).

    The same text parses to the same document (the parser options are fixed), and validation depends
    only on the schema, the document and the rules — never on variables — so the text is a complete key.
    Bounded LRU, shared by all requests of the process.
    """

    MAXSIZE = 256
    _results: ClassVar[OrderedDict[tuple, list[GraphQLError] | None]] = OrderedDict()

    def on_validate(self) -> Iterator[None]:
        from strawberry.schema.schema import validate_document

        ec = self.execution_context
        if ec.query is None or ec.graphql_document is None or not ec.validation_rules:
            yield
            return
        key = (ec.schema, ec.query, tuple(ec.validation_rules))
        results = self._results
        try:
            errors = results[key]
            results.move_to_end(key)
        except KeyError:
            errors = validate_document(ec.schema._schema, ec.graphql_document, ec.validation_rules)
            results[key] = errors
            if len(results) > self.MAXSIZE:
                results.popitem(last=False)
        ec.pre_execution_errors = errors
        yield


class DoorExtension(MaskUnexpectedErrors, ValidationByText):
    """Every per-request step of the door in ONE schema extension. Strawberry builds each extension anew for
    every request and runs each hook through its own context manager; as five stock extensions the same
    steps cost ~120 Python calls more per request (a login's work before its resolver: 1 100 → 970 calls;
    a trivial request in-process: 147 → 134 µs). `separate_extensions()` is the five, for comparison.

    - the document's size: at most MAX_TOKENS tokens (strawberry's MaxTokensLimiter, parse option);
    - the parse, from a shared LRU by query text (strawberry's ParserCache, 256 entries);
    - the validation rules (VALIDATION_RULES: mutation fields, depth, aliases), their results cached by the
      query's text (ValidationByText);
    - unexpected errors masked with the request id (MaskUnexpectedErrors).
    """

    _PARSE = staticmethod(ParserCache(maxsize=256).cached_parse_document)  # the LRU strawberry shares

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        ec.parse_options["max_tokens"] = MAX_TOKENS
        ec.validation_rules = ec.validation_rules + VALIDATION_RULES
        yield from super().on_operation()

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        ec.graphql_document = self._PARSE(ec.query, **ec.parse_options)
        yield


def schema_extensions() -> list:
    """Factories, so that strawberry builds a fresh extension for every request (the parser and
    validation caches keep their LRU at module level, shared across requests)."""
    return [DoorExtension]


def separate_extensions() -> list:
    """The same door as five stock extensions (what `DoorExtension` replaces; tests compare the two)."""
    return [
        lambda: AddValidationRules(list(VALIDATION_RULES)),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=256),
        ValidationByText,
        MaskUnexpectedErrors,
    ]
