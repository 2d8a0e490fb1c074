"""Benchmark of `eirc billing import`: a generated file of ≥ 1,000,000 bill rows into SQLite and PostgreSQL.

    .venv/bin/python scripts/bench_import.py [--accounts 334000] [--backends sqlite,postgresql] [--reimport]

The file is written to a temporary directory; each backend gets a fresh database (a SQLite file, a
PostgreSQL database created and dropped by this script), migrated with the project's migrations, and
the file goes through the real import service (`eirc.services.billing_import`), validation included.
Goal (issue 3): ≥ 50,000 rows/s on both.

Besides wall-clock rows/s it prints the CPU time per row of this process and (PostgreSQL) of the server
backend, and the load average: on a shared machine the wall clock depends on the neighbours, CPU time
much less.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from eirc.bootstrap import build_container
from eirc.domain.periods import Period, last_billed_periods
from eirc.services.billing_import import BATCH_SIZE, ImportReport, import_billing_csv
from eirc.settings import Settings
from eirc.storage.migrate import upgrade

PG_ADMIN_URL = os.environ.get("EIRC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
GOAL = 50_000

STREETS = ["ул.Вяземская", "ул.Ленина", "пр-т Мира", "ул.Садовая", "Мелиоративная ул.", "ул.Строителей"]
TOWNS = ["г.Москва", "Г.О. ХИМКИ Р-Н., Г. ХИМКИ", "г.Балашиха", "г.Подольск", "г.Мытищи", "г.Люберцы"]


def generate(path: Path, accounts: int, periods: list[Period], seed: int = 1) -> int:
    rnd = random.Random(seed)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["account_number", "period", "amount_due", "address"])
        for i in range(accounts):
            account = str(5_000_000_000 + i)
            address = (
                f"{rnd.choice(TOWNS)}, {rnd.choice(STREETS)}, д.{rnd.randint(1, 120)}, "
                f"к.{rnd.randint(1, 5)}, кв.{rnd.randint(1, 400)}"
            )
            for period in periods:
                kopecks = rnd.randint(50_000, 1_500_000)
                out.writerow([account, period.value, f"{kopecks // 100}.{kopecks % 100:02d}", address])
                rows += 1
    return rows


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, env="test", database_url=url, secret_key="bench-" + "x" * 32)  # type: ignore[call-arg]


@dataclass
class Run:
    report: ImportReport
    client_cpu: float  # seconds of CPU used by this process (all its threads)
    server_cpu: float | None  # seconds of CPU used by the PostgreSQL backend serving the import


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of a local process, from /proc (None when it is not readable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_import(url: str, path: Path, batch_size: int) -> Run:
    container = build_container(settings_for(url))
    backends: list[int] = []
    if container.uow.dialect == "postgresql":

        @event.listens_for(container.uow.engine.sync_engine, "connect")
        def _remember_backend(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("SELECT pg_backend_pid()")
            backends.append(cur.fetchone()[0])
            cur.close()

    server_cpu: list[float | None] = [None]

    def sample(_done: int, _total: int) -> None:  # the import's connection is closed after the last batch
        if backends:
            server_cpu[0] = _cpu_seconds(backends[-1]) or server_cpu[0]

    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        report = await import_billing_csv(
            container.uow, container.clock, path, batch_size=batch_size, progress=sample
        )
    finally:
        await container.dispose()
    after = resource.getrusage(resource.RUSAGE_SELF)
    client = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Run(report, client, server_cpu[0])


def show(backend: str, label: str, run: Run) -> None:
    report = run.report
    verdict = "ok" if report.rows_per_second >= GOAL else f"below the goal of {GOAL:,}"
    cpu = f"CPU: client {run.client_cpu / report.rows * 1e6:.1f} µs/row"
    if run.server_cpu is not None:
        cpu += f", server {run.server_cpu / report.rows * 1e6:.1f} µs/row"
    print(
        f"{backend:<10} {label:<9} {report.rows:>10,} rows in {report.seconds:7.2f} s = "
        f"{report.rows_per_second:>9,.0f} rows/s  {verdict}\n"
        f"{'':<21}added {report.added:,}, updated {report.updated:,}, unchanged {report.unchanged:,}, "
        f"refused {report.refused_count:,}; {cpu}; load average {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs",
        flush=True,
    )


def bench(backend: str, url: str, path: Path, batch_size: int, reimport: bool) -> None:
    upgrade(url)
    show(backend, "import", asyncio.run(run_import(url, path, batch_size)))
    if reimport:
        show(backend, "re-import", asyncio.run(run_import(url, path, batch_size)))


def bench_postgres(path: Path, batch_size: int, reimport: bool) -> None:
    import psycopg

    name = f"eirc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        bench("postgresql", f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", path, batch_size, reimport)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=334_000, help="accounts (3 bills each)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--reimport", action="store_true", help="import the same file a second time")
    args = parser.parse_args()

    periods = last_billed_periods(Period.from_date(date.today()).previous())
    with tempfile.TemporaryDirectory(prefix="eirc-bench-") as tmp:
        path = Path(tmp) / "bills.csv"
        started = time.perf_counter()
        rows = generate(path, args.accounts, periods)
        print(
            f"generated {rows:,} rows ({path.stat().st_size / 1e6:.1f} MB) in "
            f"{time.perf_counter() - started:.1f} s; batch size {args.batch_size:,}",
            flush=True,
        )
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            if backend == "sqlite":
                bench("sqlite", f"sqlite:///{tmp}/bench.db", path, args.batch_size, args.reimport)
            elif backend == "postgresql":
                bench_postgres(path, args.batch_size, args.reimport)
            else:
                parser.error(f"unknown backend {backend!r}")


if __name__ == "__main__":
    main()
