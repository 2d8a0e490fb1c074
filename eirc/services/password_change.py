"""Changing the password from the profile (SPEC §4): the current password is checked as a sign-in attempt
(services/lockout.py), the new one must follow the rules, and every other session of the user ends."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eirc.domain.errors import DomainError, DomainErrors, ErrorCode
from eirc.domain.password import check_password, normalize_password
from eirc.services import lockout, sessions
from eirc.services.profile import ProfileView, load_profile
from eirc.storage.tables import Session

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.password")


@dataclass(frozen=True)
class PasswordChanged:
    session: Session
    profile: ProfileView
    ended_sessions: int


async def change_password(
    deps: Deps,
    *,
    token: str | None,
    current_password: str | None,
    new_password: str | None,
    client_ip: str | None = None,
) -> PasswordChanged:
    """Check the current password (an attempt like a login), set the new one, end every other session."""
    found = await sessions.resolve(deps.uow, token, now=deps.clock.now())
    if found is None:
        raise DomainError(ErrorCode.NOT_AUTHENTICATED, None)
    own, user = found
    errors = []
    if not current_password:
        errors.append(DomainError(ErrorCode.REQUIRED, "currentPassword"))
    try:
        check_password(new_password, "newPassword")
    except DomainError as exc:
        errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise DomainErrors(errors)
    assert current_password is not None and new_password is not None

    subject = lockout.user_subject(user.id)
    async with deps.uow() as tx:
        await lockout.begin_attempt(tx, deps, subject=subject, client_ip=client_ip, field="currentPassword")
        await tx.commit()
    if not await deps.hasher.verify(user.password_hash, normalize_password(current_password)):
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "currentPassword")
    new_hash = await deps.hasher.hash(normalize_password(new_password))
    now = deps.clock.now()
    async with deps.uow() as tx:
        await lockout.clear(tx, subject)
        fresh = await tx.users.get(user.id)
        if fresh is None:
            raise DomainError(ErrorCode.NOT_AUTHENTICATED, None)
        fresh.password_hash = new_hash
        fresh.password_changed_at = now
        fresh.updated_at = now
        ended = await tx.sessions.end_all(user.id, now=now, keep=own.id)
        profile = await load_profile(tx, fresh)
        await tx.commit()
    log.info("password changed: user %s, %s other sessions ended", user.id, ended)
    return PasswordChanged(session=own, profile=profile, ended_sessions=ended)
