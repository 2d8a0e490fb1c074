"""`me`: the signed-in resident's profile (null without a valid session), and the view → type mapping that
every payload carrying a `Profile` uses."""

from __future__ import annotations

import strawberry

from eirc.graphql.types import Address, Profile
from eirc.services.profile import ProfileView, profile_for_token


def to_profile(view: ProfileView) -> Profile:
    return Profile(
        id=strawberry.ID(view.id),
        last_name=view.last_name,
        first_name=view.first_name,
        middle_name=view.middle_name,
        birth_date=view.birth_date,
        phone=view.phone,
        email=view.email,
        email_confirmed=view.email_confirmed,
        email_notifications=view.email_notifications,
        gosuslugi_linked=view.gosuslugi_linked,
        email_letter_sent_at=view.email_letter_sent_at,
        addresses=[
            Address(
                id=strawberry.ID(a.id),
                number=a.number,
                text=a.text,
                account_number=a.account_number,
                primary=a.primary,
                ebill=a.ebill,
                ebill_paused=a.ebill_paused,
            )
            for a in view.addresses
        ],
    )


@strawberry.type
class MeQuery:
    @strawberry.field(description="The signed-in resident (`Authorization: Bearer <token>`), or null")
    async def me(self, info: strawberry.Info) -> Profile | None:
        # The query every screen makes: session, user and addresses by one statement (services.profile).
        ctx = info.context
        view = await profile_for_token(ctx.container.uow, ctx.bearer_token, now=ctx.container.clock.now())
        return to_profile(view) if view else None
