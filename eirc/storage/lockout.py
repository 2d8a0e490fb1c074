"""The sign-in's attempt counters (services/lockout.py has the rules): rows of the `counter` table keyed by
`login:fail:<subject>` (attempts since the last success or lock, and the lock itself) and
`login:streak:<subject>` (failures across locks, for NIST's ceiling)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from eirc.storage.counters import aware, upsert
from eirc.storage.repository import Repository
from eirc.storage.tables import Counter

_table = Counter.__table__  # type: ignore[attr-defined]
_c = _table.c


@dataclass(frozen=True)
class CounterRow:
    count: int
    expires_at: datetime
    locked_until: datetime | None


def _row(raw) -> CounterRow:
    return CounterRow(
        count=raw.count,
        expires_at=aware(raw.expires_at),
        locked_until=aware(raw.locked_until) if raw.locked_until is not None else None,
    )


class Lockout(Repository):
    async def claim(self, key: str, *, expires_at: datetime) -> CounterRow:
        """The counter row of `key`, locked for the transaction (created empty if missing): one upsert that
        changes nothing of an existing row — on PostgreSQL `ON CONFLICT DO UPDATE` locks it, so concurrent
        attempts on one subject take turns; SQLite's transactions are serialised already."""
        stmt = (
            upsert(self.dialect)
            .values(key=key, count=0, expires_at=expires_at)
            .on_conflict_do_update(index_elements=[_c.key], set_={"key": _c.key})
            .returning(_c.count, _c.expires_at, _c.locked_until)
        )
        return _row((await self.session.execute(stmt)).one())

    async def store(self, key: str, row: CounterRow) -> None:
        await self.session.execute(
            update(_table)
            .where(_c.key == key)
            .values(count=row.count, expires_at=row.expires_at, locked_until=row.locked_until)
        )

    async def add(self, key: str, amount: int, *, expires_at: datetime) -> int:
        """Add `amount` to the counter of `key` (no window: it counts until deleted); the new count."""
        stmt = (
            upsert(self.dialect)
            .values(key=key, count=amount, expires_at=expires_at)
            .on_conflict_do_update(index_elements=[_c.key], set_={"count": _c.count + amount})
            .returning(_c.count)
        )
        return (await self.session.execute(stmt)).scalar_one()

    async def read(self, *keys: str) -> dict[str, CounterRow]:
        rows = await self.session.execute(
            select(_c.key, _c.count, _c.expires_at, _c.locked_until).where(_c.key.in_(keys))
        )
        return {r.key: _row(r) for r in rows}

    async def delete(self, *keys: str) -> None:
        await self.session.execute(delete(_table).where(_c.key.in_(keys)))
