"""Profile mutations (CONTRACT §3, SPEC §6, §8): addAddress, setPrimaryAddress, removeAddress, setEbill,
updateProfile — thin: the rules are in services.addresses, services.ebills and services.profile_changes.

Every one needs a session (``NOT_AUTHENTICATED`` otherwise) and answers `ProfilePayload { profile errors }`:
the whole profile after the change, or the errors and the profile as it stands (so a screen can
resynchronise); `profile` is null only without a session.

`updateProfile` tells an omitted argument from an explicit null by strawberry's `UNSET` default: omitted →
unchanged; null → cleared (`middleName`, `birthDate`) or ``REQUIRED`` (the others).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from eirc.domain.errors import DomainError, DomainErrors
from eirc.graphql import auth
from eirc.graphql.errors import guarded
from eirc.graphql.me import to_profile
from eirc.graphql.types import ProfilePayload
from eirc.services import addresses, ebills
from eirc.services.email_confirmation import resend_confirmation_email
from eirc.services.profile import ProfileView, profile_of
from eirc.services.profile_changes import KEEP, ProfileChanges, update_profile


def _given(value: Any) -> Any:
    return KEEP if value is strawberry.UNSET else value


async def _profile_payload(
    info: strawberry.Info, change: Callable[[str], Awaitable[ProfileView]]
) -> ProfilePayload:
    """Run a change of the signed-in resident's profile; on an expected failure, the profile as it stands."""
    container = info.context.container

    async def run() -> dict[str, Any]:
        _session, user = await auth.require_user(info)
        try:
            view = await change(user.id)
        except (DomainError, DomainErrors) as exc:
            current = await profile_of(container.uow, user.id)
            exc.payload = {"profile": to_profile(current) if current else None}  # type: ignore[union-attr]
            raise
        return {"profile": to_profile(view)}

    # no «Заявка» hint under the errors: a signed-in resident files no connection request from the profile
    return await guarded(ProfilePayload, run, hints=False)


@strawberry.type
class ProfileMutation:
    @strawberry.mutation(
        description="«Регистрация нового адреса» → «Добавить»: the account proved as in `proveAccount` "
        "(same errors and attempt limit, counted per user); added last, not primary"
    )
    async def add_address(
        self, info: strawberry.Info, period: str, account_number: str, amount_due: str
    ) -> ProfilePayload:
        container = info.context.container
        return await _profile_payload(
            info,
            lambda user_id: addresses.add_address(
                container,
                user_id=user_id,
                period=period,
                account_number=account_number,
                amount_due=amount_due,
            ),
        )

    @strawberry.mutation(description="Marks one of the resident's addresses «Основной»")
    async def set_primary_address(self, info: strawberry.Info, address_id: strawberry.ID) -> ProfilePayload:
        container = info.context.container
        return await _profile_payload(
            info,
            lambda user_id: addresses.set_primary_address(
                container, user_id=user_id, address_id=str(address_id)
            ),
        )

    @strawberry.mutation(
        description="Removes an address (not the last one: LAST_ADDRESS); the first remaining one becomes "
        "primary if the primary one was removed; the numbers close up"
    )
    async def remove_address(self, info: strawberry.Info, address_id: strawberry.ID) -> ProfilePayload:
        container = info.context.container
        return await _profile_payload(
            info,
            lambda user_id: addresses.remove_address(container, user_id=user_id, address_id=str(address_id)),
        )

    @strawberry.mutation(
        description="«Электронная платежка» of one address: enabling needs a confirmed e-mail "
        "(EBILL_NEEDS_CONFIRMED_EMAIL); each change is delivered to «Домопульт»"
    )
    async def set_ebill(
        self, info: strawberry.Info, address_id: strawberry.ID, enabled: bool
    ) -> ProfilePayload:
        container = info.context.container
        return await _profile_payload(
            info,
            lambda user_id: ebills.set_ebill(
                container, user_id=user_id, address_id=str(address_id), enabled=enabled
            ),
        )

    @strawberry.mutation(
        description="«Отправить письмо ещё раз»: a new confirmation letter for the resident's e-mail that is not "
        "confirmed yet — at most one every few minutes (RATE_LIMITED says in how many seconds; "
        "`profile.confirmationLetterAvailableInSeconds` counts down to it)"
    )
    async def resend_confirmation_email(self, info: strawberry.Info) -> ProfilePayload:
        container = info.context.container

        async def send(user_id: str) -> ProfileView:
            await resend_confirmation_email(container, user_id=user_id)
            view = await profile_of(container.uow, user_id)
            assert view is not None
            return view

        return await _profile_payload(info, send)

    @strawberry.mutation(
        description="Changes the given fields only (an omitted argument: unchanged; null clears middleName "
        "or birthDate). A new e-mail is unconfirmed until its link is opened: a letter is sent, the old "
        "e-mail stops being a login, e-bills pause until the new one is confirmed"
    )
    async def update_profile(
        self,
        info: strawberry.Info,
        last_name: str | None = strawberry.UNSET,
        first_name: str | None = strawberry.UNSET,
        middle_name: str | None = strawberry.UNSET,
        birth_date: dt.date | None = strawberry.UNSET,
        email: str | None = strawberry.UNSET,
        email_notifications: bool | None = strawberry.UNSET,
    ) -> ProfilePayload:
        container = info.context.container
        changes = ProfileChanges(
            last_name=_given(last_name),
            first_name=_given(first_name),
            middle_name=_given(middle_name),
            birth_date=_given(birth_date),
            email=_given(email),
            email_notifications=_given(email_notifications),
        )
        return await _profile_payload(
            info, lambda user_id: update_profile(container, user_id=user_id, changes=changes)
        )
