"""What a bulk load leaves for the planner (the imports call `after_bulk_load` when they are done).

PostgreSQL plans every statement from the statistics that ANALYZE gathers, and can answer from an index
alone only for pages its visibility map marks all-visible, which VACUUM does — both autovacuum's work,
when it is on and has got round to the table (it is off on this project's server). Measured at region
size (docs/region.md):

- without statistics, after a million residents were imported, the profile's address query
  (`user_address` by `user_id`, joined to `billing_account`) was planned for ~2,000 rows a resident and
  ran as a parallel query: `addAddress` took 21 ms against 13 ms on a small database; after ANALYZE, 13.5;
- the residents import looks up each batch's accounts by primary key: on a freshly loaded
  `billing_account` every one read a page of its 400 MB heap; after VACUUM an index-only scan does, and the
  import's server time fell from ~64 to ~52 µs a resident.

ANALYZE reads a sample (30,000 rows a table), VACUUM of tables that were only inserted into sets bits in
each page: each about a second at region size. SQLite plans by its indexes without statistics (every step
within 6 % of the small database in the same measurement), so nothing is run there.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection


async def after_bulk_load(conn: AsyncConnection, tables: tuple[str, ...], *, vacuum: bool = False) -> None:
    """ANALYZE `tables` (VACUUM (ANALYZE) them with `vacuum`) on PostgreSQL; `conn` is then in autocommit."""
    if conn.dialect.name != "postgresql":
        return
    await conn.commit()
    await conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM runs outside a transaction
    await conn.exec_driver_sql(("VACUUM (ANALYZE) " if vacuum else "ANALYZE ") + ", ".join(tables))
