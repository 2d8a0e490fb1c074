"""Fixed-window counters in the database: the one mechanism behind every rate limit.

`hit()` is a single `INSERT … ON CONFLICT DO UPDATE … RETURNING` statement, atomic on PostgreSQL and
SQLite alike, so a limit holds however many gateway processes share the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from eirc.storage.repository import Repository
from eirc.storage.tables import Counter

_table = Counter.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Window:
    count: int
    expires_at: datetime

    def seconds_left(self, now: datetime) -> int:
        return max(0, int((self.expires_at - now).total_seconds() + 0.999))


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def upsert(dialect: str):
    """The dialect's INSERT that takes `on_conflict_do_update` (PostgreSQL and SQLite spell it alike)."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_table)


class Counters(Repository):
    async def hit(self, key: str, *, now: datetime, window_seconds: float, amount: int = 1) -> Window:
        """Add `amount` to the counter of `key` in its current window (a new window once it expired)."""
        expires = now + timedelta(seconds=window_seconds)
        expired = _table.c.expires_at <= now
        stmt = (
            upsert(self.dialect)
            .values(key=key, count=amount, expires_at=expires)
            .on_conflict_do_update(
                index_elements=[_table.c.key],
                set_={
                    "count": case((expired, amount), else_=_table.c.count + amount),
                    "expires_at": case((expired, expires), else_=_table.c.expires_at),
                },
            )
            .returning(_table.c.count, _table.c.expires_at)
        )
        row = (await self.session.execute(stmt)).one()
        return Window(count=row[0], expires_at=aware(row[1]))

    async def hit_many(self, hits: list[tuple[str, float]], *, now: datetime, amount: int = 1) -> dict[str, Window]:
        """`hit` for several (key, window_seconds) at once: one statement. Keys are taken in sorted order, so
        concurrent transactions counting the same keys lock them alike."""
        if not hits:
            return {}
        rows = [
            {"key": key, "count": amount, "expires_at": now + timedelta(seconds=window)}
            for key, window in sorted(dict(hits).items())
        ]
        stmt = upsert(self.dialect).values(rows)
        expired = _table.c.expires_at <= now
        stmt = stmt.on_conflict_do_update(
            index_elements=[_table.c.key],
            set_={
                "count": case((expired, stmt.excluded.count), else_=_table.c.count + stmt.excluded.count),
                "expires_at": case((expired, stmt.excluded.expires_at), else_=_table.c.expires_at),
            },
        ).returning(_table.c.key, _table.c.count, _table.c.expires_at)
        return {
            key: Window(count=count, expires_at=aware(expires))
            for key, count, expires in (await self.session.execute(stmt)).all()
        }

    async def peek(self, key: str, *, now: datetime) -> Window | None:
        row = (
            await self.session.execute(select(_table.c.count, _table.c.expires_at).where(_table.c.key == key))
        ).one_or_none()
        if row is None or aware(row[1]) <= now:
            return None
        return Window(count=row[0], expires_at=aware(row[1]))

    async def peek_many(self, keys: list[str], *, now: datetime) -> dict[str, Window]:
        """The live windows of `keys` (an expired or missing one is absent), in one statement."""
        stmt = select(_table.c.key, _table.c.count, _table.c.expires_at).where(_table.c.key.in_(keys))
        return {
            key: Window(count=count, expires_at=aware(expires))
            for key, count, expires in (await self.session.execute(stmt)).all()
            if aware(expires) > now
        }

    async def reset(self, *keys: str) -> None:
        await self.session.execute(delete(_table).where(_table.c.key.in_(keys)))

    async def purge_expired(self, *, now: datetime) -> int:
        result = await self.session.execute(delete(_table).where(_table.c.expires_at <= now))
        return result.rowcount or 0
