"""`eirc billing import` / `eirc billing show` (CONTRACT §4) on both backends: the big import as CI runs it (the
real command in a subprocess), the rest in-process through Typer's runner (same code, faster)."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eirc.settings import reset_settings_cache

EIRC = str(Path(sys.executable).with_name("eirc"))
PERIODS = ("2025-10", "2025-11", "2025-12")
ACCOUNTS = 20_000
# line number (the header is line 1) → (row, words of the reason)
BAD = {
    7: (["5000000777", "2025-13", "100.00", "г.Москва, ул.Ленина, д.1"], "period must be YYYY-MM"),
    1_000: (["5000000999", "2025-11", "сто", "г.Москва, ул.Ленина, д.1"], "amount_due must be an amount"),
    20_001: (["", "2025-11", "1.00", "г.Москва, ул.Ленина, д.1"], "account_number is empty"),
    45_678: (["5000045678", "2025-12", "1.00", ""], "address is empty"),
    60_004: (
        ["5000000002", "2025-10", "1.00", "г.Москва, ул.Ленина, д.2"],
        "the same account and period as line",
    ),
}


def environment(container) -> dict[str, str]:
    return {
        "EIRC_DATABASE_URL": container.settings.database_url,
        "EIRC_SECRET_KEY": container.settings.secret_key,
        "EIRC_ENV": "test",
        "COLUMNS": "200",  # rich wraps tables to the terminal's width; keep reasons on one line
    }


async def eirc(container, *args: str) -> subprocess.CompletedProcess:
    """The installed `eirc` command in a subprocess."""
    env = {**os.environ, **environment(container)}
    return await asyncio.to_thread(
        subprocess.run, [EIRC, *args], env=env, capture_output=True, text=True, timeout=300
    )


async def invoke(container, *args: str) -> subprocess.CompletedProcess:
    """The same command in this process (in a thread: it runs its own event loop)."""
    from eirc.cli.main import app

    def call() -> subprocess.CompletedProcess:
        reset_settings_cache()
        try:
            result = CliRunner().invoke(app, list(args), env=environment(container))
        finally:
            reset_settings_cache()
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)

    return await asyncio.to_thread(call)


def amount(n: int, period: str) -> int:
    return 10_000 + (n * 37 + int(period[-2:]) * 101) % 900_000


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    """60,000 good rows (20,000 accounts × 3 months) and the bad rows of BAD at their line numbers."""
    good = (
        [
            f"{5_000_000_000 + n}",
            period,
            f"{amount(n, period) / 100:.2f}",
            f"г.Москва, ул.Ленина, д.{n % 200}, кв.{n}",
        ]
        for n in range(ACCOUNTS)
        for period in PERIODS
    )
    path = tmp_path_factory.mktemp("billing") / "bills.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["account_number", "period", "amount_due", "address"])
        line = 1
        total = ACCOUNTS * len(PERIODS) + len(BAD)
        while line < total + 1:
            line += 1
            out.writerow(BAD[line][0] if line in BAD else next(good))
    return path


async def test_import_a_big_file_then_again(container, big_file):
    done = await eirc(container, "billing", "import", str(big_file), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    good = ACCOUNTS * len(PERIODS)
    assert report["rows"] == good + len(BAD)
    assert (report["added"], report["updated"], report["unchanged"]) == (good, 0, 0)
    assert [r["line"] for r in report["refused"]] == sorted(BAD)
    for r in report["refused"]:
        assert BAD[r["line"]][1] in r["reason"]
    assert report["refused_count"] == len(BAD)

    again = await eirc(container, "billing", "import", str(big_file), "--json")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert (second["added"], second["updated"], second["unchanged"]) == (0, 0, good)
    assert second["refused"] == report["refused"]


async def test_the_table_lists_the_refused_rows(container, tmp_path):
    path = tmp_path / "small.csv"
    path.write_text(
        "account_number,period,amount_due,address\n"
        '5001,2025-12,"1 234,56","г.Москва, ул.Вяземская, д.34, к.2, кв.90"\n'
        '5001,2025-11,1200.00,"г.Москва, ул.Вяземская, д.34, к.2, кв.90"\n'
        "5002,2025-12,12.3.4,somewhere\n"
        "[/red],2025-12,1.00,not markup\n",  # data is printed as it is, never read as rich markup
        encoding="utf-8",
    )
    done = await invoke(container, "billing", "import", str(path))
    assert done.returncode == 0, done.stderr
    assert "added" in done.stdout and "refused rows" in done.stdout
    assert "amount_due must be an amount in roubles" in done.stdout and "'12.3.4'" in done.stdout
    summary = {
        cells[0]: cells[1]
        for cells in (
            [c.strip() for c in line.strip("│┃ ").split("│")]
            for line in done.stdout.splitlines()
            if "│" in line
        )
        if len(cells) == 2
    }
    assert (summary["rows"], summary["added"], summary["refused"]) == ("4", "2", "2")
    assert "'[/red]'" in done.stdout

    shown = await invoke(container, "billing", "show", "5001")
    assert shown.returncode == 0, shown.stderr
    assert "г.Москва, ул.Вяземская, д.34, к.2, кв.90" in shown.stdout
    assert "1 234,56 ₽" in shown.stdout and "1 200,00 ₽" in shown.stdout and "декабрь 2025" in shown.stdout
    assert shown.stdout.index("2025-12") < shown.stdout.index("2025-11")  # newest first

    as_json = await invoke(container, "billing", "show", "5001", "--json")
    assert json.loads(as_json.stdout) == {
        "account_number": "5001",
        "address": "г.Москва, ул.Вяземская, д.34, к.2, кв.90",
        "bills": [
            {"period": "2025-12", "label": "декабрь 2025", "amount_kopecks": 123456, "amount": "1234.56"},
            {"period": "2025-11", "label": "ноябрь 2025", "amount_kopecks": 120000, "amount": "1200.00"},
        ],
    }


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    for word in words:
        assert word in lines[0]


async def test_files_that_cannot_be_imported(container, tmp_path):
    one_line_error(
        await invoke(container, "billing", "import", str(tmp_path / "missing.csv")), "no such file"
    )
    one_line_error(await invoke(container, "billing", "import", str(tmp_path)), "is a directory")
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20)
    one_line_error(await eirc(container, "billing", "import", str(binary)), "not a UTF-8")  # a real process
    wrong = tmp_path / "users.csv"
    wrong.write_text("phone,last_name,first_name\n+79161234567,Иванов,Иван\n", encoding="utf-8")
    one_line_error(await invoke(container, "billing", "import", str(wrong), "--json"), "header")


async def test_show_an_unknown_account(container):
    one_line_error(await invoke(container, "billing", "show", "0000000"), "not found")
    one_line_error(await invoke(container, "billing", "show", "0000000", "--json"), "not found")
