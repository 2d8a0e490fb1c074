"""eirc as a whole, for operators and support: the figures `/metrics` reads from the database at each scrape,
the onboarding funnel and the outbox's outcomes (`eirc stats funnel`, `eirc stats deliveries`).

Reads only; the SQL is in storage/stats.py. docs/operations.md says what each figure means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from eirc.domain import funnel
from eirc.domain.flows import FlowKind
from eirc.services import lockout
from eirc.services.codes import GLOBAL_SMS_KEY
from eirc.storage.counters import aware

if TYPE_CHECKING:
    from eirc.services.deps import Deps


# --- what /metrics reads at each scrape ---------------------------------------------------------------------
@dataclass(frozen=True)
class ChannelFigures:
    pending: int = 0
    dead: int = 0
    oldest_pending_seconds: float = 0.0


@dataclass(frozen=True)
class LiveFigures:
    outbox: dict[str, ChannelFigures]
    requests_by_status: dict[str, int]
    locked: int  # sign-in subjects locked now, suspensions included
    suspended: int
    sms_budget_used: int
    sms_budget_limit: int


async def live_figures(deps: Deps) -> LiveFigures:
    """The database's figures for one scrape, read without a transaction (storage/stats.py)."""
    now = deps.clock.now()

    async def read(reads: Any) -> LiveFigures:
        stats = reads.stats
        outbox: dict[str, dict[str, Any]] = {}
        for channel, status, count, oldest in await stats.outbox():
            figures = outbox.setdefault(channel, {})
            figures[status] = int(count)
            if status == "pending" and oldest is not None:
                figures["oldest"] = max(0.0, (now - aware(oldest)).total_seconds())
        requests = {status: int(count) for status, count in await stats.requests_by_status()}
        locked, suspended = await stats.locks(
            prefix=lockout.fail_key(""),
            now=now,
            suspended_after=now + timedelta(seconds=lockout.SUSPENSION_SECONDS // 2),
        )
        budget = await stats.counter(GLOBAL_SMS_KEY, now=now)
        return LiveFigures(
            outbox={
                channel: ChannelFigures(f.get("pending", 0), f.get("dead", 0), round(f.get("oldest", 0.0), 3))
                for channel, f in outbox.items()
            },
            requests_by_status=requests,
            locked=locked,
            suspended=suspended,
            sms_budget_used=budget,
            sms_budget_limit=deps.settings.sms_global_per_hour,
        )

    return await deps.uow.read(read)


# --- eirc stats funnel ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Funnel:
    since: datetime
    steps: list[funnel.FunnelStep]

    def as_dict(self) -> dict[str, Any]:
        """CONTRACT §4a's JSON (`stopped`, flows that went no further, is this project's addition)."""
        return {"since": self.since.isoformat(), "steps": [s.as_dict() for s in self.steps]}


async def onboarding_funnel(deps: Deps, *, since: datetime) -> Funnel:
    """Of the registration flows started since `since`: how many reached each step, how many filed a
    connection request, and the error codes last seen by those that went no further (domain/funnel.py)."""
    async with deps.uow() as tx:
        rows = await tx.stats.funnel(kind=FlowKind.REGISTRATION.value, since=since)
    tallies = [
        funnel.FlowTally(
            furthest_step=furthest, step=step, last_error=error, filed=bool(filed), count=int(count)
        )
        for furthest, step, error, filed, count in rows
    ]
    return Funnel(since=since, steps=funnel.count_funnel(tallies))


# --- eirc stats deliveries ------------------------------------------------------------------------------------
@dataclass
class DeliveryOutcomes:
    channel: str
    gateway: str | None  # the gateway of the latest attempt; None: never attempted yet
    sent: int = 0
    dead: int = 0
    pending: int = 0
    seconds: list[float] = field(default_factory=list, repr=False)  # time to delivery of the sent ones

    def as_row(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "gateway": self.gateway,
            "sent": self.sent,
            "dead": self.dead,
            "pending": self.pending,
            "p50_seconds": percentile(self.seconds, 50),
            "p95_seconds": percentile(self.seconds, 95),
        }


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile, linearly interpolated between the closest ranks (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 3)


async def delivery_outcomes(deps: Deps, *, since: datetime) -> list[DeliveryOutcomes]:
    """The messages queued since `since`, per channel and gateway: sent, dead and pending, and the p50 and
    p95 time from queueing to delivery (sent_at − created_at) of the sent ones."""
    async with deps.uow() as tx:
        counts = await tx.stats.delivery_outcomes(since=since)
        times = await tx.stats.delivery_times(since=since)
    groups: dict[tuple[str, str | None], DeliveryOutcomes] = {}
    for channel, gateway, status, count in counts:
        group = groups.setdefault((channel, gateway), DeliveryOutcomes(channel, gateway))
        if status in ("sent", "dead", "pending"):
            setattr(group, status, getattr(group, status) + int(count))
    for channel, gateway, created_at, sent_at in times:
        group = groups.setdefault((channel, gateway), DeliveryOutcomes(channel, gateway))
        group.seconds.append(max(0.0, (aware(sent_at) - aware(created_at)).total_seconds()))
    return [groups[key] for key in sorted(groups, key=lambda k: (k[0], k[1] or ""))]
