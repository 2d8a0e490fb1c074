"""What the HTTP benchmarks share: a free port, and a real `eirc serve` subprocess started and stopped.

Imported by the scripts beside it (`.venv/bin/python scripts/bench_….py` puts this folder on the path).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

EIRC = str(Path(sys.executable).parent / "eirc")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway_env(database_url: str, secret: str, **extra: str) -> dict[str, str]:
    """This environment without its EIRC_ settings, then a test gateway's own (and `extra`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(
        EIRC_ENV="test",
        EIRC_DATABASE_URL=database_url,
        EIRC_SECRET_KEY=secret,
        **extra,
        EIRC_LOG_LEVEL="WARNING",
    )
    return env


def start_gateway(
    env: dict[str, str], port: int, workers: int, *, worker: bool = False, log: Path | None = None
) -> subprocess.Popen:
    """`eirc serve` on 127.0.0.1:`port` (with its delivery worker only if `worker`), once /healthz answers
    (60 s at most). Its stderr goes to `log` when given (a long run must not fill a pipe nobody reads)."""
    args = [EIRC, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if not worker:
        args.append("--no-worker")
    stderr = log.open("w") if log else subprocess.PIPE
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)

    def said() -> str:
        if log:
            return log.read_text(errors="replace")[-2000:]
        return proc.stderr.read() if proc.stderr else ""

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"eirc serve exited: {said()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("eirc serve did not become healthy")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
