"""Benchmark of `me` (issue 8): the query every screen makes, against a trivial query, on both backends.

    .venv/bin/python scripts/bench_me.py [--runs 1000] [--backends sqlite,postgresql] [--pg-url URL]

For each backend, in one run:
1. a fresh database (SQLite in a temporary directory; PostgreSQL: a temporary database created on
   `--pg-url`'s server, dropped at the end), migrated;
2. three billing accounts, and a resident created through the real services (`create_user`, the account
   proved as in registration) who adds the two other accounts with `addAddress`'s service — three addresses;
3. a real `eirc serve` subprocess (one process, no delivery worker), a session by the `login` mutation over
   HTTP;
4. serial p50 (one client, keep-alive, the two queries interleaved so drift hits both alike) of a trivial
   `{ __typename }` and of `me` with the three addresses and every field of the profile.

Goal: `me` p50 ≤ 1.5 × trivial p50.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from benchkit import free_port, gateway_env, start_gateway, stop

SECRET = "bench-me-secret-" + "z" * 32
PHONE = "+79160000001"
PASSWORD = "Bench7pass"
PERIOD = "2025-12"
ACCOUNTS = [
    ("7000000001", "Г.О. ХИМКИ Р-Н., Г. ХИМКИ, МЕЛЬНИКОВА. ПР-Т., Д.2, КВ.15", 123456),
    ("7000000002", "г.Москва, ул.Вяземская, д.34, к.2, кв.90", 50000),
    ("7000000003", "Г.О. ДМИТРОВСКИЙ, Д. ИВАНОВКА, УЛ. САДОВАЯ, Д.7", 99990),
]
TRIVIAL = "{ __typename }"
ME = """{ me { id lastName firstName middleName birthDate phone email emailConfirmed emailNotifications
  gosuslugiLinked addresses { id number text accountNumber primary ebill ebillPaused } } }"""
LOGIN = 'mutation { login(login: "%s", password: "%s") { session { token } errors { code } } }'
DEFAULT_PG_URL = os.environ.get("EIRC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def database(backend: str, pg_url: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    import psycopg

    name = f"eirc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(database_url: str) -> None:
    """Migrate, load billing data, create the resident with three addresses through the services."""
    from eirc.bootstrap import build_container
    from eirc.services.addresses import add_address
    from eirc.services.users import AccountProof, create_user
    from eirc.settings import Settings
    from eirc.storage.migrate import upgrade
    from eirc.storage.tables import Bill, BillingAccount

    upgrade(database_url)

    async def go() -> None:
        settings = Settings(_env_file=None, env="test", database_url=database_url, secret_key=SECRET)  # type: ignore[call-arg]
        c = build_container(settings)
        try:
            now = datetime.now(UTC)
            async with c.uow() as tx:
                for number, address, kopecks in ACCOUNTS:
                    tx.session.add(BillingAccount(account_number=number, address=address, updated_at=now))
                    await tx.session.flush()
                    tx.session.add(Bill(account_number=number, period=PERIOD, amount_kopecks=kopecks))
                await tx.commit()
            amount = lambda kopecks: f"{kopecks // 100},{kopecks % 100:02d}"  # noqa: E731
            first, *others = ACCOUNTS
            profile = await create_user(
                c,
                phone=PHONE,
                password=PASSWORD,
                last_name="Бенчмарков",
                first_name="Иван",
                middle_name="Петрович",
                email="bench.me@example.com",
                email_confirmed=True,
                email_notifications=True,
                account=AccountProof(account_number=first[0], period=PERIOD, amount_due=amount(first[2])),
            )
            for number, _address, kopecks in others:
                profile = await add_address(
                    c, user_id=profile.id, period=PERIOD, account_number=number, amount_due=amount(kopecks)
                )
            assert len(profile.addresses) == 3, profile
        finally:
            await c.dispose()

    asyncio.run(go())


def timed(client: httpx.Client, query: str, headers: dict[str, str]) -> float:
    t0 = time.perf_counter()
    response = client.post("/graphql", json={"query": query}, headers=headers)
    elapsed = time.perf_counter() - t0
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return elapsed


def measure(url: str, runs: int) -> tuple[float, float, dict]:
    with httpx.Client(base_url=url, timeout=30) as client:
        answer = client.post("/graphql", json={"query": LOGIN % (PHONE, PASSWORD)}).json()
        session = answer["data"]["login"]["session"]
        assert session, answer
        headers = {"Authorization": f"Bearer {session['token']}"}
        sample = client.post("/graphql", json={"query": ME}, headers=headers).json()["data"]["me"]
        assert len(sample["addresses"]) == 3, sample
        for _ in range(100):  # warm up: caches, connection pool, JIT-less but branch-predicted
            timed(client, TRIVIAL, headers)
            timed(client, ME, headers)
        trivial: list[float] = []
        me: list[float] = []
        for _ in range(runs):
            trivial.append(timed(client, TRIVIAL, headers))
            me.append(timed(client, ME, headers))
    return statistics.median(trivial), statistics.median(me), sample


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000, help="requests of each query per backend")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server's admin URL")
    args = parser.parse_args()

    results = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        with database(backend, args.pg_url) as url:
            prepare(url)
            port = free_port()
            proc = start_gateway(gateway_env(url, SECRET), port, workers=1)
            try:
                trivial, me, _sample = measure(f"http://127.0.0.1:{port}", args.runs)
            finally:
                stop(proc)
        results[backend] = (trivial, me)
        ratio = me / trivial
        print(
            f"{backend:<10}  trivial p50 {trivial * 1000:6.2f} ms   me p50 {me * 1000:6.2f} ms   "
            f"{ratio:.2f} × trivial   {'met' if ratio <= 1.5 else 'MISSED'} (goal ≤ 1.5)   [{args.runs} each, serial]"
        )
    if any(me > 1.5 * trivial for trivial, me in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
