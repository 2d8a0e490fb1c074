"""Retention: rows that no rule reads any more are deleted, so the working tables do not grow forever.

What goes, and when: storage/retention.py and docs/retention.md. Never deleted: users, their addresses and
consents, billing data, connection requests and their history.

Rows are deleted in batches (each its own short transaction, by primary key), so a large backlog never holds
a long lock; the counts are the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from eirc.storage.retention import STREAK_PREFIX, TABLES

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.retention")

BATCH = 1000
__all__ = ["BATCH", "STREAK_PREFIX", "TABLES", "count_prunable", "prune", "run_periodically"]


def horizon_of(now: datetime, retention_days: int) -> datetime:
    return now - timedelta(days=retention_days)


async def count_prunable(deps: Deps, *, now: datetime, retention_days: int) -> dict[str, int]:
    """How many rows of each table `prune` would delete now (nothing is changed)."""
    horizon = horizon_of(now, retention_days)
    async with deps.uow() as tx:
        return {table: await tx.retention.count(table, now=now, horizon=horizon) for table in TABLES}


async def prune(
    deps: Deps,
    *,
    now: datetime,
    retention_days: int,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Delete what the rules allow, table by table, in batches; {table: rows deleted}.

    `progress(table, deleted)` is told after each batch. Safe to run in several processes at once: a row
    deleted by another process is simply not counted here.
    """
    horizon = horizon_of(now, retention_days)
    deleted: dict[str, int] = {}
    for table in TABLES:
        total = 0
        more = True
        while more:
            async with deps.uow() as tx:
                count, more = await tx.retention.delete_batch(table, now=now, horizon=horizon, batch=batch)
                await tx.commit()
            total += count
            if progress is not None and (count or more):
                progress(table, total)
        deleted[table] = total
    if any(deleted.values()):
        log.info("retention: deleted %s", ", ".join(f"{n} {t}" for t, n in deleted.items() if n))
    return deleted


async def run_periodically(deps: Deps, stop: asyncio.Event) -> None:
    """A background task beside the delivery worker (`eirc serve`, `eirc worker`): `prune` every
    `EIRC_PRUNE_INTERVAL_SECONDS` (0: never); a failure is logged and tried again at the next round."""
    interval = deps.settings.prune_interval_seconds
    if interval <= 0:
        return
    while not stop.is_set():
        try:
            await prune(deps, now=deps.clock.now(), retention_days=deps.settings.retention_days)
        except Exception as exc:  # the database may be briefly unreachable: the next round tries again
            log.error("retention: pruning failed: %s: %s", type(exc).__name__, str(exc).splitlines()[:1])
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
