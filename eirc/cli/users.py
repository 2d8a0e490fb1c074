"""`eirc users …`: residents, for support engineers and CI (CONTRACT §4).

`create` makes a resident through the same services and rules as registration — without the SMS step.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from eirc.cli.output import JsonOption, fail, render_record, with_container

app = typer.Typer(help="Residents: create, find, show, unlock", no_args_is_help=True)


def _profile_record(profile: Any) -> dict[str, Any]:
    return {
        "id": profile.id,
        "phone": profile.phone,
        "email": profile.email,
        "email_confirmed": profile.email_confirmed,
        "last_name": profile.last_name,
        "first_name": profile.first_name,
        "middle_name": profile.middle_name,
        "birth_date": profile.birth_date,
        "email_notifications": profile.email_notifications,
        "addresses": [
            {"number": a.number, "account_number": a.account_number, "text": a.text, "primary": a.primary}
            for a in profile.addresses
        ],
    }


@app.command("create")
def create(
    phone: Annotated[str, typer.Option("--phone", help="Mobile number, any spelling (+7 916 123-45-67)")],
    password: Annotated[
        str, typer.Option("--password", help="Password by registration's rules; '-' reads it from stdin")
    ],
    last_name: Annotated[str, typer.Option("--last-name", help="Фамилия")],
    first_name: Annotated[str, typer.Option("--first-name", help="Имя")],
    email: Annotated[str, typer.Option("--email", help="E-mail (unconfirmed unless --email-confirmed)")],
    middle_name: Annotated[str | None, typer.Option("--middle-name", help="Отчество")] = None,
    birth_date: Annotated[
        datetime | None, typer.Option("--birth-date", formats=["%Y-%m-%d"], help="YYYY-MM-DD")
    ] = None,
    account: Annotated[str | None, typer.Option("--account", help="Billing account to prove and add")] = None,
    period: Annotated[str | None, typer.Option("--period", help="Period of the bill, YYYY-MM")] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", help="Amount due of that bill, e.g. 1234.56")
    ] = None,
    email_notifications: Annotated[
        bool, typer.Option("--email-notifications", help="Receive notifications by e-mail")
    ] = False,
    email_confirmed: Annotated[
        bool, typer.Option("--email-confirmed", help="Mark the e-mail confirmed (no letter is sent)")
    ] = False,
    as_json: bool = JsonOption,
) -> None:
    """Create a resident (no SMS). With --account/--period/--amount the account is proved as in registration
    and becomes the primary address; without them the resident has no address yet."""
    from eirc.services.users import AccountProof

    account_options = {"--account": account, "--period": period, "--amount": amount}
    given = [name for name, value in account_options.items() if value is not None]
    if given and len(given) != len(account_options):
        missing = ", ".join(name for name in account_options if name not in given)
        fail(f"--account, --period and --amount go together: {missing} missing")
    if password == "-":
        password = sys.stdin.readline().rstrip("\r\n")
    proof = AccountProof(account_number=account, period=period, amount_due=amount) if given else None  # type: ignore[arg-type]

    from eirc.services.users import create_user

    profile = with_container(
        lambda container: create_user(
            container,
            phone=phone,
            password=password,
            last_name=last_name,
            first_name=first_name,
            email=email,
            middle_name=middle_name,
            birth_date=birth_date.date() if birth_date else None,
            email_notifications=email_notifications,
            email_confirmed=email_confirmed,
            account=proof,
        )
    )
    render_record(_profile_record(profile), as_json=as_json, title="User created")


# --- sign-in support: import, find, show, unlock (services.user_import, services.user_support) ------------
@app.command("import")
def import_users(
    file: Annotated[
        str, typer.Argument(help="CSV: phone,last_name,first_name,middle_name,email,account_number")
    ],
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Rows per transaction")] = 5000,
    as_json: bool = JsonOption,
) -> None:
    """Import residents without a password (they set one by SMS). Re-importing is safe: phones are never
    duplicated; registered residents are kept as they are; refused rows are listed with line and reason."""
    from pathlib import Path

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from eirc.cli.output import render_rows, stderr, stdout
    from eirc.services.user_import import UserFileError
    from eirc.services.user_import import import_users as import_service

    path = Path(file)
    progress = Progress(
        TextColumn("importing users"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    )
    task = progress.add_task("import", total=None)

    started = False

    def advance(done: int, total: int) -> None:
        nonlocal started
        if not started:  # only once the file was found readable: a refused file prints one line, no bar
            progress.start()
            started = True
        progress.update(task, completed=done, total=total)

    async def work(container: Any) -> Any:
        try:
            return await import_service(container.uow, container.clock, path, batch_size=batch_size, progress=advance)
        finally:
            if started:
                progress.stop()

    report = with_container(work, plain=(UserFileError,))
    if as_json:
        from eirc.cli.output import print_json

        print_json(report.as_dict())
        return
    summary = report.as_dict()
    stdout.print(
        f"rows: {summary['rows']}  added: {report.added}  updated: {report.updated}  "
        f"unchanged: {report.unchanged}  kept (registered): {report.kept}  refused: {report.refused_count}  "
        f"time: {report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s)",
        highlight=False,
    )
    if report.refused:
        render_rows(summary["refused"], as_json=False, title="Refused rows", columns=["line", "reason"])


@app.command("find")
def find(
    login: Annotated[str, typer.Argument(help="Phone (any spelling) or e-mail")],
    as_json: bool = JsonOption,
) -> None:
    """The resident a phone or e-mail belongs to (exit 1 when nobody)."""
    from eirc.cli.output import render_rows
    from eirc.services.user_support import find_user

    row = with_container(lambda container: find_user(container, login))
    render_rows([row], as_json=as_json, title="User")


@app.command("show")
def show(
    user_id: Annotated[str, typer.Argument(metavar="ID", help="User id (a phone or e-mail works too)")],
    as_json: bool = JsonOption,
) -> None:
    """One resident: identity, e-mail, password set (yes/no), lock state, addresses, live sessions."""
    from eirc.services.user_support import show_user

    record = with_container(lambda container: show_user(container, user_id))
    render_record(record, as_json=as_json, title="User")


@app.command("unlock")
def unlock(
    login: Annotated[str, typer.Argument(help="Phone (any spelling), e-mail or user id")],
    as_json: bool = JsonOption,
) -> None:
    """Lift a sign-in lock (also the suspension after 100 consecutive failures) and forget failed attempts."""
    from eirc.services.user_support import unlock as unlock_service

    done = with_container(lambda container: unlock_service(container, login))
    record = {
        "id": done.user_id,
        "was_locked": done.was_locked,
        "locked_until": done.locked_until,
        "failed_attempts": done.failed_attempts,
        "consecutive_failures": done.consecutive_failures,
    }
    if as_json:
        render_record(record, as_json=True)
        return
    from eirc.cli.output import stdout

    if done.was_locked:
        stdout.print(
            f"user {done.user_id}: unlocked (was locked until {done.locked_until or 'a reset'})",
            highlight=False,
        )
    else:
        stdout.print(
            f"user {done.user_id}: was not locked; {done.failed_attempts} failed attempts forgotten",
            highlight=False,
        )
