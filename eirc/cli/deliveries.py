"""`eirc deliveries`: the outbox for support — list messages, replay one (CONTRACT §4)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from eirc.cli.output import JsonOption, fail, render_record, render_rows, run

app = typer.Typer(help="The outbox: SMS, e-mail and «Домопульт» messages", no_args_is_help=True)

TABLE_COLUMNS = [
    "id",
    "channel",
    "kind",
    "recipient",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "sent_at",
]


class Status(StrEnum):
    pending = "pending"
    sent = "sent"
    dead = "dead"


class Channel(StrEnum):
    sms = "sms"
    email = "email"
    crm = "crm"


def _container():
    from eirc.bootstrap import build_container

    return build_container()


@app.command("list")
def list_(
    status: Annotated[Status | None, typer.Option(help="Only messages in this state")] = None,
    channel: Annotated[Channel | None, typer.Option(help="Only this channel")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many, newest first")] = 50,
    as_json: bool = JsonOption,
) -> None:
    """List messages, newest first: never a secret nor a message text; phones masked."""
    from eirc.delivery.support import list_deliveries

    async def go() -> list[dict]:
        container = _container()
        try:
            views = await list_deliveries(
                container.uow,
                status=status.value if status else None,
                channel=channel.value if channel else None,
                limit=limit,
            )
        finally:
            await container.dispose()
        return [v.as_row() for v in views]

    rows = run(go())
    render_rows(rows, as_json=as_json, title="deliveries", columns=TABLE_COLUMNS)


@app.command("replay")
def replay_(
    delivery_id: Annotated[str, typer.Argument(metavar="ID", help="The delivery id (from `list`)")],
    as_json: bool = JsonOption,
) -> None:
    """Queue a dead or sent message again, now, with the same idempotency key."""
    from eirc.delivery.support import ReplayRefused, replay

    async def go() -> dict:
        container = _container()
        try:
            view = await replay(
                container.uow, delivery_id, now=container.clock.now(), max_age_seconds=container.settings.delivery_max_age_seconds
            )
        finally:
            await container.dispose()
        return view.as_row()

    try:
        row = run(go())
    except ReplayRefused as exc:
        fail(str(exc))
    render_record(row, as_json=as_json, title="queued again")


@app.command("retry")
def retry_(
    channel: Annotated[Channel | None, typer.Option(help="Only this channel")] = None,
) -> None:
    """Make pending messages due now (e.g. once a provider is back after an outage)."""
    from eirc.delivery.support import retry_now

    async def go() -> int:
        container = _container()
        try:
            return await retry_now(container.uow, now=container.clock.now(), channel=channel.value if channel else None)
        finally:
            await container.dispose()

    count = run(go())
    typer.echo(f"{count} pending message(s) due now", err=True)
