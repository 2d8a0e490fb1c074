"""Benchmark of a region (issue 24): the imports at region size, and whether each gateway step is as fast on
the region as on a small database.

    .venv/bin/python scripts/bench_region.py [--accounts 3500000] [--residents 1000000]
        [--small-accounts 2000] [--small-residents 600] [--backends sqlite,postgresql]
        [--iterations 200] [--workdir var/bench_region] [--pg-url URL] [--keep]

1. Generates (once per size, kept in --workdir) a region: accounts with bills for the three months before
   the current one (bench_import's file) and legacy residents, about nine in ten with an account, one row
   in 997 a bad one of seven kinds whose refusal the import must report exactly (scripts/region_data.py);
   and a small region the same way.
2. For each backend, a region database and a small one (SQLite files in --workdir; PostgreSQL databases
   eirc_bench_region and eirc_bench_small on --pg-url's server, created here and dropped at the end unless
   --keep), migrated with `eirc db upgrade`, loaded with the real command line: `eirc billing import`, then
   `eirc users import` (its refused rows compared with the generator's list), then `eirc users import` of
   the same file again (every good row unchanged). Prints rows/s of each and the databases' sizes.
3. A gateway (`eirc serve`, one process, its delivery worker sending SMS to a sink in this script, the
   per-client limits raised) on each of the two databases; two residents created on each with
   `eirc users create`. Then, --iterations times, on the two gateways in turn (the order alternating, so
   that the machine's drift hits both alike), over HTTP with keep-alive: `startPhone` (a new number),
   `confirmCode` (the code the sink received), `proveAccount` (a bill picked at random in the region),
   `login`, `me` (three addresses) and `addAddress` (another random bill; removed again, untimed).
   Prints each step's p50 on both and the region/small ratio.

Goals: the residents import ≥ 10,000 rows/s on both databases; every step's ratio ≤ 1.2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import region_data
from benchkit import EIRC, free_port, gateway_env, start_gateway, stop

from eirc.domain.periods import Period, last_billed_periods

DEFAULT_PG_URL = os.environ.get("EIRC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-region-secret-" + "z" * 32
PASSWORD = "Bench7pass"
IMPORT_GOAL = 10_000
RATIO_GOAL = 1.2
STEPS = ("startPhone", "confirmCode", "proveAccount", "login", "me", "addAddress")
HIGH = "1000000000"
LIMITS = {  # README's configuration table: nothing of the benchmark may be refused by a limit
    "EIRC_SMS_PER_HOUR": HIGH,
    "EIRC_SMS_PER_DAY": HIGH,
    "EIRC_SMS_PER_CLIENT_PER_HOUR": HIGH,
    "EIRC_SMS_GLOBAL_PER_HOUR": HIGH,
    "EIRC_START_PHONE_PER_CLIENT_PER_HOUR": HIGH,
    "EIRC_PROVE_ACCOUNT_PER_CLIENT_PER_HOUR": HIGH,
    "EIRC_LOGIN_PER_CLIENT_PER_MINUTE": HIGH,
    "EIRC_ACCOUNT_MAX_ATTEMPTS": HIGH,
}

START = """mutation($phone: String!) { startPhone(phone: $phone, consent: true) {
  flow { id kind step } errors { code } } }"""
CONFIRM = """mutation($id: ID!, $code: String!) { confirmCode(flowId: $id, code: $code) {
  flow { step } errors { code } } }"""
PROVE = """mutation($id: ID!, $period: String!, $account: String!, $amount: String!) {
  proveAccount(flowId: $id, period: $period, accountNumber: $account, amountDue: $amount) {
    flow { step address } errors { code } } }"""
LOGIN = """mutation($login: String!, $password: String!) { login(login: $login, password: $password) {
  session { token } errors { code } } }"""
ME = """{ me { id lastName firstName middleName phone email emailConfirmed emailNotifications gosuslugiLinked
  addresses { id number text accountNumber primary ebill } } }"""
ADD = """mutation($period: String!, $account: String!, $amount: String!) {
  addAddress(period: $period, accountNumber: $account, amountDue: $amount) {
    profile { addresses { id accountNumber } } errors { code } } }"""
REMOVE = """mutation($id: ID!) { removeAddress(addressId: $id) { errors { code } } }"""


# --- the SMS sink ---------------------------------------------------------------------------------------------
class SmsSink:
    """The relay of CONTRACT §5 on a local port: remembers the last code sent to each number."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}
        self.changed = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                code = next(d for d in re.findall(r"\d+", body["text"]) if len(d) == 4)
                with sink.changed:
                    sink.codes[body["phone"]] = code
                    sink.changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def code_for(self, phone: str, timeout: float = 30) -> str:
        with self.changed:
            if not self.changed.wait_for(lambda: phone in self.codes, timeout):
                raise SystemExit(f"no SMS to {phone} within {timeout} s")
            return self.codes.pop(phone)

    def close(self) -> None:
        self.server.shutdown()


# --- data and databases ------------------------------------------------------------------------------------------
@dataclass
class Region:
    name: str
    accounts: int
    residents: int
    bills_file: Path
    residents_file: Path
    bad: dict[int, str]
    bills: int


def generate(workdir: Path, name: str, accounts: int, residents: int, periods: list[Period]) -> Region:
    tag = f"{accounts}x{len(periods)}-{periods[0].value}"
    bills_file = workdir / f"bills-{tag}.csv"
    residents_file = workdir / f"residents-{residents}-of-{accounts}.csv"
    started = time.perf_counter()
    if not bills_file.exists():
        partial = bills_file.with_suffix(".part")
        region_data.bills(partial, accounts, periods)
        partial.rename(bills_file)
    made = region_data.generate_residents(
        residents_file, residents, accounts
    )  # quick; its bad rows are needed
    print(
        f"{name}: {accounts:,} accounts × {len(periods)} months ({bills_file.stat().st_size / 1e6:,.0f} MB), "
        f"{residents:,} residents ({residents_file.stat().st_size / 1e6:,.1f} MB, {len(made.bad):,} bad rows) "
        f"ready in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return Region(name, accounts, residents, bills_file, residents_file, made.bad, accounts * len(periods))


@contextmanager
def databases(backend: str, workdir: Path, pg_url: str, keep: bool) -> Any:
    """{'region': url, 'small': url}: fresh, empty databases (dropped at the end unless `keep`)."""
    if backend == "sqlite":
        paths = {name: workdir / f"{name}.db" for name in ("region", "small")}
        for path in paths.values():
            for extra in ("", "-wal", "-shm"):
                Path(f"{path}{extra}").unlink(missing_ok=True)
        try:
            yield {name: f"sqlite:///{path}" for name, path in paths.items()}
        finally:
            if not keep:
                for path in paths.values():
                    for extra in ("", "-wal", "-shm"):
                        Path(f"{path}{extra}").unlink(missing_ok=True)
        return
    import psycopg

    names = {name: f"eirc_bench_{name}" for name in ("region", "small")}
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for db in names.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{db}"')
    try:
        yield {name: f"{pg_url.rsplit('/', 1)[0]}/{db}" for name, db in names.items()}
    finally:
        if not keep:
            with psycopg.connect(pg_url, autocommit=True) as admin:
                for db in names.values():
                    admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def database_size(url: str) -> int:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        return sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]


def eirc(env: dict[str, str], *args: str) -> tuple[Any, float]:
    """The real command line; its --json document and the wall-clock seconds it took."""
    started = time.perf_counter()
    done = subprocess.run([EIRC, *args, "--json"], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"eirc {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout), seconds


@dataclass
class Imported:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)


def load(backend: str, region: Region, url: str, verbose: bool) -> Imported:
    """Migrate and import `region` with the command line; check the residents' refusals exactly."""
    env = gateway_env(url, SECRET)
    out = Imported()
    subprocess.run([EIRC, "db", "upgrade"], env=env, check=True, capture_output=True)

    def line(label: str, rows: int, seconds: float, note: str = "") -> float:
        rate = rows / seconds
        if verbose:
            print(f"{backend:<10} {region.name:<6} {label:<16} {rows:>10,} rows in {seconds:7.1f} s = "
                  f"{rate:>8,.0f} rows/s  {note}  (load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
        return rate

    bills, seconds = eirc(env, "billing", "import", str(region.bills_file))
    if bills["added"] != region.bills or bills["refused_count"]:
        out.problems.append(
            f"{backend} {region.name}: billing import added {bills['added']:,} of {region.bills:,}"
        )
    out.rates["billing import"] = line("billing import", bills["rows"], seconds)

    users, seconds = eirc(env, "users", "import", str(region.residents_file))
    got = {r["line"]: r["reason"] for r in users["refused"]}
    good = region.residents - len(region.bad)
    verdict = "refusals exact" if got == region.bad else "REFUSALS DIFFER"
    if got != region.bad:
        wrong = {k: (got.get(k), region.bad.get(k)) for k in set(got) ^ set(region.bad) | {
            k for k in set(got) & set(region.bad) if got[k] != region.bad[k]}}  # fmt: skip
        out.problems.append(f"{backend} {region.name}: refused rows differ, e.g. {sorted(wrong.items())[:3]}")
    if users["added"] != good:
        out.problems.append(f"{backend} {region.name}: users import added {users['added']:,} of {good:,}")
    goal = "" if users["rows"] / seconds >= IMPORT_GOAL else f" below the goal of {IMPORT_GOAL:,}"
    out.rates["users import"] = line("users import", users["rows"], seconds, verdict + goal)

    again, seconds = eirc(env, "users", "import", str(region.residents_file))
    same = again["unchanged"] == good and again["added"] == again["updated"] == 0
    if not same:
        out.problems.append(f"{backend} {region.name}: re-import changed rows: {again['added']} added, "
                            f"{again['updated']} updated")  # fmt: skip
    out.rates["users re-import"] = line(
        "users re-import", again["rows"], seconds, "all unchanged" if same else "NOT IDEMPOTENT"
    )
    return out


# --- the gateways --------------------------------------------------------------------------------------------------
class Gateway:
    def __init__(self, name: str, url: str, sink: SmsSink, bills: list[tuple[str, str, str]], phones: int,
                 stack: ExitStack, workdir: Path) -> None:  # fmt: skip
        self.name = name
        self.sink = sink
        self.bills = bills
        self.next_bill = 0
        self.next_phone = phones
        env = gateway_env(url, SECRET, EIRC_SMS_URL=sink.url, EIRC_SMS_TOKEN="bench", **LIMITS)
        self.env = env
        port = free_port()
        proc = start_gateway(env, port, workers=1, worker=True, log=workdir / f"gateway-{name}.log")
        stack.callback(stop, proc)
        self.client = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60))
        self.times: dict[str, list[float]] = {step: [] for step in STEPS}

    def bill(self) -> tuple[str, str, str]:
        self.next_bill += 1
        return self.bills[self.next_bill % len(self.bills)]

    def phone(self) -> str:
        self.next_phone += 1
        return "+7" + str(self.next_phone)

    def call(self, query: str, variables: dict[str, Any], token: str | None = None) -> tuple[Any, float]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.perf_counter()
        response = self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        elapsed = time.perf_counter() - started
        body = response.json()
        if response.status_code != 200 or "errors" in body:
            raise SystemExit(f"{self.name}: {response.status_code} {body}")
        payload = next(iter(body["data"].values()))
        if isinstance(payload, dict) and payload.get("errors"):
            raise SystemExit(f"{self.name}: {query.split('(')[0]} refused: {payload['errors']}")
        return payload, elapsed

    def resident(self, phone: str, email: str) -> str:
        """A resident created with `eirc users create` (the account proved as in registration)."""
        account, period, amount = self.bill()
        done = subprocess.run(
            [EIRC, "users", "create", "--phone", phone, "--password", PASSWORD, "--last-name", "Бенчмарков",
             "--first-name", "Иван", "--email", email, "--email-confirmed", "--account", account,
             "--period", period, "--amount", amount],
            env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"{self.name}: eirc users create {phone}: {done.stderr.strip()}")
        token = self.call(LOGIN, {"login": phone, "password": PASSWORD})[0]["session"]["token"]
        return token

    def prepare(self) -> None:
        self.reader_phone = self.phone()
        self.reader = self.resident(self.reader_phone, f"reader.{self.reader_phone[2:]}@example.com")
        for _ in range(2):  # `me` shows three addresses
            self.add(self.reader)
        adder_phone = self.phone()
        self.adder = self.resident(adder_phone, f"adder.{adder_phone[2:]}@example.com")
        for _ in range(20):  # warm up: connections, caches
            self.iteration(timed=False)

    def add(self, token: str) -> tuple[list[dict[str, Any]], float]:
        account, period, amount = self.bill()
        payload, elapsed = self.call(ADD, {"period": period, "account": account, "amount": amount}, token)
        return payload["profile"]["addresses"], elapsed

    def iteration(self, timed: bool = True) -> None:
        took: dict[str, float] = {}
        phone = self.phone()
        payload, took["startPhone"] = self.call(START, {"phone": phone})
        assert payload["flow"]["kind"] == "REGISTRATION", payload
        flow_id = payload["flow"]["id"]
        code = self.sink.code_for(phone)
        payload, took["confirmCode"] = self.call(CONFIRM, {"id": flow_id, "code": code})
        assert payload["flow"]["step"] == "ACCOUNT", payload
        account, period, amount = self.bill()
        payload, took["proveAccount"] = self.call(
            PROVE, {"id": flow_id, "period": period, "account": account, "amount": amount}
        )
        assert payload["flow"]["step"] == "ADDRESS", payload
        payload, took["login"] = self.call(LOGIN, {"login": self.reader_phone, "password": PASSWORD})
        assert payload["session"], payload
        payload, took["me"] = self.call(ME, {}, self.reader)
        assert len(payload["addresses"]) == 3, payload
        addresses, took["addAddress"] = self.add(self.adder)
        self.call(REMOVE, {"id": addresses[-1]["id"]}, self.adder)
        if timed:
            for step, seconds in took.items():
                self.times[step].append(seconds)


def measure(backend: str, urls: dict[str, str], regions: dict[str, Region], iterations: int,
            workdir: Path) -> dict[str, float]:  # fmt: skip
    sink = SmsSink()
    with ExitStack() as stack:
        stack.callback(sink.close)
        gateways = []
        for n, name in enumerate(("region", "small")):
            bills = region_data.sample_bills(regions[name].bills_file, max(2000, 3 * iterations), seed=n)
            first_phone = 9_500_000_000 + n * 100_000_000 + os.getpid() % 1000 * 10_000  # distinct per run
            gateways.append(Gateway(name, urls[name], sink, bills, first_phone, stack, workdir))
        for gateway in gateways:
            gateway.prepare()
        started = time.perf_counter()
        for i in range(iterations):
            for gateway in gateways if i % 2 == 0 else reversed(gateways):
                gateway.iteration()
        seconds = time.perf_counter() - started
    region, small = gateways
    ratios = {}
    print(f"{backend:<10} gateway p50, {iterations} of each step on each database, interleaved "
          f"({seconds:.0f} s, load {os.getloadavg()[0]:.1f}):", flush=True)  # fmt: skip
    print(f"{'':<10} {'step':<14} {'region ms':>10} {'small ms':>10} {'ratio':>7}")
    for step in STEPS:
        a, b = statistics.median(region.times[step]), statistics.median(small.times[step])
        ratios[step] = a / b
        flag = "" if a / b <= RATIO_GOAL else f"  over {RATIO_GOAL}"
        print(f"{'':<10} {step:<14} {a * 1000:>10.2f} {b * 1000:>10.2f} {a / b:>7.2f}{flag}", flush=True)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=3_500_000)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--small-accounts", type=int, default=2_000)
    parser.add_argument("--small-residents", type=int, default=600)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--iterations", type=int, default=200, help="of each gateway step on each database")
    parser.add_argument("--workdir", type=Path, default=Path("var/bench_region"))
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server's admin URL")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the databases (the generated files are kept and reused anyway)",
    )
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; free disk "
          f"{shutil.disk_usage(args.workdir).free / 1e9:.0f} GB", flush=True)  # fmt: skip
    periods = last_billed_periods(Period.from_date(date.today()).previous())
    regions = {
        "region": generate(args.workdir, "region", args.accounts, args.residents, periods),
        "small": generate(args.workdir, "small", args.small_accounts, args.small_residents, periods),
    }
    problems: list[str] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend not in ("sqlite", "postgresql"):
            parser.error(f"unknown backend {backend!r}")
        with databases(backend, args.workdir, args.pg_url, args.keep) as urls:
            for name in ("region", "small"):
                problems += load(backend, regions[name], urls[name], verbose=name == "region").problems
            sizes = {name: database_size(url) / 1e6 for name, url in urls.items()}
            print(f"{backend:<10} database size: region {sizes['region']:,.0f} MB, small {sizes['small']:,.1f} MB",
                  flush=True)  # fmt: skip
            measure(backend, urls, regions, args.iterations, args.workdir)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
