#!/usr/bin/env bash
# The suite needs PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres). On this project's machines it
# is started before a session; if it has stopped, start it again. If it still cannot be reached the
# PostgreSQL tests fail (they never skip).
set -u
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_isready >/dev/null 2>&1; then
  echo "ensure_postgres: pg_isready not found; the tests will try to connect anyway" >&2
  exit 0
fi
ready && exit 0
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "ensure_postgres: starting the local PostgreSQL cluster" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
fi
echo "ensure_postgres: PostgreSQL is not reachable at 127.0.0.1:5432 — the PostgreSQL tests will fail" >&2
exit 0
