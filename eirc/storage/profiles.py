"""The profile a resident sees, read in one statement: the user's columns and their addresses (one row per
address, joined with the billing centre's address text; one row with empty address columns when there is
none) — by a live session (what `me` runs on every screen) or by the user's id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from eirc.storage.repository import Repository
from eirc.storage.tables import BillingAccount, Session, User, UserAddress

_S, _U = Session.__table__.c, User.__table__.c  # type: ignore[attr-defined]
_A, _B = UserAddress.__table__.c, BillingAccount.__table__.c  # type: ignore[attr-defined]
_COLUMNS = (
    _U.id,
    _U.last_name,
    _U.first_name,
    _U.middle_name,
    _U.birth_date,
    _U.phone,
    _U.email,
    _U.email_confirmed,
    _U.email_notifications,
    _U.gosuslugi_sub,
    _U.email_letter_sent_at,
    _A.id.label("address_id"),
    _A.account_number,
    _A.primary,
    _A.ebill,
    _B.address,
)
_WITH_ADDRESSES = User.__table__.outerjoin(UserAddress.__table__, _A.user_id == _U.id).outerjoin(  # type: ignore[attr-defined]
    BillingAccount.__table__,  # type: ignore[attr-defined]
    _B.account_number == _A.account_number,
)
_ORDER = (_A.position, _A.created_at)
# Built once (every screen runs the first): the values are bound at execution.
_BY_SESSION = (
    select(_S.last_used_at, *_COLUMNS)
    .select_from(Session.__table__.join(_WITH_ADDRESSES, _U.id == _S.user_id))  # type: ignore[attr-defined]
    .where(
        _S.id == bindparam("sid"),
        _S.ended_at.is_(None),
        _S.expires_at > bindparam("now", type_=_S.expires_at.type),
    )
    .order_by(*_ORDER)
)
_BY_USER = select(*_COLUMNS).select_from(_WITH_ADDRESSES).where(_U.id == bindparam("uid")).order_by(*_ORDER)


class Profiles(Repository):
    async def by_session(self, session_id: str, *, now: datetime) -> list[Any]:
        """Rows (`last_used_at` and the profile's columns) of the live session `session_id`; [] if none."""
        return list((await self.session.execute(_BY_SESSION, {"sid": session_id, "now": now})).all())

    async def by_user(self, user_id: str) -> list[Any]:
        return list((await self.session.execute(_BY_USER, {"uid": user_id})).all())

    async def touch_session(self, session_id: str, *, now: datetime) -> None:
        await self.session.execute(update(Session).where(Session.id == session_id).values(last_used_at=now))
