"""Retention's statements: which rows of each working table no rule reads any more (services/retention.py
has the schedule and docs/retention.md the rules).

| table | prunable |
|---|---|
| `counter` | its window or lock has ended (`expires_at` passed, not locked) — it counts as zero already; never a sign-in's consecutive-failures counter (`login:streak:…`), which time alone does not forget |
| `oidc_state` | expired (a Госуслуги sign-in must come back within minutes) |
| `flow` | `horizon` passed since it expired: until then its id still answers `FLOW_EXPIRED` |
| `user_session` | ended or expired before `horizon` |
| `email_token` | expired before `horizon` |
| `delivery` | sent or dead, created before `horizon`; a pending message never |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, not_, or_, select

from eirc.storage.repository import Repository
from eirc.storage.tables import Counter, Delivery, EmailToken, Flow, OidcState, Session

# services.lockout.streak_key: reset only by a success, an SMS reset or support
STREAK_PREFIX = "login:streak:"


@dataclass(frozen=True)
class _Rule:
    key: Any  # the primary key column
    condition: Callable[[datetime, datetime], Any]  # (now, horizon) → WHERE clause


def _t(model: Any) -> Any:
    return model.__table__


RULES: dict[str, _Rule] = {
    "counter": _Rule(
        _t(Counter).c.key,
        lambda now, _h: and_(
            _t(Counter).c.expires_at <= now,
            or_(_t(Counter).c.locked_until.is_(None), _t(Counter).c.locked_until <= now),
            not_(_t(Counter).c.key.startswith(STREAK_PREFIX)),
        ),
    ),
    "oidc_state": _Rule(_t(OidcState).c.id, lambda now, _h: _t(OidcState).c.expires_at <= now),
    "flow": _Rule(_t(Flow).c.id, lambda _n, horizon: _t(Flow).c.expires_at <= horizon),
    "user_session": _Rule(
        _t(Session).c.id,
        lambda _n, horizon: or_(_t(Session).c.expires_at <= horizon, _t(Session).c.ended_at <= horizon),
    ),
    "email_token": _Rule(_t(EmailToken).c.id, lambda _n, horizon: _t(EmailToken).c.expires_at <= horizon),
    "delivery": _Rule(
        _t(Delivery).c.id,
        lambda _n, horizon: and_(
            _t(Delivery).c.status.in_(("sent", "dead")), _t(Delivery).c.created_at <= horizon
        ),
    ),
}
TABLES = tuple(RULES)


class Retention(Repository):
    async def count(self, table: str, *, now: datetime, horizon: datetime) -> int:
        rule = RULES[table]
        stmt = select(func.count()).select_from(rule.key.table).where(rule.condition(now, horizon))
        return int((await self.session.execute(stmt)).scalar_one())

    async def delete_batch(self, table: str, *, now: datetime, horizon: datetime, batch: int) -> tuple[int, bool]:
        """Delete up to `batch` prunable rows, by primary key: (rows deleted, whether more may be left)."""
        rule = RULES[table]
        keys = list(
            (await self.session.execute(select(rule.key).where(rule.condition(now, horizon)).limit(batch))).scalars()
        )
        if not keys:
            return 0, False
        # the condition again: a row that changed since it was selected (a flow resumed, a delivery replayed)
        # stays
        result = await self.session.execute(
            delete(rule.key.table).where(rule.key.in_(keys), rule.condition(now, horizon))
        )
        return result.rowcount or 0, len(keys) == batch
