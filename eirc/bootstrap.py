"""Wires the application once: settings, engine, unit-of-work factory, clock, hasher, secrets, outbox.

Both faces (GraphQL and the CLI) get their dependencies from a `Container`; tests build one with a
frozen clock and their own database.
"""

from __future__ import annotations

import asyncio
import os
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
    # Long-lived clients of outside systems, built once per container (the Госуслуги provider caches keys).
    clients: dict = field(default_factory=dict)

    def wake_deliveries(self) -> None:
        if self.delivery_wakeup is not None:
            self.delivery_wakeup.set()

    async def dispose(self) -> None:
        await self.uow.dispose()


# Set by `eirc serve` for its gateway processes: how many of them share this machine's CPUs.
GATEWAY_PROCESSES_ENV = "EIRC_SERVE_PROCESSES"


def hash_threads(settings: Settings) -> int:
    """`EIRC_HASH_THREADS`, or the CPUs this process may use divided among the gateway processes.

    More CPU-bound hashing threads than cores does not hash faster, and it hurts every other request: a
    low-priority hashing thread that is preempted while it holds the GIL (between two statements of its
    sign-in) stalls its process's event loop until it runs again (scripts/bench_login.py, docs/signin.md).
    """
    if settings.hash_threads:
        return settings.hash_threads
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        processes = max(1, int(os.environ.get(GATEWAY_PROCESSES_ENV, "1")))
    except ValueError:  # set by `eirc serve`; anything else counts as one process
        processes = 1
    return max(1, cpus // processes)


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
        hasher=hasher or PasswordHasher(max_threads=hash_threads(settings)),
        secrets=Secrets(settings.secret_key),
    )
    uow.on_commit.append(container.wake_deliveries)
    return container
