"""Every type, field, argument and enum value of the schema carries a description that starts with a capital
letter or a quotation — what graphql-schema-linter's description rules ask — so that the types a frontend team
generates from `schema.graphql` explain themselves."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, GraphQLScalarType

from eirc.graphql.schema import schema

SPEC_SCALARS = {"String", "Boolean", "Int", "Float", "ID"}


def _well_formed(description: str | None) -> bool:
    return bool(description) and (description[0].isupper() or not description[0].isalpha())


def _missing() -> list[str]:
    missing = []
    for name, t in schema._schema.type_map.items():
        if name.startswith("__") or name in SPEC_SCALARS:
            continue
        if not _well_formed(t.description):
            missing.append(f"type {name}")
        if isinstance(t, GraphQLObjectType | GraphQLInputObjectType):
            for fname, field in t.fields.items():
                if not _well_formed(field.description):
                    missing.append(f"field {name}.{fname}")
                for aname, arg in getattr(field, "args", {}).items():
                    if not _well_formed(arg.description):
                        missing.append(f"argument {name}.{fname}({aname})")
        if isinstance(t, GraphQLEnumType):
            for vname, value in t.values.items():
                if not _well_formed(value.description):
                    missing.append(f"enum value {name}.{vname}")
        if isinstance(t, GraphQLScalarType) and not _well_formed(t.description):
            missing.append(f"scalar {name}")
    return missing


def test_everything_in_the_schema_is_described() -> None:
    assert _missing() == []


def test_every_ui_text_key_is_documented() -> None:
    from pathlib import Path

    from eirc.domain.texts import UI_TEXTS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "frontend.md").read_text(encoding="utf-8")
    assert [key for key in UI_TEXTS if f"`{key}`" not in doc] == []
