"""`eirc billing …`: load the billing centre's data, look an account up (CONTRACT §4)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from eirc.cli.output import (
    JsonOption,
    fail,
    open_container,
    print_json,
    render_record,
    render_rows,
    run,
    stderr,
    stdout,
)
from eirc.domain.money import format_amount
from eirc.domain.periods import Period

app = typer.Typer(help="Billing data: accounts, addresses and bills", no_args_is_help=True)


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(help="CSV with the header account_number,period,amount_due,address (UTF-8)")
    ],
    as_json: bool = JsonOption,
) -> None:
    """Import (upsert) accounts and bills from the billing centre's CSV.

    Every row is validated: a refused row is listed with its line number and reason, nothing of it is written.

    Exit code 0 even when some rows were refused; 1 when the file cannot be read at all.
    """
    from eirc.services.billing_import import BillingFileError

    with _progress_bar(f"importing {file.name}") as on_progress:
        try:
            report = run(_import(file, on_progress))
        except BillingFileError as exc:
            fail(str(exc))
    if as_json:
        print_json(report.as_dict())
        return
    render_record(
        {
            "rows": report.rows,
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "refused": report.refused_count,
            "time": f"{report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s)",
        },
        as_json=False,
        title=f"billing import: {file}",
    )
    if report.refused:
        render_rows(
            [{"line": r.line, "reason": r.reason} for r in report.refused],
            as_json=False,
            title="refused rows",
        )
    hidden = report.refused_count - len(report.refused)
    if hidden:
        stdout.print(f"… and {hidden:,} more refused rows not listed")


async def _import(file: Path, on_progress: Callable[[int, int], None] | None) -> Any:
    from eirc.services.billing_import import import_billing_csv

    container = open_container()
    try:
        return await import_billing_csv(container.uow, container.clock, file, progress=on_progress)
    finally:
        await container.dispose()


@contextmanager
def _progress_bar(description: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal (nothing in pipes, CI logs and --json scripts)."""
    if not stderr.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield on_progress


@app.command("show")
def show(
    account: Annotated[str, typer.Argument(help="Billing account number (лицевой счет)")],
    as_json: bool = JsonOption,
) -> None:
    """An account's address and bills, newest first."""
    found = run(_show(account))
    if found is None:
        fail(f"billing account {account.strip()!r} not found")
    bills = [
        {
            "period": period,
            "label": Period.parse(period).label,
            "amount_kopecks": kopecks,
            "amount": plain_amount(kopecks),
        }
        for period, kopecks in found.bills
    ]
    if as_json:
        print_json({"account_number": found.account_number, "address": found.address, "bills": bills})
        return
    render_record(
        {"account": found.account_number, "address": found.address}, as_json=False, title="billing account"
    )
    render_rows(
        [
            {"period": b["period"], "month": b["label"], "amount due": rubles(b["amount_kopecks"])}
            for b in bills
        ],
        as_json=False,
        title="bills",
    )


async def _show(account: str) -> Any:
    from eirc.services.billing import show_account

    container = open_container()
    try:
        return await show_account(container.uow, account)
    finally:
        await container.dispose()


def rubles(kopecks: int) -> str:
    """For people: ``123456`` → ``1 234,56 ₽``."""
    return f"{format_amount(kopecks)} ₽"


def plain_amount(kopecks: int) -> str:
    """For scripts, in the import file's format: ``123456`` → ``1234.56``."""
    sign = "-" if kopecks < 0 else ""
    roubles, rest = divmod(abs(kopecks), 100)
    return f"{sign}{roubles}.{rest:02d}"
