"""What operators and support read about eirc as a whole: the gauges of `/metrics` (the outbox, connection
requests, sign-in locks, the SMS budget), the migration the database is at (`/readyz`), the onboarding
funnel and the outbox's outcomes (`eirc stats`).

The gauges and the revision are read through `UnitOfWorkFactory.read` (no transaction, nothing locked: a
scrape every few seconds must not queue behind writers), so their statements are built once here with
their values bound at execution; the funnel and the deliveries are read in a unit of work (`tx.stats`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, bindparam, case, func, literal_column, or_, select

from eirc.storage.repository import Repository
from eirc.storage.tables import ConnectionRequest, Counter, Delivery, Flow

_D = Delivery.__table__.c  # type: ignore[attr-defined]
_R = ConnectionRequest.__table__.c  # type: ignore[attr-defined]
_K = Counter.__table__.c  # type: ignore[attr-defined]
_F = Flow.__table__.c  # type: ignore[attr-defined]
_TIME = _K.expires_at.type

# Alembic's own table: not one of ours, described just enough to read it.
ALEMBIC_VERSION = Table("alembic_version", MetaData(), Column("version_num", String(32), primary_key=True))

# No value is bound but those named here: on PostgreSQL the reader sends the compiled text with the values
# given (storage/reads.py), so constants are written into the statement.
_ZERO, _ONE = literal_column("0"), literal_column("1")
_REVISIONS = select(ALEMBIC_VERSION.c.version_num)
_OUTBOX = (
    select(_D.channel, _D.status, func.count().label("n"), func.min(_D.created_at).label("oldest"))
    .where(or_(_D.status == literal_column("'pending'"), _D.status == literal_column("'dead'")))
    .group_by(_D.channel, _D.status)
)
_REQUESTS = select(_R.status, func.count().label("n")).group_by(_R.status)
_LOCKS = select(
    func.count().label("locked"),
    func.coalesce(
        func.sum(case((_K.locked_until > bindparam("suspended_after", type_=_TIME), _ONE), else_=_ZERO)),
        _ZERO,
    ).label("suspended"),
).where(_K.key.like(bindparam("prefix")), _K.locked_until > bindparam("now", type_=_TIME))
_COUNTER = select(_K.count).where(_K.key == bindparam("key"), _K.expires_at > bindparam("now", type_=_TIME))


def missing_table(exc: BaseException) -> bool:
    """Whether a read failed because its table does not exist (PostgreSQL's SQLSTATE 42P01, SQLite's «no such
    table»), through SQLAlchemy's wrapper or straight from the driver."""
    for error in (exc, getattr(exc, "orig", None)):
        if error is None:
            continue
        if getattr(error, "sqlstate", None) == "42P01" or "no such table" in str(error).lower():
            return True
    return False


class Stats(Repository):
    # --- through `uow.read` (the connection of one-statement reads) --------------------------------------------
    async def revisions(self) -> list[str]:
        """The Alembic revision(s) the database is at; raises when it has no `alembic_version` table."""
        return [row[0] for row in (await self.session.execute(_REVISIONS)).all()]

    async def outbox(self) -> list[Any]:
        """(channel, status, n, oldest created_at) of pending and dead deliveries."""
        return list((await self.session.execute(_OUTBOX)).all())

    async def requests_by_status(self) -> list[Any]:
        return list((await self.session.execute(_REQUESTS)).all())

    async def locks(self, *, prefix: str, now: datetime, suspended_after: datetime) -> tuple[int, int]:
        """Counters under `prefix` locked now: (all of them, those locked past `suspended_after`)."""
        params = {"prefix": prefix.replace("%", "") + "%", "now": now, "suspended_after": suspended_after}
        row = (await self.session.execute(_LOCKS, params)).all()[0]
        return int(row[0] or 0), int(row[1] or 0)

    async def counter(self, key: str, *, now: datetime) -> int:
        """The count of `key`'s live window (0 when there is none)."""
        rows = (await self.session.execute(_COUNTER, {"key": key, "now": now})).all()
        return int(rows[0][0]) if rows else 0

    # --- in a unit of work (support's commands) ----------------------------------------------------------------
    async def funnel(self, *, kind: str, since: datetime) -> list[Any]:
        """Flows of `kind` created since `since`, grouped by what the funnel reads: (furthest_step, step,
        last_error, filed — a connection request came of it —, n)."""
        filed = (_R.id.is_not(None)).label("filed")
        query = (
            select(_F.furthest_step, _F.step, _F.last_error, filed, func.count().label("n"))
            .select_from(
                Flow.__table__.outerjoin(ConnectionRequest.__table__, _R.flow_id == _F.id)  # type: ignore[attr-defined]
            )
            .where(_F.kind == kind, _F.created_at >= since)
            .group_by(_F.furthest_step, _F.step, _F.last_error, filed)
        )
        return list((await self.session.execute(query)).all())

    async def delivery_outcomes(self, *, since: datetime) -> list[Any]:
        """(channel, gateway, status, n) of the deliveries created since `since`."""
        query = (
            select(_D.channel, _D.gateway, _D.status, func.count().label("n"))
            .where(_D.created_at >= since)
            .group_by(_D.channel, _D.gateway, _D.status)
        )
        return list((await self.session.execute(query)).all())

    async def delivery_times(self, *, since: datetime) -> list[Any]:
        """(channel, gateway, created_at, sent_at) of the deliveries created since `since` and sent."""
        query = select(_D.channel, _D.gateway, _D.created_at, _D.sent_at).where(
            _D.created_at >= since, _D.status == "sent", _D.sent_at.is_not(None)
        )
        return list((await self.session.execute(query)).all())
