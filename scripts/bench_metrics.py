"""What the metrics cost on the hot paths (issue 23): `me` and a trivial query, with and without the metrics.

    .venv/bin/python scripts/bench_metrics.py [--runs 2000] [--backends sqlite,postgresql] [--pg-url URL]

In one process, side by side: two ASGI apps on the same container and database — the gateway as built, whose
schema counts and times every request (graphql/observe.py) in prometheus-client's multiprocess mode (a value
written to a memory-mapped file, as under `eirc serve`), and the same app with a schema built without that
extension. Requests go through httpx's ASGI transport (no sockets), the two apps interleaved so that drift
hits both alike; p50 and mean per request of `{ __typename }` and of `me` (a signed-in resident).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# As under `eirc serve`: set before prometheus-client is imported, so values go to memory-mapped files.
_METRICS_DIR = tempfile.mkdtemp(prefix="eirc-bench-metrics-")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", _METRICS_DIR)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import datetime as dt  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import httpx  # noqa: E402
from strawberry.schema.config import StrawberryConfig  # noqa: E402

TRIVIAL = "{ __typename }"
ME = "{ me { id lastName firstName phone email emailConfirmed addresses { id number text primary } } }"
DEFAULT_PG_URL = os.environ.get("EIRC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def unmetered_schema():
    from eirc.graphql.limits import LoggedSchema, schema_extensions
    from eirc.graphql.schema import Mutation, Query
    from eirc.graphql.types import DATE

    return LoggedSchema(
        query=Query,
        mutation=Mutation,
        extensions=schema_extensions(),
        config=StrawberryConfig(scalar_map={dt.date: DATE}),
    )


async def bench(url: str, runs: int) -> dict[str, dict[str, float]]:
    from eirc.bootstrap import build_container
    from eirc.services.sessions import create_session
    from eirc.services.users import create_user
    from eirc.settings import Settings
    from eirc.storage.migrate import upgrade
    from eirc.web.app import create_app

    await asyncio.to_thread(upgrade, url)
    settings = Settings(_env_file=None, env="test", database_url=url, secret_key="bench-" + "x" * 40)  # type: ignore[call-arg]
    container = build_container(settings)
    profile = await create_user(
        container,
        phone="+79160000001",
        password="Bench7pass",
        last_name="Петров",
        first_name="Иван",
        email="bench@example.com",
        email_confirmed=True,
    )
    async with container.uow() as tx:
        issued = await create_session(
            tx,
            user_id=profile.id,
            now=container.clock.now(),
            ttl_seconds=3600,
            client_ip=None,
            user_agent=None,
        )
        await tx.commit()
    headers = {"Authorization": f"Bearer {issued.token}"}

    metered = create_app(container)
    plain = create_app(container)
    for route in plain.routes:  # the same app, its GraphQL view on a schema without the metrics extension
        if getattr(route, "path", None) == "/graphql":
            route.app.schema = unmetered_schema()
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        for name, app in (("with metrics", metered), ("without", plain))
    }
    times: dict[str, dict[str, list[float]]] = {n: {"trivial": [], "me": []} for n in clients}
    try:
        for _ in range(50):  # warm-up: caches, pools, prepared statements
            for client in clients.values():
                await client.post("/graphql", json={"query": TRIVIAL})
                await client.post("/graphql", json={"query": ME}, headers=headers)
        for _ in range(runs):
            for name, client in clients.items():
                for query, label in ((TRIVIAL, "trivial"), (ME, "me")):
                    started = time.perf_counter()
                    response = await client.post("/graphql", json={"query": query}, headers=headers)
                    times[name][label].append(time.perf_counter() - started)
                    assert response.status_code == 200 and "errors" not in response.json(), response.text
        me = (await clients["with metrics"].post("/graphql", json={"query": ME}, headers=headers)).json()
        assert me["data"]["me"]["id"] == profile.id
    finally:
        for client in clients.values():
            await client.aclose()
        await container.dispose()
    return {
        name: {f"{label} p50 µs": statistics.median(values) * 1e6 for label, values in by_query.items()}
        | {f"{label} mean µs": statistics.fmean(values) * 1e6 for label, values in by_query.items()}
        for name, by_query in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args()
    try:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    figures = asyncio.run(bench(f"sqlite:///{tmp}/bench.db", args.runs))
            else:
                import psycopg

                name = f"eirc_bench_{uuid.uuid4().hex[:8]}"
                with psycopg.connect(args.pg_url, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                try:
                    figures = asyncio.run(bench(f"{args.pg_url.rsplit('/', 1)[0]}/{name}", args.runs))
                finally:
                    with psycopg.connect(args.pg_url, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"{backend} ({args.runs} runs each, multiprocess mode):")
            for name, values in figures.items():
                print(f"  {name:13} " + "  ".join(f"{k} {v:7.0f}" for k, v in values.items()))
            with_, without = figures["with metrics"], figures["without"]
            for label in ("trivial", "me"):
                ratio = with_[f"{label} p50 µs"] / without[f"{label} p50 µs"]
                extra = with_[f"{label} p50 µs"] - without[f"{label} p50 µs"]
                print(f"  {label}: p50 with/without = {ratio:.3f} ({extra:+.0f} µs)")
    finally:
        shutil.rmtree(_METRICS_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
