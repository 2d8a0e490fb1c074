"""One way to print: rows as a rich table for people, or one JSON document with `--json` for scripts.

Errors are one line on stderr with exit code 1 (refused) — never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import date, datetime
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
        return Text(value.strftime("%Y-%m-%d %H:%M:%S"))
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
        fail("; ".join(f"{e.field or '-'}: {e.message}" for e in exc.errors))
    except DomainError as exc:
        fail(f"{exc.field + ': ' if exc.field else ''}{exc.message} [{exc.code}]")
    except Exception as exc:
        from sqlalchemy.exc import SQLAlchemyError  # not at import: `eirc --help` stays fast

        if isinstance(exc, SQLAlchemyError):
            fail(database_error(exc))
        raise


def with_container(work: Callable[[Any], Awaitable[Any]], plain: tuple[type[Exception], ...] = ()) -> Any:
    """Run `work(container)` with a container from the environment; a DomainError, a database failure or an
    exception of `plain` (its message alone) → exit 1 with one line, never a traceback."""

    async def go() -> Any:
        from eirc.bootstrap import build_container  # not at import: `eirc --help` stays fast

        container = build_container()
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
        hint = " (is the database migrated? run `eirc db upgrade`)"
    return f"database error: {type(cause).__name__}: {text}{hint}"


def lines(items: Iterable[str]) -> str:
    return "\n".join(items)
