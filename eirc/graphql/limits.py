"""Limits at the GraphQL door (SPEC §10, §11).

- depth, aliases and tokens: strawberry's own limiters, with values that fit the real screens;
- at most MAX_MUTATION_FIELDS root fields in one mutation operation, counted through fragments, so a
  request with a dozen aliased `login` fields is refused before any attempt is checked;
- every string argument has a length limit, and may not hold a NUL or a lone surrogate, checked before the
  resolver runs (`TOO_LONG` / `INVALID_INPUT` as a UserError on the mutation's payload — never a slow hash
  of a megabyte, never a driver's or a hasher's exception);
- unexpected exceptions are masked: the client sees a generic message with the request id, the log
  holds the detail.
"""

from __future__ import annotations

import logging
import re
from typing import Any

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
    ValidationCache,
)
from strawberry.extensions.field_extension import FieldExtension

from eirc.domain import limits
from eirc.domain.errors import ErrorCode
from eirc.domain.texts import error_text
from eirc.requestid import current_request_id

log = logging.getLogger("eirc.graphql")

MAX_DEPTH = 8
MAX_ALIASES = 15
MAX_TOKENS = 2000
MAX_MUTATION_FIELDS = 3
PARSER_CACHE_SIZE = 256  # query texts whose parse (and validation) is kept, shared by all requests

# Each string argument's limit, from the domain's table (eirc/domain/limits.py).
max_length_of = limits.max_length_of


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


class ArgumentChecks(FieldExtension):
    """Refuse an argument no use case could take, before the resolver runs: a string over its length limit
    (``TOO_LONG``) or one holding text no library downstream can take — a NUL, a lone surrogate
    (``INVALID_INPUT``, `eirc.domain.limits.unusable`) — in any string argument, inside lists included.

    A mutation answers with its payload type holding the UserError for that argument; a query field answers
    a GraphQL error (queries have no payload to carry it).
    """

    def apply(self, field: Any) -> None:
        self.payload_type = field.type if hasattr(field.type, "__strawberry_definition__") else None
        self.field_name = field.graphql_name or camel(field.python_name)

    def _refusal(self, kwargs: dict[str, Any]) -> tuple[ErrorCode, str] | None:
        for name, value in kwargs.items():
            graphql_name = camel(name)
            for text in _strings(value):
                if len(text) > max_length_of(graphql_name, self.field_name):
                    return ErrorCode.TOO_LONG, graphql_name
                if limits.unusable(text):
                    return ErrorCode.INVALID_INPUT, graphql_name
        return None

    def _refuse(self, code: ErrorCode, argument: str) -> Any:
        from eirc.graphql.errors import UserError, screen_field

        error = UserError(code=code, field=screen_field(argument, self.field_name), message=error_text(code))
        if self.payload_type is not None and "errors" in {
            f.python_name for f in self.payload_type.__strawberry_definition__.fields
        }:
            return self.payload_type(errors=[error])
        raise GraphQLError(f"{argument}: {error.message}")

    def resolve(self, next_, source, info, **kwargs):
        refusal = self._refusal(kwargs)
        return self._refuse(*refusal) if refusal else next_(source, info, **kwargs)

    async def resolve_async(self, next_, source, info, **kwargs):
        refusal = self._refusal(kwargs)
        if refusal:
            return self._refuse(*refusal)
        return await next_(source, info, **kwargs)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings(item)]
    return []


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _is_unexpected(error: GraphQLError) -> bool:
    """Mask only exceptions raised by our code — validation and syntax errors stay clear."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """strawberry's MaskErrors for exceptions raised by our code, with the request id in the answer and in
    the log line that holds the traceback."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected)

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


class LoggedSchema(strawberry.Schema):
    """A strawberry Schema whose refused requests are logged by `log_refusals` (one INFO line each)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        log_refusals(errors)


# The validation rules are built ONCE: strawberry's validation cache is keyed by the rule classes, and the
# limiters make a new rule class per instance — built per request, every request would miss the cache.
VALIDATION_RULES = (
    MaxMutationFields,
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
)


def schema_extensions() -> list:
    """strawberry's own extensions, as factories (a fresh instance per request; the parser and validation
    caches keep their LRU at module level, shared by all requests): the document's size in tokens, the
    parse and the validation cached by query text, the rules above, unexpected errors masked."""
    return [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(list(VALIDATION_RULES)),
        lambda: ParserCache(maxsize=PARSER_CACHE_SIZE),
        lambda: ValidationCache(maxsize=PARSER_CACHE_SIZE),
        MaskUnexpectedErrors,
    ]
