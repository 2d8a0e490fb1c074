"""Throughput of the delivery worker: N «Домопульт» events through one or two workers to a local provider.

    .venv/bin/python scripts/bench_deliveries.py [--count 1000] [--workers 1] [--database-url URL]

Without --database-url a temporary SQLite database is used. A PostgreSQL URL must point at an empty,
disposable database (it is migrated and its `delivery` table emptied).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from eirc.bootstrap import build_container
from eirc.delivery.adapters import build_adapters, close_adapters
from eirc.delivery.messages import queue_crm
from eirc.delivery.worker import DeliveryWorker
from eirc.settings import Settings
from eirc.storage.migrate import upgrade
from tests.providers import CRM_PATH, FakeProvider


async def bench(url: str, count: int, workers: int, batch: int) -> None:
    provider = FakeProvider()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        database_url=url,
        secret_key="bench-" + "x" * 32,
        crm_url=provider.crm_url,
        crm_token="bench",
    )
    upgrade(url)
    containers = [build_container(settings) for _ in range(workers)]
    c = containers[0]
    async with c.uow() as tx:
        await tx.session.execute(text("DELETE FROM delivery"))
        await tx.commit()
    started = time.perf_counter()
    async with c.uow() as tx:
        for i in range(count):
            await queue_crm(tx, c, type="registration", data={"n": i, "phone": "+79161234567"})
        await tx.commit()
    queued = time.perf_counter() - started

    adapters = [build_adapters(settings) for _ in containers]
    runners = [DeliveryWorker(k, a, batch_size=batch) for k, a in zip(containers, adapters, strict=True)]

    async def drain(worker: DeliveryWorker) -> int:
        sent = 0
        while True:
            result = await worker.run_once()
            sent += result.sent
            if result.claimed == 0:
                return sent

    started = time.perf_counter()
    sent = sum(await asyncio.gather(*(drain(w) for w in runners)))
    elapsed = time.perf_counter() - started
    for a in adapters:
        await close_adapters(a)
    for k in containers:
        await k.dispose()
    provider.close()
    keys = provider.keys(CRM_PATH)
    backend = "postgresql" if url.startswith("postgres") else "sqlite"
    print(f"backend            {backend}")
    print(f"messages           {count} (queued in one transaction in {queued:.2f} s)")
    print(f"workers × batch    {workers} × {batch}")
    print(f"sent               {sent} in {elapsed:.2f} s  →  {sent / elapsed:.0f} messages/s")
    print(
        f"requests           {sum(keys.values())} for {len(keys)} keys (duplicates: {sum(keys.values()) - len(keys)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        asyncio.run(bench(url, args.count, args.workers, args.batch))


if __name__ == "__main__":
    main()
