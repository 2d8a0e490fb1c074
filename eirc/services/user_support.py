"""Support look-ups on residents (`eirc users find / show / unlock`, CONTRACT §4) — never a secret.

`find` takes a login as a resident types it (a phone in any spelling, or an e-mail — confirmed or not: support
looks for people, not for logins that work). `show` takes the user id, or a login. What is shown: the
identity, names, e-mail and whether it is confirmed, whether a password is set (yes/no — never the hash),
where the user came from, the lock state (locked until, failed attempts, consecutive failures), the
addresses and the number of live sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from eirc.domain.errors import DomainError, ErrorCode
from eirc.services import lockout, signin
from eirc.services.profile import addresses_of
from eirc.storage.tables import User

if TYPE_CHECKING:
    from eirc.services.deps import Deps


class UserNotFound(DomainError):
    def __init__(self, what: str) -> None:
        super().__init__(ErrorCode.NOT_FOUND, None, message=f"no user for {what!r}")


async def _by_login_or_id(deps: Deps, key: str, *, allow_id: bool) -> User:
    text = (key or "").strip()
    if not text:
        raise UserNotFound(key)
    parsed = signin.parse_login(text)
    async with deps.uow() as tx:
        user = await signin.find_user_by_login(tx, parsed)
        if user is None and allow_id and parsed.kind == "invalid":
            user = await tx.users.get(text)
        if user is not None:
            tx.users.detach(user)
    if user is None:
        raise UserNotFound(text)
    return user


async def find_user(deps: Deps, login: str) -> dict[str, Any]:
    """The resident a login belongs to, as one short row."""
    user = await _by_login_or_id(deps, login, allow_id=False)
    return {
        "id": user.id,
        "phone": user.phone,
        "last_name": user.last_name,
        "first_name": user.first_name,
        "middle_name": user.middle_name,
        "email": user.email,
        "email_confirmed": user.email_confirmed,
        "has_password": user.password_hash is not None,
    }


async def show_user(deps: Deps, key: str) -> dict[str, Any]:
    """Everything support may see of one resident (by id, or by login)."""
    user = await _by_login_or_id(deps, key, allow_id=True)
    now = deps.clock.now()
    async with deps.uow() as tx:
        state = await lockout.lock_state(tx, deps, lockout.user_subject(user.id))
        addresses = await addresses_of(tx, user.id)
        live = await tx.sessions.live_count(user.id, now=now)
    return {
        "id": user.id,
        "phone": user.phone,
        "last_name": user.last_name,
        "first_name": user.first_name,
        "middle_name": user.middle_name,
        "birth_date": user.birth_date,
        "email": user.email,
        "email_confirmed": user.email_confirmed,
        "email_notifications": user.email_notifications,
        "has_password": user.password_hash is not None,
        "password_changed_at": user.password_changed_at,
        "gosuslugi_linked": user.gosuslugi_sub is not None,
        "source": user.source,
        "created_at": user.created_at,
        "locked_until": state.locked_until,
        "failed_attempts": state.failed_attempts,
        "consecutive_failures": state.consecutive_failures,
        "password_sign_in_suspended": state.suspended,
        "live_sessions": live,
        "addresses": [
            {"number": a.number, "account_number": a.account_number, "text": a.text, "primary": a.primary}
            for a in addresses
        ],
    }


@dataclass(frozen=True)
class Unlocked:
    user_id: str
    was_locked: bool
    locked_until: datetime | None
    failed_attempts: int
    consecutive_failures: int


async def unlock(deps: Deps, login: str) -> Unlocked:
    """Lift the user's sign-in lock (and the NIST suspension) and forget their failed attempts."""
    user = await _by_login_or_id(deps, login, allow_id=True)
    async with deps.uow() as tx:
        before = await lockout.lock_state(tx, deps, lockout.user_subject(user.id))
        await lockout.clear_user(tx, user.id)
        await tx.commit()
    return Unlocked(
        user_id=user.id,
        was_locked=before.locked_until is not None or before.suspended,
        locked_until=before.locked_until,
        failed_attempts=before.failed_attempts,
        consecutive_failures=before.consecutive_failures,
    )
