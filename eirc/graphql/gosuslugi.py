"""«Вход через портал Госуслуги» (CONTRACT §3: gosuslugiStart, gosuslugiComplete) — thin: the rules are in
services.gosuslugi, the protocols in eirc.identity; docs/gosuslugi.md says how a frontend uses them.
"""

from __future__ import annotations

from typing import Any

import strawberry

from eirc.domain.errors import DomainError, ErrorCode
from eirc.graphql import auth
from eirc.graphql.context import user_agent_of
from eirc.graphql.errors import UserError, guarded
from eirc.graphql.me import to_profile
from eirc.graphql.registration import to_flow
from eirc.graphql.types import AuthPayload, Session
from eirc.services import gosuslugi


@strawberry.type(description="Where to send the browser: the provider's authorization URL")
class GosuslugiStartPayload:
    url: str | None = strawberry.field(default=None, description="Send the browser here (null with errors)")
    errors: list[UserError] = strawberry.field(default_factory=list, description="Empty on success")


async def _session_user_id(info: strawberry.Info, *, required: bool) -> str | None:
    """The signed-in resident's id; a bearer that is not a live session is NOT_AUTHENTICATED when `required`
    (it was sent, so the client meant to act as someone), otherwise ignored."""
    if not info.context.bearer_token:
        return None
    found = await auth.current(info)
    if found is None:
        if required:
            raise DomainError(ErrorCode.NOT_AUTHENTICATED)
        return None
    return found[1].id


@strawberry.type
class GosuslugiMutation:
    @strawberry.mutation(
        description="«Вход через портал Госуслуги»: the provider's authorize URL (code flow, state, nonce, "
        "PKCE S256; single use, valid EIRC_OIDC_STATE_TTL_SECONDS, 10 minutes by default). With a session, "
        "the sign-in links that profile (complete it with the same session)"
    )
    async def gosuslugi_start(self, info: strawberry.Info) -> GosuslugiStartPayload:
        ctx = info.context

        async def run() -> dict[str, Any]:
            user_id = await _session_user_id(info, required=True)
            started = await gosuslugi.start(ctx.container, user_id=user_id, client_ip=ctx.client_ip)
            return {"url": started.url}

        return await guarded(GosuslugiStartPayload, run)

    @strawberry.mutation(
        description="The provider sent the browser back with `code` and `state`: a linked person → `session` "
        "and `profile`; linking (started with a session, completed with the same one) → `profile`; an unknown "
        "person → `flow` (REGISTRATION at ACCOUNT, the phone verified by the provider, personal data prefilled)"
    )
    async def gosuslugi_complete(self, info: strawberry.Info, code: str, state: str) -> AuthPayload:
        ctx = info.context

        async def run() -> dict[str, Any]:
            done = await gosuslugi.complete(
                ctx.container,
                code=code,
                state=state,
                session_user_id=await _session_user_id(info, required=False),
                client_ip=ctx.client_ip,
                user_agent=user_agent_of(ctx.request),
            )
            return {
                "session": Session(token=done.session.token, expires_at=done.session.expires_at)
                if done.session
                else None,
                "profile": to_profile(done.profile) if done.profile else None,
                "flow": to_flow(done.flow) if done.flow else None,
            }

        return await guarded(AuthPayload, run, mutation="gosuslugiComplete")
