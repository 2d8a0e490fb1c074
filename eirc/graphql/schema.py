"""The schema: root types merged from one small module per journey."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from eirc.graphql.queries import BaseQuery

QUERY_PARTS: tuple[type, ...] = (BaseQuery,)
MUTATION_PARTS: tuple[type, ...] = ()

Query = merge_types("Query", QUERY_PARTS)
Mutation = merge_types("Mutation", MUTATION_PARTS) if MUTATION_PARTS else None


def build_schema(extensions: list | None = None) -> strawberry.Schema:
    return strawberry.Schema(query=Query, mutation=Mutation, extensions=extensions or [])


schema = build_schema()


def schema_sdl() -> str:
    return schema.as_str().rstrip() + "\n"
