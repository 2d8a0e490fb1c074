"""One way to print: rows as a rich table for people, or one JSON document with `--json` for scripts.

Errors are one line on stderr with exit code 1 (refused) — never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from eirc.domain.errors import DomainError, DomainErrors

# Piped into a file or `less`, rich would squeeze tables to 80 columns and cut ids short; give it room
# (scripts should use --json anyway). A terminal keeps its own width; COLUMNS still wins when set.
_PIPED_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 220
stdout = Console(soft_wrap=True, width=_PIPED_WIDTH)
stderr = Console(stderr=True, soft_wrap=True)

JsonOption = typer.Option(False, "--json", help="Print one JSON document instead of a table")
# Tables show times as support reads them: Moscow time (UTC+3 all year since 2014), with its offset.
# `--json` keeps ISO 8601 in UTC.
MOSCOW = timezone(timedelta(hours=3), "MSK")


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return str(value)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=_default) + "\n")
    sys.stdout.flush()


def _cell(value: Any) -> Text:
    """Cells are plain text: data (an address, a CSV value) must never be read as rich markup."""
    if value is None:
        return Text("—")
    if isinstance(value, bool):
        return Text("да" if value else "нет")
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return Text(aware.astimezone(MOSCOW).isoformat(sep=" ", timespec="seconds"))
    return Text(str(value))


def _title(title: str | None) -> Text | None:
    return Text(title) if title else None


def render_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    as_json: bool,
    title: str | None = None,
    columns: Sequence[str] | None = None,
) -> None:
    """A list of rows: a table (columns = keys of the first row unless given) or a JSON array."""
    if as_json:
        print_json(list(rows))
        return
    cols = list(columns or (rows[0].keys() if rows else []))
    table = Table(title=_title(title), show_lines=False)
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in cols))
    if not rows:
        stdout.print(f"{title + ': ' if title else ''}nothing found", markup=False, highlight=False)
        return
    stdout.print(table)


def render_record(record: Mapping[str, Any], *, as_json: bool, title: str | None = None) -> None:
    """One object: a two-column table (field, value) or a JSON object."""
    if as_json:
        print_json(dict(record))
        return
    table = Table(title=_title(title), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in record.items():
        if isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False, default=_default)
        table.add_row(Text(key), _cell(value))
    stdout.print(table)


def say_error(message: str) -> None:
    """The one line on stderr of a refused command."""
    stderr.print(f"[red]error:[/red] {escape(message)}", highlight=False, markup=True)


def fail(message: str, code: int = 1) -> NoReturn:
    say_error(message)
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a use case; a DomainError or a database failure becomes one line on stderr and exit code 1."""
    try:
        return asyncio.run(coro)
    except DomainErrors as exc:
        fail("; ".join(f"{e.field or '-'}: {e.message}{_rules(e)}" for e in exc.errors))
    except DomainError as exc:
        fail(f"{exc.field + ': ' if exc.field else ''}{exc.message}{_rules(exc)} [{exc.code}]")
    except Exception as exc:
        from sqlalchemy.exc import SQLAlchemyError  # not at import: `eirc --help` stays fast

        if isinstance(exc, SQLAlchemyError):
            fail(database_error(exc))
        raise


def _rules(error: DomainError) -> str:
    """The password rules a refused password broke, as the screen lists them."""
    if not error.failed_rules:
        return ""
    from eirc.domain.texts import PASSWORD_RULE_TEXTS

    names = [PASSWORD_RULE_TEXTS.get(str(rule), str(rule)) for rule in error.failed_rules]
    return " (не выполнено: " + "; ".join(f"«{name}»" for name in names) + ")"


def with_container(work: Callable[[Any], Awaitable[Any]], plain: tuple[type[Exception], ...] = ()) -> Any:
    """Run `work(container)` with a container from the environment; a DomainError, a database failure or an
    exception of `plain` (its message alone) → exit 1 with one line, never a traceback."""

    async def go() -> Any:
        container = open_container()
        try:
            return await work(container)
        finally:
            await container.dispose()

    try:
        return run(go())
    except typer.Exit:
        raise
    except plain as exc:
        fail(str(exc).splitlines()[0][:300])
    except Exception as exc:  # one line for support, never a traceback
        fail(configuration_error(exc) or f"{type(exc).__name__}: {exc}".splitlines()[0][:300])


def open_container() -> Any:
    """The container of a support command. A SQLite database that does not exist is refused with a line
    naming the file — not created empty: `EIRC_DATABASE_URL=sqlite:///var/eirc.db` is relative to the current
    directory, and a command run from elsewhere would otherwise open a fresh, empty database there."""
    from eirc.bootstrap import build_container  # not at import: `eirc --help` stays fast
    from eirc.settings import get_settings, sqlite_path

    path = sqlite_path(get_settings().database_url)
    if path is not None and not os.path.exists(path):
        fail(
            f"no database at {path} (EIRC_DATABASE_URL={get_settings().database_url}, relative to the current "
            "directory): run the command where the gateway's database is, set EIRC_DATABASE_URL, "
            "or create it with `eirc db upgrade`"
        )
    return build_container()


def configuration_error(exc: BaseException) -> str | None:
    """The line for settings that cannot be used (eirc.settings.ConfigurationError), else None."""
    from eirc.settings import ConfigurationError  # not at import: pydantic-settings would slow `eirc --help`

    return f"configuration: {exc}" if isinstance(exc, ConfigurationError) else None


def database_error(exc: Exception) -> str:
    """One line for a support engineer: what the database said, and the usual fix when there is one."""
    cause = getattr(exc, "orig", None) or exc
    text = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    hint = ""
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        hint = f" (the database {_which_database()} is not migrated: run `eirc db upgrade`)"
    return f"database error: {type(cause).__name__}: {text}{hint}"


def _which_database() -> str:
    from sqlalchemy.engine import make_url

    from eirc.settings import get_settings, sqlite_path

    url = get_settings().database_url
    return sqlite_path(url) or make_url(url).render_as_string(hide_password=True)


def lines(items: Iterable[str]) -> str:
    return "\n".join(items)
