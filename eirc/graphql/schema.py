"""The schema: root types merged from one small module per journey."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from eirc.graphql.connection_requests import ConnectionRequestMutation
from eirc.graphql.gosuslugi import GosuslugiMutation
from eirc.graphql.limits import ArgumentLengthLimits, LoggedSchema, schema_extensions
from eirc.graphql.me import MeQuery
from eirc.graphql.profile import ProfileMutation
from eirc.graphql.queries import BaseQuery
from eirc.graphql.registration import RegistrationMutation, RegistrationQuery
from eirc.graphql.signin import SigninMutation

QUERY_PARTS: tuple[type, ...] = (BaseQuery, MeQuery, RegistrationQuery)
MUTATION_PARTS: tuple[type, ...] = (
    RegistrationMutation,
    SigninMutation,
    ProfileMutation,
    ConnectionRequestMutation,
    GosuslugiMutation,
)

Query = merge_types("Query", QUERY_PARTS)
Mutation = merge_types("Mutation", MUTATION_PARTS) if MUTATION_PARTS else None


def _limit_arguments(*roots: type | None) -> None:
    """Every root field with arguments gets its string arguments' length checked first."""
    for root in roots:
        if root is None:
            continue
        for field in root.__strawberry_definition__.fields:
            if field.arguments and not any(isinstance(e, ArgumentLengthLimits) for e in field.extensions):
                field.extensions.append(ArgumentLengthLimits())


def build_schema(extensions: list | None = None) -> strawberry.Schema:
    _limit_arguments(Query, Mutation)
    return LoggedSchema(
        query=Query,
        mutation=Mutation,
        extensions=schema_extensions() if extensions is None else extensions,
    )


schema = build_schema()


def schema_sdl() -> str:
    return schema.as_str().rstrip() + "\n"
