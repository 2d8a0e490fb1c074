"""Wires the application once: settings, engine, unit-of-work factory, clock, hasher, secrets, outbox.

Both faces (GraphQL and the CLI) get their dependencies from a `Container`; tests build one with a
frozen clock and their own database.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from eirc.clock import Clock
from eirc.security import PasswordHasher, Secrets
from eirc.settings import Settings, get_settings
from eirc.storage.db import UnitOfWorkFactory, make_engine


@dataclass
class Container:
    settings: Settings
    uow: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    secrets: Secrets
    # Set after each commit that may have queued a delivery; the in-process worker waits on it.
    delivery_wakeup: asyncio.Event | None = None
    extras: dict = field(default_factory=dict)

    def wake_deliveries(self) -> None:
        if self.delivery_wakeup is not None:
            self.delivery_wakeup.set()

    async def dispose(self) -> None:
        await self.uow.dispose()


def build_container(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    hasher: PasswordHasher | None = None,
) -> Container:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    uow = UnitOfWorkFactory(engine)
    container = Container(
        settings=settings,
        uow=uow,
        clock=clock or Clock(),
        hasher=hasher or PasswordHasher(),
        secrets=Secrets(settings.secret_key),
    )
    uow.on_commit.append(container.wake_deliveries)
    return container
