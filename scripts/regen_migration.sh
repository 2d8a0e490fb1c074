#!/usr/bin/env bash
# Until the first release, the schema lives in one initial migration (0001). After changing
# eirc/storage/tables.py, regenerate it from the models and check it on both backends.
# Once released, add new revisions instead (`.venv/bin/alembic revision --autogenerate -m …`).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f eirc/storage/migrations/versions/0001_*.py
EIRC_DATABASE_URL="sqlite:///$tmp/gen.db" .venv/bin/alembic revision --autogenerate --rev-id 0001 -m "initial schema" >/dev/null
.venv/bin/ruff format -q eirc/storage/migrations/versions/ && .venv/bin/ruff check -q --fix eirc/storage/migrations/versions/ || true
rm -f "$tmp/gen.db"
EIRC_DATABASE_URL="sqlite:///$tmp/check.db" .venv/bin/alembic upgrade head >/dev/null
db="eirc_regen_$$"
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" >/dev/null
EIRC_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/$db" .venv/bin/alembic upgrade head >/dev/null
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE $db" >/dev/null
rm -rf "$tmp"
echo "0001 regenerated and applied on SQLite and PostgreSQL"
