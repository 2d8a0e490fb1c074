"""«Мой профиль» edits (SPEC §8): names, birth date, e-mail, notifications — `updateProfile`.

A new e-mail is stored unconfirmed and a confirmation letter goes out; the old address stops being a login at
once, links sent to any earlier address die, and e-bills pause until the new address is confirmed (their
choice is kept, «Домопульт» is told: services/ebills.py). Nothing changes unless every given field is valid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from eirc.domain.email import parse_email
from eirc.domain.errors import DomainError, DomainErrors, ErrorCode
from eirc.domain.names import clean_optional, clean_required
from eirc.domain.personal import check_birth_date, local_today
from eirc.services.ebills import pause_ebills
from eirc.services.email_confirmation import send_confirmation
from eirc.services.profile import ProfileView, load_profile, lock_user
from eirc.storage.repository import Conflict

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.profile")

# Each accepted e-mail change sends a letter: a resident cannot turn the profile into a mail cannon.
EMAIL_CHANGES_PER_HOUR = 5


class _Keep:
    """«Not given»: the field stays as it is (GraphQL: the argument omitted). Compared by identity."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


@dataclass(frozen=True)
class ProfileChanges:
    """What `updateProfile` was given. `KEEP` = omitted (unchanged); `None` = explicitly empty: clears
    `middle_name` and `birth_date`, and is ``REQUIRED`` for the others."""

    last_name: Any = KEEP
    first_name: Any = KEEP
    middle_name: Any = KEEP
    birth_date: Any = KEEP
    email: Any = KEEP
    email_notifications: Any = KEEP


def _parse_changes(changes: ProfileChanges, today: date) -> dict[str, Any]:
    """The cleaned new values (only the given fields), or DomainErrors — one per broken field, in screen
    order, all at once (as in registration)."""
    errors: list[DomainError] = []
    values: dict[str, Any] = {}

    def notifications() -> bool:
        if changes.email_notifications is None:
            raise DomainError(ErrorCode.REQUIRED, "emailNotifications")
        return bool(changes.email_notifications)

    checks = (
        ("last_name", lambda v: clean_required(v, "lastName")),
        ("first_name", lambda v: clean_required(v, "firstName")),
        ("middle_name", lambda v: clean_optional(v, "middleName")),
        ("birth_date", lambda v: check_birth_date(v, today)),
        ("email", lambda v: parse_email(v, "email")),
        ("email_notifications", lambda _v: notifications()),
    )
    for name, check in checks:
        given = getattr(changes, name)
        if given is KEEP:
            continue
        try:
            values[name] = check(given)
        except DomainError as exc:
            errors.append(exc)
    if errors:
        raise DomainErrors(errors)
    return values


async def update_profile(deps: Deps, *, user_id: str, changes: ProfileChanges) -> ProfileView:
    """«Мой профиль» edits. A new e-mail is stored unconfirmed and a confirmation letter goes out; the old
    address stops being a login at once (it is no longer the user's e-mail), links sent to any earlier
    address die, and e-bills pause until the new address is confirmed (their choice is kept, «Домопульт»
    is told). Nothing changes unless every given field is valid."""
    now = deps.clock.now()
    values = _parse_changes(changes, local_today(now))
    async with deps.uow() as tx:
        user = await lock_user(tx, user_id)
        new_email = values.pop("email", None)
        email_changed = new_email is not None and new_email != user.email
        if email_changed:
            if await tx.users.email_taken(new_email, except_user_id=user.id):
                raise DomainError(ErrorCode.EMAIL_TAKEN, "email")
            window = await tx.counters.hit(f"profile:email:user:{user.id}", now=now, window_seconds=3600)
            if window.count > EMAIL_CHANGES_PER_HOUR:
                raise DomainError(ErrorCode.RATE_LIMITED, "email")
        for name, value in values.items():
            setattr(user, name, value)
        if email_changed:
            previous, was_confirmed = user.email, user.email_confirmed
            user.email = new_email
            user.email_confirmed = False
            # Links already sent (to this or an earlier address) confirm nothing any more.
            await tx.email_tokens.retire_all(user.id, now=now)
            if was_confirmed:
                await pause_ebills(tx, deps, user, previous_email=previous)
        user.updated_at = now
        try:
            await tx.users.save()
        except Conflict:  # a racing twin took the e-mail meanwhile (the column is unique)
            raise DomainError(ErrorCode.EMAIL_TAKEN, "email") from None
        if email_changed:
            await send_confirmation(tx, deps, user=user)
        view = await load_profile(tx, user)
        await tx.commit()
    if email_changed:
        log.info("user %s changed the e-mail: confirmation sent, e-bills paused", user_id)
    return view
