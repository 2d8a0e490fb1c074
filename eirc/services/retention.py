"""Retention: rows that no rule reads any more are deleted, so the working tables do not grow forever.

What goes, and when (docs/retention.md):

| table | deleted |
|---|---|
| `counter` | its window or lock has ended (`expires_at` passed, not locked) — it counts as zero already; never a sign-in's consecutive-failures counter (`login:streak:…`), which time alone does not forget |
| `oidc_state` | expired (a Госуслуги sign-in must come back within minutes) |
| `flow` | `EIRC_RETENTION_DAYS` after it expired: until then its id still answers `FLOW_EXPIRED` |
| `user_session` | `EIRC_RETENTION_DAYS` after it ended or expired |
| `email_token` | `EIRC_RETENTION_DAYS` after it expired |
| `delivery` | sent or dead, `EIRC_RETENTION_DAYS` after it was created: support can still list and replay it until then; a pending message never |

Never deleted: users, their addresses and consents, billing data, connection requests and their history.

Rows are deleted in batches (each its own short transaction, by primary key), so a large backlog never holds
a long lock; the counts are the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, not_, or_, select

from eirc.storage.tables import Counter, Delivery, EmailToken, Flow, OidcState, Session

if TYPE_CHECKING:
    from eirc.bootstrap import Container

log = logging.getLogger("eirc.retention")

BATCH = 1000
STREAK_PREFIX = (
    "login:streak:"  # services.signin.streak_key: reset only by a success, an SMS reset or support
)


@dataclass(frozen=True)
class _Rule:
    table: str
    key: Any  # the primary key column
    condition: Callable[[datetime, datetime], Any]  # (now, horizon = now − retention) → WHERE clause


def _t(model: Any) -> Any:
    return model.__table__


RULES: tuple[_Rule, ...] = (
    _Rule(
        "counter",
        _t(Counter).c.key,
        lambda now, _h: and_(
            _t(Counter).c.expires_at <= now,
            or_(_t(Counter).c.locked_until.is_(None), _t(Counter).c.locked_until <= now),
            not_(_t(Counter).c.key.startswith(STREAK_PREFIX)),
        ),
    ),
    _Rule("oidc_state", _t(OidcState).c.id, lambda now, _h: _t(OidcState).c.expires_at <= now),
    _Rule("flow", _t(Flow).c.id, lambda _n, horizon: _t(Flow).c.expires_at <= horizon),
    _Rule(
        "user_session",
        _t(Session).c.id,
        lambda _n, horizon: or_(_t(Session).c.expires_at <= horizon, _t(Session).c.ended_at <= horizon),
    ),
    _Rule("email_token", _t(EmailToken).c.id, lambda _n, horizon: _t(EmailToken).c.expires_at <= horizon),
    _Rule(
        "delivery",
        _t(Delivery).c.id,
        lambda _n, horizon: and_(
            _t(Delivery).c.status.in_(("sent", "dead")), _t(Delivery).c.created_at <= horizon
        ),
    ),
)
TABLES = tuple(rule.table for rule in RULES)


def horizon_of(now: datetime, retention_days: int) -> datetime:
    return now - timedelta(days=retention_days)


async def count_prunable(c: Container, *, now: datetime, retention_days: int) -> dict[str, int]:
    """How many rows of each table `prune` would delete now (nothing is changed)."""
    horizon = horizon_of(now, retention_days)
    counts: dict[str, int] = {}
    async with c.uow() as tx:
        for rule in RULES:
            stmt = select(func.count()).select_from(rule.key.table).where(rule.condition(now, horizon))
            counts[rule.table] = int((await tx.session.execute(stmt)).scalar_one())
    return counts


async def prune(
    c: Container,
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
    for rule in RULES:
        total = 0
        while True:
            async with c.uow() as tx:
                keys = (
                    (
                        await tx.session.execute(
                            select(rule.key).where(rule.condition(now, horizon)).limit(batch)
                        )
                    )
                    .scalars()
                    .all()
                )
                if not keys:
                    break
                # the condition again: a row that changed since it was selected (a flow resumed, a delivery
                # replayed) stays
                result = await tx.session.execute(
                    delete(rule.key.table).where(rule.key.in_(keys), rule.condition(now, horizon))
                )
                await tx.commit()
            total += result.rowcount or 0
            if progress is not None:
                progress(rule.table, total)
            if len(keys) < batch:
                break
        deleted[rule.table] = total
    if any(deleted.values()):
        log.info("retention: deleted %s", ", ".join(f"{n} {t}" for t, n in deleted.items() if n))
    return deleted


async def run_periodically(c: Container, stop: asyncio.Event) -> None:
    """The delivery worker's companion (`eirc serve`, `eirc worker`): `prune` every
    `EIRC_PRUNE_INTERVAL_SECONDS` (0: never); a failure is logged and tried again at the next round."""
    interval = c.settings.prune_interval_seconds
    if interval <= 0:
        return
    while not stop.is_set():
        try:
            await prune(c, now=c.clock.now(), retention_days=c.settings.retention_days)
        except Exception as exc:  # the database may be briefly unreachable: the next round tries again
            log.error("retention: pruning failed: %s: %s", type(exc).__name__, str(exc).splitlines()[:1])
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
