"""What a use case may depend on, as a small typed protocol (the `Container` of eirc/bootstrap.py is one;
unit tests may pass a fake): settings, the clock, the password hasher, the keyed secrets, and units of
work (`async with deps.uow() as tx:`). Use cases take `deps` first and the journey's arguments by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from eirc.clock import Clock
    from eirc.security import PasswordHasher, Secrets
    from eirc.settings import Settings
    from eirc.storage.db import UnitOfWorkFactory


class Deps(Protocol):
    settings: Settings
    clock: Clock
    hasher: PasswordHasher
    secrets: Secrets
    uow: UnitOfWorkFactory  # `async with deps.uow() as tx:`; `deps.uow.read(…)` for one-statement reads
    clients: dict  # long-lived clients of outside systems, built once (services.gosuslugi.provider)
