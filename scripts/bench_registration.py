"""Benchmark of registration (issue 25): residents registering at once against `eirc serve --workers N`.

    .venv/bin/python scripts/bench_registration.py [--residents 400] [--concurrency 16] [--workers 2]
        [--warmup 16] [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--database-url URL]

In one run, on this machine:
1. the raw argon2id hash rate on as many threads as cores (what a registration cannot avoid: one hash);
2. a fresh PostgreSQL database (created on --pg-url's server, dropped at the end), migrated, with a billing
   account and three bills for every resident;
3. local outside systems: an SMS relay (CONTRACT §5: it answers 200 and keeps each code by phone), «Домопульт»
   (200) and an SMTP sink — so that every delivery really leaves the gateway;
4. `eirc serve --workers N` (delivery workers in-process), the per-client limits raised;
5. from a second process (a lean HTTP/1.1 keep-alive client on asyncio streams), `--concurrency` residents at a
   time go through startPhone → the SMS code → confirmCode → proveAccount → confirmAddress →
   setPersonalData → setPassword — first `--warmup` residents (one round, by default) that are not counted:
   a gateway process's first requests open its pool's PostgreSQL connections and compile its statements
   (up to ~600 ms each), which is start-up, not registration; then the measured `--residents`;
6. printed: registrations/s and its ratio to the raw hash rate, each step's p50 and p99, and the CPU time
   per registration of the gateway processes, of PostgreSQL and of the argon2 hash, read from /proc — and
   that every resident was registered and every SMS code delivered exactly once.

Goal (issue 25): registrations/s ≥ 0.5 × the raw argon2 rate; every step's p99 ≤ 100 ms except setPassword.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchkit
from benchkit import free_port

SECRET = "bench-registration-secret-" + "r" * 32
PASSWORD = "Parol2024a"
PERIODS = ("2026-10", "2026-11", "2026-09")
AMOUNT_KOPECKS = 123456
STEPS = ("startPhone", "confirmCode", "proveAccount", "confirmAddress", "setPersonalData", "setPassword")
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def phone_of(i: int) -> str:
    return f"+7916{4000000 + i:07d}"


def account_of(i: int) -> str:
    return f"88{i:08d}"


# --- the outside systems -------------------------------------------------------------------------------------
class Outside:
    """The SMS relay and «Домопульт» (HTTP) and an SMTP sink, in this process."""

    def __init__(self) -> None:
        self.codes: dict[str, list[str]] = {}
        self.keys: set[str] = set()
        self.duplicates = 0
        self.crm = 0
        self.letters = 0
        self.codes_before = 0  # SMS codes of the warm-up
        self.lock = threading.Lock()
        outside = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                key = self.headers.get("Idempotency-Key", "")
                with outside.lock:
                    if key in outside.keys:
                        outside.duplicates += 1
                    outside.keys.add(key)
                    if self.path == "/sms":
                        code = re.search(r"\d{4,10}", body.get("text", ""))
                        outside.codes.setdefault(body.get("phone", ""), []).append(
                            code.group(0) if code else ""
                        )
                    else:
                        outside.crm += 1
                answer = json.dumps({"id": key, "status": "accepted"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

        from aiosmtpd.controller import Controller

        class Sink:
            async def handle_DATA(self, _server, _session, _envelope) -> str:
                with outside.lock:
                    outside.letters += 1
                return "250 OK"

        self.smtp_port = free_port()
        self.smtp = Controller(Sink(), hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()

    def start_counting(self) -> None:
        """From now on: what the measured residents receive (the warm-up's deliveries set aside)."""
        with self.lock:
            self.codes_before = sum(len(v) for v in self.codes.values())
            self.duplicates = self.crm = self.letters = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def close(self) -> None:
        self.http.shutdown()
        self.smtp.stop()


# --- the database --------------------------------------------------------------------------------------------
@contextmanager
def database(pg_url: str, given: str | None):
    if given:
        yield given
        return
    import psycopg

    name = f"eirc_bench_reg_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(database_url: str, residents: int) -> None:
    """Migrated, with one billing account (three bills) per resident."""
    from sqlalchemy import create_engine, insert

    from eirc.storage.migrate import upgrade
    from eirc.storage.tables import Bill, BillingAccount

    upgrade(database_url)
    now = datetime.now(UTC)
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(
            insert(BillingAccount),
            [{"account_number": account_of(i), "address": f"г. Химки, ул. Мельникова, д. {i}", "updated_at": now}
             for i in range(residents)],
        )  # fmt: skip
        conn.execute(
            insert(Bill),
            [{"account_number": account_of(i), "period": p, "amount_kopecks": AMOUNT_KOPECKS}
             for i in range(residents) for p in PERIODS],
        )  # fmt: skip
    engine.dispose()


# --- CPU, from /proc -------------------------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        for task in _tasks(pid):
            try:
                fields = Path(f"/proc/{pid}/task/{task}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except (OSError, IndexError, ValueError):
                continue
    return total / TICK


def _tasks(pid: int) -> list[str]:
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    found = [pid]
    for child in Path("/proc").iterdir():
        if not child.name.isdigit():
            continue
        try:
            parent = int(Path(f"/proc/{child.name}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found += descendants(int(child.name))
    return found


def postgres_pids() -> list[int]:
    pids = []
    for child in Path("/proc").iterdir():
        if child.name.isdigit():
            try:
                if Path(f"/proc/{child.name}/comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(child.name))
            except OSError:
                continue
    return pids


def raw_hash_rate(threads: int, n: int = 60) -> tuple[float, float]:
    """(hashes per second on `threads` threads, CPU seconds of one hash)."""
    from eirc.security import PasswordHasher

    hasher = PasswordHasher()
    t0 = time.process_time()
    for _ in range(10):
        hasher.hash_sync(PASSWORD)
    one = (time.process_time() - t0) / 10
    with ThreadPoolExecutor(max_workers=threads) as pool:
        t0 = time.perf_counter()
        list(pool.map(lambda _: hasher.hash_sync(PASSWORD), range(n)))
        return n / (time.perf_counter() - t0), one


# --- the load (a second process) -------------------------------------------------------------------------------
START = "mutation($p:String!){startPhone(phone:$p,consent:true){flow{id} errors{code}}}"
CODE = "mutation($id:ID!,$c:String!){confirmCode(flowId:$id,code:$c){flow{step} errors{code}}}"
PROVE = (
    'mutation($id:ID!,$a:String!){proveAccount(flowId:$id,period:"2026-11",accountNumber:$a,amountDue:"1234,56")'
    "{flow{step} errors{code}}}"
)
ADDRESS = "mutation($id:ID!){confirmAddress(flowId:$id){flow{step} errors{code}}}"
PERSONAL = (
    'mutation($id:ID!,$e:String!){setPersonalData(flowId:$id,lastName:"Петров",firstName:"Иван",email:$e,'
    "emailNotifications:true){flow{step} errors{code}}}"
)
SET_PASSWORD = (
    f'mutation($id:ID!){{setPassword(flowId:$id,password:"{PASSWORD}"){{session{{token}} errors{{code}}}}}}'
)


class Connection:
    """One keep-alive HTTP/1.1 connection: a request is one write, an answer is read by its Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        self.reader, self.writer, self.port = reader, writer, port

    async def post(self, query: str, variables: dict) -> dict:
        body = json.dumps({"query": query, "variables": variables}).encode()
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        raw_head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in raw_head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        document = json.loads(await self.reader.readexactly(length))
        if "errors" in document:
            raise RuntimeError(f"GraphQL errors: {document['errors']}")
        payload = next(iter(document["data"].values()))
        if payload.get("errors"):
            raise RuntimeError(f"refused: {payload['errors']}")
        return payload


async def _wait_code(codes_url: str, phone: str, seen: int) -> str:
    """The code the relay received for `phone` (the n-th one, n = `seen` + 1), polling the benchmark parent."""
    import urllib.request

    for _ in range(2000):
        answer = await asyncio.to_thread(
            lambda: json.loads(urllib.request.urlopen(f"{codes_url}?phone={phone}", timeout=5).read())
        )
        if len(answer) > seen:
            return answer[seen]
        await asyncio.sleep(0.01)
    raise RuntimeError(f"no SMS code for {phone}")


async def _load(port: int, codes_url: str, first: int, residents: int, concurrency: int) -> dict:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(first, first + residents):
        queue.put_nowait(i)
    times: dict[str, list[float]] = {s: [] for s in STEPS}
    failures: list[str] = []

    async def resident_loop() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = Connection(reader, writer, port)
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            try:
                t = time.perf_counter()
                flow_id = (await conn.post(START, {"p": phone_of(i)}))["flow"]["id"]
                times["startPhone"].append(time.perf_counter() - t)
                code = await _wait_code(codes_url, phone_of(i), 0)
                for step, query, variables in (
                    ("confirmCode", CODE, {"id": flow_id, "c": code}),
                    ("proveAccount", PROVE, {"id": flow_id, "a": account_of(i)}),
                    ("confirmAddress", ADDRESS, {"id": flow_id}),
                    ("setPersonalData", PERSONAL, {"id": flow_id, "e": f"resident{i}@example.com"}),
                    ("setPassword", SET_PASSWORD, {"id": flow_id}),
                ):
                    t = time.perf_counter()
                    await conn.post(query, variables)
                    times[step].append(time.perf_counter() - t)
            except Exception as exc:  # reported, and the run is marked failed
                failures.append(f"{phone_of(i)}: {exc}"[:300])
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(resident_loop() for _ in range(concurrency)))
    return {"seconds": time.perf_counter() - started, "times": times, "failures": failures}


def load_main(port: int, codes_url: str, first: int, residents: int, concurrency: int) -> None:
    print(json.dumps(asyncio.run(_load(port, codes_url, first, residents, concurrency))))


def run_load(port: int, codes_url: str, first: int, residents: int, concurrency: int) -> dict:
    """Residents `first` … `first + residents - 1` registering from a second process; its result."""
    load = subprocess.run(
        [sys.executable, __file__, "--load", str(port), codes_url, str(first), str(residents), str(concurrency)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(load.stdout)


# --- the run ---------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=400)
    parser.add_argument(
        "--warmup", type=int, help="residents registered first, not counted (default: --concurrency)"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gateway processes")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="a PostgreSQL server's admin URL")
    parser.add_argument("--database-url", help="use this database (migrated or empty) instead of a fresh one")
    parser.add_argument("--load", nargs=5, metavar=("PORT", "CODES_URL", "FIRST", "RESIDENTS", "CONCURRENCY"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.load:
        port, codes_url, first, residents, concurrency = args.load
        load_main(int(port), codes_url, int(first), int(residents), int(concurrency))
        return
    warmup = args.concurrency if args.warmup is None else args.warmup

    cores = len(os.sched_getaffinity(0))
    print(
        f"load average at start: {os.getloadavg()[0]:.2f} ({cores} cores; other work on the machine skews the figures)"
    )
    hash_rate, hash_cpu = raw_hash_rate(cores)
    print(
        f"raw argon2 hash rate, {cores} threads ... {hash_rate:6.1f} /s   (one hash: {hash_cpu * 1000:.1f} ms CPU)"
    )
    outside = Outside()
    codes_server = _codes_server(outside)
    try:
        with database(args.pg_url, args.database_url) as url:
            prepare(url, args.residents + warmup)
            port = free_port()
            env = benchkit.gateway_env(
                url,
                SECRET,
                EIRC_SMS_URL=f"{outside.url}/sms",
                EIRC_CRM_URL=f"{outside.url}/crm",
                EIRC_SMTP_HOST="127.0.0.1",
                EIRC_SMTP_PORT=str(outside.smtp_port),
                EIRC_START_PHONE_PER_CLIENT_PER_HOUR="100000000",
                EIRC_SMS_PER_CLIENT_PER_HOUR="100000000",
                EIRC_SMS_GLOBAL_PER_HOUR="100000000",
                EIRC_PROVE_ACCOUNT_PER_CLIENT_PER_HOUR="100000000",
                EIRC_LOGIN_PER_CLIENT_PER_MINUTE="100000000",
            )
            proc = _start(env, port, args.workers)
            try:
                if warmup:  # not counted: the pools' connections opened, the statements compiled
                    warm = run_load(port, codes_server, args.residents, warmup, args.concurrency)
                    if warm["failures"]:
                        raise SystemExit(f"warm-up failed: {warm['failures'][:3]}")
                    time.sleep(2)  # its deliveries leave
                outside.start_counting()
                gateway_pids = descendants(proc.pid)
                pg_pids = postgres_pids()
                spies = []
                if os.environ.get("BENCH_PYSPY"):  # a sampling profile of every gateway process (py-spy)
                    spies = [
                        subprocess.Popen(
                            [
                                shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                                "record",
                                "-r",
                                "200",
                                "-f",
                                "raw",
                                "-o",
                                f"{os.environ['BENCH_PYSPY']}.{pid}",
                                "-p",
                                str(pid),
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                        for pid in gateway_pids[1:]
                    ]
                gateway_before, pg_before = cpu_seconds(gateway_pids), cpu_seconds(pg_pids)
                result = run_load(port, codes_server, 0, args.residents, args.concurrency)
                time.sleep(2)  # the last deliveries leave
                for spy in spies:
                    spy.send_signal(2)
                    spy.wait(timeout=30)
                gateway_cpu = cpu_seconds(descendants(proc.pid)) - gateway_before
                pg_cpu = cpu_seconds(postgres_pids()) - pg_before
            finally:
                benchkit.stop(proc)
    finally:
        outside.close()
    _report(args, result, hash_rate, hash_cpu, gateway_cpu, pg_cpu, outside)


def _codes_server(outside: Outside) -> str:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            phone = self.path.split("phone=", 1)[1].replace("%2B", "+") if "phone=" in self.path else ""
            with outside.lock:
                answer = json.dumps(outside.codes.get(phone, [])).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/codes"


def _start(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    """`eirc serve` with its delivery workers, once it answers."""
    import httpx

    proc = subprocess.Popen(
        [benchkit.EIRC, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"eirc serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                time.sleep(1.5)  # every process up
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("eirc serve did not become healthy")


def _report(
    args, result: dict, hash_rate: float, hash_cpu: float, gateway_cpu: float, pg_cpu: float, outside
) -> None:
    done = len(result["times"]["setPassword"])
    rate = done / result["seconds"]
    print(f"registrations ................ {done} of {args.residents} in {result['seconds']:.1f} s: {rate:6.1f} /s   "
          f"({rate / hash_rate:.2f} × the raw hash rate; goal ≥ 0.5)")  # fmt: skip
    print("step                p50 ms   p99 ms")
    for step in STEPS:
        values = result["times"][step]
        if values:
            p99 = pct(values, 99) * 1000
            goal = "" if step == "setPassword" else ("  MISSED (goal ≤ 100)" if p99 > 100 else "")
            print(f"  {step:16} {statistics.median(values) * 1000:7.1f}  {p99:7.1f}{goal}")
    if done:
        print(
            f"CPU per registration ......... gateway {gateway_cpu / done * 1000:.1f} ms (argon2 {hash_cpu * 1000:.1f} "
            f"of it), PostgreSQL {pg_cpu / done * 1000:.1f} ms"
        )
    with outside.lock:
        codes = sum(len(v) for v in outside.codes.values()) - outside.codes_before
        print(f"deliveries ................... SMS {codes} (duplicates {outside.duplicates}), «Домопульт» "
              f"{outside.crm}, letters {outside.letters}")  # fmt: skip
    for failure in result["failures"][:5]:
        print(f"  FAILED {failure}")
    if result["failures"] or done < args.residents:
        sys.exit(1)


if __name__ == "__main__":
    main()
