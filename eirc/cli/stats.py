"""`eirc stats`: eirc as a whole, for support (CONTRACT §4, §4a; docs/operations.md).

- `funnel`: of the registration flows started in the window, how many reached each step, how many filed a
  connection request, and the error codes last seen by those that went no further — a table with a bar per
  step, or CONTRACT §4a's JSON.
- `deliveries`: the outbox's messages queued in the window, per channel and gateway — sent, dead, pending —
  and the p50 / p95 time from queueing to delivery.

`--since` is a duration back from now (`30m`, `12h`, `7d`, `2w`) or a date / time (`2026-01-01`,
`2026-01-01T09:00+03:00`; a time without an offset is UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from eirc.cli.output import MOSCOW, JsonOption, print_json, stdout, with_container

app = typer.Typer(
    help="Figures for support: the onboarding funnel, the outbox's outcomes", no_args_is_help=True
)

_DURATION = re.compile(r"([0-9]{1,6})\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
BAR_WIDTH = 20


def parse_since(text: str, now: datetime) -> datetime:
    """`7d` → now − 7 days; `2026-01-01` → that midnight UTC. ValueError when it is neither."""
    value = text.strip().lower()
    match = _DURATION.fullmatch(value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _since_callback(value: str) -> str:
    try:
        parse_since(value, datetime.now(UTC))
    except (ValueError, OverflowError):
        raise typer.BadParameter("a duration (30m, 12h, 7d, 2w) or a date (2026-01-01)") from None
    return value


SinceOption = Annotated[
    str,
    typer.Option(
        "--since",
        callback=_since_callback,
        help="From when: a duration back from now (30m, 12h, 7d, 2w) or a date / time (2026-01-01)",
    ),
]


@app.command("funnel")
def funnel(since: SinceOption = "7d", as_json: bool = JsonOption) -> None:
    """Registration flows started since --since: how many reached each step, and which errors stopped them."""
    from eirc.services.stats import onboarding_funnel

    async def work(container: Any) -> Any:
        return await onboarding_funnel(container, since=parse_since(since, container.clock.now()))

    result = with_container(work)
    if as_json:
        print_json(result.as_dict())
        return
    started = result.steps[0].reached
    table = Table(title=Text(f"registration flows started since {_local(result.since)}: {started}"))
    for column in ("step", "reached", "%"):
        table.add_column(column, justify="left" if column == "step" else "right", no_wrap=True)
    table.add_column("", min_width=BAR_WIDTH, no_wrap=True)  # the bar
    table.add_column("stopped", justify="right", no_wrap=True)  # went no further
    table.add_column("their last errors", min_width=20)
    for step in result.steps:
        share = step.reached / started if started else 0.0
        errors = "\n".join(f"{code} {n}" for code, n in step.as_dict()["stopped_by"].items())
        table.add_row(
            Text(step.step),
            Text(str(step.reached)),
            Text(f"{share:.0%}" if started else "—"),
            Text("█" * round(share * BAR_WIDTH), style="green"),
            Text(str(step.stopped) if step.step != "STARTED" else ""),
            Text(errors or ""),
        )
    stdout.print(table)


@app.command("deliveries")
def deliveries(since: SinceOption = "7d", as_json: bool = JsonOption) -> None:
    """Messages queued since --since, per channel and gateway: sent, dead, pending, time to delivery."""
    from eirc.services.stats import delivery_outcomes

    holder: dict[str, datetime] = {}

    async def work(container: Any) -> Any:
        holder["since"] = parse_since(since, container.clock.now())
        return await delivery_outcomes(container, since=holder["since"])

    rows = [group.as_row() for group in with_container(work)]
    if as_json:
        print_json({"since": holder["since"].isoformat(), "rows": rows})
        return
    table = Table(title=Text(f"deliveries queued since {_local(holder['since'])}"))
    for column in ("channel", "gateway", "sent", "dead", "pending", "p50", "p95"):
        table.add_column(column, justify="left" if column in ("channel", "gateway") else "right")
    for row in rows:
        table.add_row(
            *(
                Text(str(v))
                for v in (
                    row["channel"],
                    row["gateway"] or "— (not tried yet)",
                    row["sent"],
                    row["dead"],
                    row["pending"],
                    _seconds(row["p50_seconds"]),
                    _seconds(row["p95_seconds"]),
                )
            )
        )
    if not rows:
        stdout.print("deliveries: nothing queued in that window", markup=False, highlight=False)
        return
    stdout.print(table)


def _local(when: datetime) -> str:
    return when.astimezone(MOSCOW).isoformat(sep=" ", timespec="minutes")


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"
