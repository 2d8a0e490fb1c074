"""What every repository shares: the unit of work's session, and storage's own conflict error."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


class Conflict(Exception):
    """A write broke a unique constraint (a racing twin got there first); the transaction stays usable
    when the write was made through `Repository.savepoint`."""


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.bind.dialect.name  # type: ignore[union-attr]

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Writes flushed inside a savepoint: a unique-constraint violation raises `Conflict` and undoes only
        them, so the caller can answer cleanly and go on with the transaction."""
        try:
            async with self.session.begin_nested():
                yield
                await self.session.flush()
        except IntegrityError:
            raise Conflict() from None

    async def flush(self) -> None:
        """Write what the session holds now; a unique-constraint violation is a `Conflict` (the transaction
        is then to be rolled back)."""
        try:
            await self.session.flush()
        except IntegrityError:
            raise Conflict() from None

    def detach(self, *rows: object) -> None:
        """Keep loaded rows readable after the unit of work ends (its closing rollback would expire them)."""
        for row in rows:
            self.session.expunge(row)
