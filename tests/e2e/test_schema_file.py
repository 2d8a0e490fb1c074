"""`schema.graphql` at the repository root is the contract frontends build on (CONTRACT §3): it must be exactly
the schema the code serves. Regenerate it with `make schema` (`eirc schema export schema.graphql`)."""

from __future__ import annotations

from pathlib import Path

from eirc.graphql.schema import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_schema_file_matches_the_code() -> None:
    assert SCHEMA_FILE.exists(), "schema.graphql is missing: run `make schema`"
    exported = SCHEMA_FILE.read_text(encoding="utf-8")
    assert exported == schema_sdl(), "schema.graphql is stale: run `make schema` and commit it"
