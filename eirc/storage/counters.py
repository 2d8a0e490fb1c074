"""Fixed-window counters in the database: the one mechanism behind every limit.

`hit()` is a single `INSERT … ON CONFLICT DO UPDATE … RETURNING` statement, atomic on PostgreSQL and
SQLite alike, so a limit holds however many gateway processes share the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from eirc.storage.tables import Counter

_table = Counter.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Window:
    count: int
    expires_at: datetime

    def seconds_left(self, now: datetime) -> int:
        return max(0, int((self.expires_at - now).total_seconds() + 0.999))


def _insert(session: AsyncSession):
    return (postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert)(_table)  # type: ignore[union-attr]


async def hit(
    session: AsyncSession, key: str, *, now: datetime, window_seconds: float, amount: int = 1
) -> Window:
    """Add `amount` to the counter of `key` in its current window (a new window once it expired)."""
    expires = now + timedelta(seconds=window_seconds)
    stmt = _insert(session).values(key=key, count=amount, expires_at=expires)
    expired = _table.c.expires_at <= now
    stmt = stmt.on_conflict_do_update(
        index_elements=[_table.c.key],
        set_={
            "count": case((expired, amount), else_=_table.c.count + amount),
            "expires_at": case((expired, expires), else_=_table.c.expires_at),
        },
    ).returning(_table.c.count, _table.c.expires_at)
    row = (await session.execute(stmt)).one()
    return Window(count=row[0], expires_at=_aware(row[1]))


async def peek(session: AsyncSession, key: str, *, now: datetime) -> Window | None:
    row = (
        await session.execute(select(_table.c.count, _table.c.expires_at).where(_table.c.key == key))
    ).one_or_none()
    if row is None or _aware(row[1]) <= now:
        return None
    return Window(count=row[0], expires_at=_aware(row[1]))


async def reset(session: AsyncSession, *keys: str) -> None:
    await session.execute(delete(_table).where(_table.c.key.in_(keys)))


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(delete(_table).where(_table.c.expires_at <= now))
    return result.rowcount or 0


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)
