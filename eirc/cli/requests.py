"""`eirc requests`: connection requests for support — list, show, take, resolve, reject (CONTRACT §4).

A thin door onto services.requests_support. A request is named by its id or a unique prefix of it (at least
6 characters). Exit 0 on success, 1 with one line on a refused operation (unknown id, an illegal status
change, a bad reason), 2 on bad usage.
"""

from __future__ import annotations

import getpass
from enum import StrEnum
from typing import Annotated, Any

import typer

from eirc.cli.output import JsonOption, fail, print_json, render_record, render_rows, stdout, with_container

app = typer.Typer(help="Connection requests («Заявка на подключение»): list, show, take, resolve, reject",
                  no_args_is_help=True)  # fmt: skip

# A table fits a terminal; `--json` and `show` hold every field (e-mail, the account tried, …).
LIST_COLUMNS = ["id", "status", "created_at", "phone", "name", "address", "assignee"]
HISTORY_COLUMNS = ["at", "from_status", "to_status", "actor", "reason"]


class Status(StrEnum):
    new = "new"
    in_progress = "in_progress"
    resolved = "resolved"
    rejected = "rejected"


def default_actor() -> str:
    """The OS user running the command (who took or resolved a request is recorded)."""
    try:
        return getpass.getuser() or "support"
    except Exception:  # no login name in some containers
        return "support"


IdArgument = Annotated[
    str, typer.Argument(metavar="ID", help="Request id, or a unique prefix (≥ 6 characters)")
]
ActorOption = Annotated[
    str | None, typer.Option("--as", metavar="NAME", help="Who does it (default: the OS user)")
]


def _actor(given: str | None) -> str:
    from eirc.domain.errors import DomainError
    from eirc.domain.requests import ACTOR_MAX_LENGTH, parse_actor

    try:
        return parse_actor(given if given is not None else default_actor())
    except DomainError:
        fail(f"--as must be a name of 1 to {ACTOR_MAX_LENGTH} characters")


@app.command("list")
def list_(
    status: Annotated[Status | None, typer.Option(help="Only requests in this status")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many, newest first")] = 50,
    as_json: bool = JsonOption,
) -> None:
    """List requests, newest first."""
    from eirc.services.requests_support import list_requests

    rows = with_container(lambda container: list_requests(container, status=status.value if status else None, limit=limit))
    render_rows(rows, as_json=as_json, title="connection requests", columns=LIST_COLUMNS)


@app.command("show")
def show(request_id: IdArgument, as_json: bool = JsonOption) -> None:
    """Every field of one request and its status history (time, from, to, who, reason)."""
    from eirc.services.requests_support import show_request

    record = with_container(lambda container: show_request(container, request_id))
    if as_json:
        print_json(record)
        return
    history = record.pop("history")
    render_record(record, as_json=False, title="connection request")
    render_rows(history, as_json=False, title="status history", columns=HISTORY_COLUMNS)


def _report(change: Any, as_json: bool) -> None:
    if as_json:
        print_json(change.as_dict())
        return
    request = change.request
    if not change.changed:
        stdout.print(
            f"request {request['id']}: already {request['status']}, assigned to {request['assignee']}",
            highlight=False,
            markup=False,
        )
        return
    told = " and ".join("SMS" if ch == "sms" else "e-mail" for ch in change.notified) or "nothing sent"
    stdout.print(
        f"request {request['id']}: {change.from_status} → {change.to_status}, "
        f"assignee {request['assignee']}; resident told: {told}",
        highlight=False,
        markup=False,
    )


@app.command("take")
def take(request_id: IdArgument, actor: ActorOption = None, as_json: bool = JsonOption) -> None:
    """Assign the request (to yourself by default); status in_progress."""
    from eirc.services.requests_support import take_request

    who = _actor(actor)
    _report(with_container(lambda container: take_request(container, request_id, actor=who)), as_json)


@app.command("resolve")
def resolve(request_id: IdArgument, actor: ActorOption = None, as_json: bool = JsonOption) -> None:
    """The address is in the system: status resolved; the resident is told by SMS and e-mail."""
    from eirc.services.requests_support import resolve_request

    who = _actor(actor)
    _report(with_container(lambda container: resolve_request(container, request_id, actor=who)), as_json)


@app.command("reject")
def reject(
    request_id: IdArgument,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (told to the resident; at most 1000 characters)")
    ],
    actor: ActorOption = None,
    as_json: bool = JsonOption,
) -> None:
    """Status rejected with the reason; the resident is told by SMS and e-mail, with the reason."""
    from eirc.domain.errors import DomainError, ErrorCode
    from eirc.domain.requests import REASON_MAX_LENGTH, parse_reason
    from eirc.services.requests_support import reject_request

    try:
        parse_reason(reason)
    except DomainError as exc:
        if exc.code == ErrorCode.REQUIRED:
            fail("--reason must not be empty: the resident is told why")
        if exc.code == ErrorCode.TOO_LONG:
            fail(f"--reason is longer than {REASON_MAX_LENGTH} characters")
        fail("--reason holds control characters")
    who = _actor(actor)
    _report(with_container(lambda container: reject_request(container, request_id, actor=who, reason=reason)), as_json)
