"""What every repository shares: the unit of work's session, and storage's own conflict error."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


class Conflict(Exception):
    """A write broke a unique constraint (a racing twin got there first); the transaction stays usable
    when the write was made through `Repository.savepoint`. `columns`: the columns the database named."""

    def __init__(self, columns: tuple[str, ...] = ()) -> None:
        super().__init__(", ".join(columns))
        self.columns = columns


# PostgreSQL: «Key (phone)=(…) already exists»; SQLite: «UNIQUE constraint failed: app_user.phone».
_CONFLICT_COLUMNS = re.compile(r"Key \(([\w, ]+)\)=|constraint failed: ([\w., ]+)")


def conflict_of(error: IntegrityError) -> Conflict:
    match = _CONFLICT_COLUMNS.search(str(error.orig))
    named = (match.group(1) or match.group(2)) if match else ""
    return Conflict(tuple(part.strip().rsplit(".", 1)[-1] for part in named.split(",") if part.strip()))


class Repository:
    """`session`: the unit of work's AsyncSession — or, for the reads of `UnitOfWorkFactory.read`, an
    AsyncConnection in autocommit (only `execute` is used then)."""

    def __init__(self, session: AsyncSession | AsyncConnection) -> None:
        self.session: Any = session

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
        except IntegrityError as exc:
            raise conflict_of(exc) from None

    async def flush(self) -> None:
        """Write what the session holds now; a unique-constraint violation is a `Conflict` (the transaction
        is then to be rolled back)."""
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise conflict_of(exc) from None

    def detach(self, *rows: object) -> None:
        """Keep loaded rows readable after the unit of work ends (its closing rollback would expire them)."""
        for row in rows:
            self.session.expunge(row)
