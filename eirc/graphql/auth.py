"""The signed-in resident of a request (resolved once per request from `Authorization: Bearer`)."""

from __future__ import annotations

import strawberry

from eirc.domain.errors import DomainError, ErrorCode
from eirc.services import sessions
from eirc.storage.tables import Session, User

_KEY = "auth"


async def current(info: strawberry.Info) -> tuple[Session, User] | None:
    ctx = info.context
    if _KEY not in ctx.cache:
        ctx.cache[_KEY] = await sessions.resolve(
            ctx.container.uow, ctx.bearer_token, now=ctx.container.clock.now()
        )
    return ctx.cache[_KEY]


async def require_user(info: strawberry.Info) -> tuple[Session, User]:
    found = await current(info)
    if found is None:
        raise DomainError(ErrorCode.NOT_AUTHENTICATED)
    return found


def forget(info: strawberry.Info) -> None:
    """Drop the memo after a change to the session (logout) or the user."""
    info.context.cache.pop(_KEY, None)
