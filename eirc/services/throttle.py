"""Per-client-address throttling of the public mutations (SPEC §11; docs/hardening.md).

One mechanism: a fixed-window database counter per (action, client address) — `tx.counters.hit`, one
atomic statement — so a limit holds however many gateway processes share the database. The count is
committed in its own transaction *before* the work, so refused and failing calls count too.

Used by `startPhone`, `forgotPassword` and `gosuslugiStart` (`throttle`), and by `proveAccount`
(`count_call`: inside its step's transaction, once the flow is found). `login`'s per-client limit is
counted as its attempt is reserved (services.lockout `begin_attempt`) and SMS sends per client are one of
the SMS caps (services.codes): same table, same fixed windows.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from eirc.domain.errors import DomainError, ErrorCode
from eirc.storage.db import UnitOfWork

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.throttle")


def client_key(action: str, client_ip: str) -> str:
    return f"{action}:client:{client_ip}"


async def count_call(
    tx: UnitOfWork, deps: Deps, *, action: str, client_ip: str | None, limit: int, window_seconds: float
) -> bool:
    """Count one call of `action` from `client_ip` in the caller's transaction; whether it is over `limit`
    (the caller then commits — the count must stand — and refuses with ``RATE_LIMITED``)."""
    if not client_ip:
        return False
    window = await tx.counters.hit(
        client_key(action, client_ip), now=deps.clock.now(), window_seconds=window_seconds
    )
    if window.count == limit + 1:  # once a window, not once a request
        log.info("%s throttled for client %s: over %s calls in %ss", action, client_ip, limit, window_seconds)
    return window.count > limit


async def throttle(
    deps: Deps,
    *,
    action: str,
    client_ip: str | None,
    limit: int,
    window_seconds: float,
    field: str | None = None,
) -> None:
    """Count one call of `action` from `client_ip`; ``RATE_LIMITED`` (on `field`) once over `limit` calls in
    the window. No client address (the command line) means no limit."""
    if not client_ip:
        return
    async with deps.uow() as tx:
        window = await tx.counters.hit(
            client_key(action, client_ip), now=deps.clock.now(), window_seconds=window_seconds
        )
        await tx.commit()
    if window.count > limit:
        if window.count == limit + 1:  # once a window, not once a request
            log.info(
                "%s throttled for client %s: over %s calls in %ss", action, client_ip, limit, window_seconds
            )
        raise DomainError(ErrorCode.RATE_LIMITED, field)
