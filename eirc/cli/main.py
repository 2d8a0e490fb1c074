"""The `eirc` command line: one Typer root, one module per support task (CONTRACT §4)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from eirc.cli import billing as billing_cli
from eirc.cli import deliveries as deliveries_cli
from eirc.cli import gosuslugi as gosuslugi_cli
from eirc.cli import requests as requests_cli
from eirc.cli import sms as sms_cli
from eirc.cli import stats as stats_cli
from eirc.cli import users as users_cli
from eirc.cli.output import (
    JsonOption,
    configuration_error,
    fail,
    print_json,
    render_rows,
    say_error,
    stderr,
    with_container,
)
from eirc.cli.worker import worker as worker_command

app = typer.Typer(
    name="eirc",
    help="eirc — registration and sign-in gateway of the МосОблЕИРЦ customer portal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database migrations and retention", no_args_is_help=True)
schema_app = typer.Typer(help="The GraphQL schema", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(schema_app, name="schema")
app.add_typer(billing_cli.app, name="billing")
app.add_typer(deliveries_cli.app, name="deliveries")
app.add_typer(gosuslugi_cli.app, name="gosuslugi")
app.add_typer(requests_cli.app, name="requests")
app.add_typer(sms_cli.app, name="sms")
app.add_typer(stats_cli.app, name="stats")
app.add_typer(users_cli.app, name="users")
app.command("worker")(worker_command)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply Alembic migrations up to head (or REVISION)."""
    from eirc.settings import get_settings
    from eirc.storage.migrate import upgrade

    settings = get_settings()
    try:
        upgrade(settings.database_url, revision)
    except Exception as exc:  # one line, no traceback, for support engineers
        fail(f"migration failed: {type(exc).__name__}: {exc}".splitlines()[0])
    typer.echo(f"database is at {revision}", err=True)


@db_app.command("prune")
def db_prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be deleted")] = False,
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Keep finished rows this many days (default EIRC_RETENTION_DAYS)"),
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Delete rows no rule reads any more: expired counters and Госуслуги states; flows, sessions, e-mail
    tokens and sent or dead deliveries older than the retention (docs/retention.md). Users, addresses,
    billing data and connection requests are never touched."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from eirc.services.retention import TABLES, count_prunable, prune

    async def work(container) -> dict[str, int]:
        keep = days or container.settings.retention_days
        now = container.clock.now()
        if dry_run:
            return await count_prunable(container, now=now, retention_days=keep)
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), console=stderr, transient=True
        ) as bar:
            task = bar.add_task("pruning", total=None)

            def told(table: str, deleted: int) -> None:
                bar.update(task, description=f"pruning {table}: {deleted} rows")

            return await prune(container, now=now, retention_days=keep, progress=told)

    counts = with_container(work)
    rows = [{"table": t, ("would delete" if dry_run else "deleted"): counts.get(t, 0)} for t in TABLES]
    if as_json:
        print_json({"dry_run": dry_run, "counts": counts})
    else:
        render_rows(rows, as_json=False, title="would be deleted" if dry_run else "deleted")


@schema_app.command("export")
def schema_export(
    path: Annotated[Path | None, typer.Argument(help="Write here instead of stdout")] = None,
) -> None:
    """Print (or write) the GraphQL schema in SDL."""
    from eirc.graphql.schema import schema_sdl

    sdl = schema_sdl()
    if path is None:
        sys.stdout.write(sdl)
    else:
        path.write_text(sdl, encoding="utf-8")
        typer.echo(f"schema written to {path}", err=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Gateway processes")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="Migrate and load demo data first")] = False,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run the delivery worker")] = False,
) -> None:
    """Serve the gateway (GraphQL on /graphql) with uvicorn."""
    from eirc.web.server import ServeRefused
    from eirc.web.server import serve as run_server

    try:
        run_server(host=host, port=port, workers=workers, demo=demo, worker=not no_worker)
    except ServeRefused as exc:
        fail(str(exc))


def not_utf8(arguments: list[str]) -> str | None:
    """The line for the first argument that is not valid UTF-8 (a paste from a cp1251 terminal arrives as
    undecodable bytes, which Python keeps as lone surrogates), else None."""
    for position, argument in enumerate(arguments, start=1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            raw = os.fsencode(argument)
            return f"argument {position} is not valid UTF-8 ({raw[:40]!r}): type it again in a UTF-8 terminal"
    return None


def main() -> None:
    """The `eirc` command: the Typer app, with a configuration that cannot be used — or an argument that is
    not text — reported as one line (exit 1) by every command, never a traceback."""
    refusal = not_utf8(sys.argv[1:])
    if refusal is not None:
        say_error(refusal)
        sys.exit(1)
    try:
        app()
    except Exception as exc:
        line = configuration_error(exc)
        if line is None:
            raise
        say_error(line)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
