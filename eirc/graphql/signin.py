"""Sign-in mutations (CONTRACT §3): login, forgotPassword, logout, logoutEverywhere, changePassword.

Thin: the rules are in services.signin and services.recovery. Each aliased `login` field is one attempt;
MaxMutationFields (graphql/limits.py) refuses a mutation with more than three root fields before any runs.
"""

from __future__ import annotations

from typing import Any

import strawberry

from eirc import metrics
from eirc.graphql import auth
from eirc.graphql.context import selects, user_agent_of
from eirc.graphql.errors import guarded
from eirc.graphql.me import to_profile
from eirc.graphql.registration import to_flow
from eirc.graphql.types import AuthPayload, FlowPayload, Session
from eirc.services import password_change, recovery, sessions, signin


def _user_agent(info: strawberry.Info) -> str | None:
    return user_agent_of(info.context.request)


@strawberry.type
class SigninMutation:
    @strawberry.mutation(
        description="«Вход в личный кабинет»: by phone (any spelling) or confirmed e-mail, and password"
    )
    async def login(self, info: strawberry.Info, login: str, password: str) -> AuthPayload:
        ctx = info.context

        async def run() -> dict[str, Any]:
            done = await signin.login(
                ctx.container,
                login=login,
                password=password,
                client_ip=ctx.client_ip,
                user_agent=_user_agent(info),
                with_profile=selects(info, "profile"),
            )
            return {
                "session": Session(token=done.session.token, expires_at=done.session.expires_at),
                "profile": to_profile(done.profile) if done.profile else None,
            }

        payload = await guarded(AuthPayload, run)
        metrics.login_attempt(e.code for e in payload.errors)
        return payload

    @strawberry.mutation(
        description="«Я забыл пароль»: a PASSWORD_RESET flow at CODE; an unknown login gets the same answer, no SMS"
    )
    async def forgot_password(self, info: strawberry.Info, login: str) -> FlowPayload:
        ctx = info.context

        async def run() -> dict[str, Any]:
            view = await recovery.forgot_password(ctx.container, login=login, client_ip=ctx.client_ip)
            return {"flow": to_flow(view)}

        return await guarded(FlowPayload, run)

    @strawberry.mutation(description="Ends this session; false without a live session")
    async def logout(self, info: strawberry.Info) -> bool:
        ended = await sessions.logout(info.context.container, token=info.context.bearer_token)
        auth.forget(info)
        return ended

    @strawberry.mutation(description="Ends every session of the signed-in user; false without a live session")
    async def logout_everywhere(self, info: strawberry.Info) -> bool:
        ended = await sessions.logout_everywhere(info.context.container, token=info.context.bearer_token)
        auth.forget(info)
        return ended

    @strawberry.mutation(description="A new password; every other session of the user ends, this one stays")
    async def change_password(
        self, info: strawberry.Info, current_password: str, new_password: str
    ) -> AuthPayload:
        ctx = info.context

        async def run() -> dict[str, Any]:
            done = await password_change.change_password(
                ctx.container,
                token=ctx.bearer_token,
                current_password=current_password,
                new_password=new_password,
                client_ip=ctx.client_ip,
            )
            return {
                "session": Session(token=ctx.bearer_token, expires_at=done.session.expires_at),
                "profile": to_profile(done.profile),
            }

        return await guarded(AuthPayload, run)
