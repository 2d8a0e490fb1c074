"""Planner statistics after a bulk load (the imports call `analyze` when they are done).

PostgreSQL plans every statement from the statistics that ANALYZE gathers — or autovacuum, when it is on
and has got round to the table. Without them, after a million residents were imported, the profile's
address query (`user_address` by `user_id`, joined to `billing_account`) was planned for ~2,000 rows per
resident and ran as a parallel query: `addAddress` took 21 ms on the region against 13 ms on a small
database; after ANALYZE, 13.5 (docs/region.md). ANALYZE reads a sample (30,000 rows a table): about a
second at region size. SQLite plans by its indexes without statistics (the same measurement found every
step within 6 % of the small database), so nothing is run there.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

IMPORTED_TABLES = {
    "billing": ("billing_account", "bill"),
    "residents": ("app_user", "user_address"),
}


async def analyze(conn: AsyncConnection, what: str) -> None:
    """Fresh statistics of the tables an import of `what` (a key of `IMPORTED_TABLES`) loaded."""
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql("ANALYZE " + ", ".join(IMPORTED_TABLES[what]))
        await conn.commit()
