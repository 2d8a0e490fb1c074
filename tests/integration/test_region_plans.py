"""Query plans that keep the gateway as fast on a region (3.5 million accounts, 10.5 million bills) as on a
test set (issue 24, docs/region.md): each statement a few index probes, never a scan of a big table. The
tables are filled with enough rows, and analysed, for a planner to prefer a scan if it could."""

from __future__ import annotations

import re

from sqlalchemy import text

from eirc.services.user_import import import_users
from eirc.storage.billing import NEWEST_PERIOD

ACCOUNTS = 20_000


async def _fill(container, *, analyze: bool = True) -> None:
    async with container.uow() as tx:
        series = (
            "SELECT (5000000000 + n)::text, 'г.Москва, д.' || n, now() FROM generate_series(1, :n) n"
            if container.uow.dialect == "postgresql"
            else "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :n) "
            "SELECT CAST(5000000000 + n AS TEXT), 'г.Москва, д.' || n, '2026-01-01 00:00:00.000000' FROM s"
        )
        await tx.session.execute(
            text(f"INSERT INTO billing_account (account_number, address, updated_at) {series}"),
            {"n": ACCOUNTS},
        )
        await tx.session.execute(
            text(
                "INSERT INTO bill (account_number, period, amount_kopecks) "
                "SELECT a.account_number, p.period, 10000 FROM billing_account a "
                "CROSS JOIN (SELECT '2025-10' AS period UNION ALL SELECT '2025-11' UNION ALL SELECT '2025-12') p"
            )
        )
        await tx.commit()
    if analyze:
        async with container.uow() as tx:
            for table in ("billing_account", "bill"):
                await tx.session.execute(text(f"ANALYZE {table}"))
            await tx.commit()


async def _plan(container, statement, params: dict) -> str:
    dialect = container.uow.engine.dialect
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN " if dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    async with container.uow() as tx:
        rows = (await tx.session.execute(text(explain + sql), params)).all()
    return "\n".join(str(r[-1]) for r in rows)


async def test_billing_periods_probe_the_period_index_backwards(container):
    await _fill(container)
    plan = await _plan(container, NEWEST_PERIOD.params(before="2026-02"), {})
    if container.uow.dialect == "postgresql":
        assert "Index Only Scan Backward using ix_bill_period" in plan, plan
        assert "Seq Scan" not in plan, plan
    else:
        assert "USING COVERING INDEX ix_bill_period (period<?)" in plan, plan


ADDRESSES_OF_A_USER = (
    'SELECT a.id, a.account_number, a.position, a."primary", a.ebill, b.address FROM user_address a '
    "JOIN billing_account b ON b.account_number = a.account_number WHERE a.user_id = :user_id "
    "ORDER BY a.position, a.created_at"
)
"""The profile's addresses (services/profile.py `addresses_of`: `addAddress`, `setPrimaryAddress`, …)."""

PARALLEL_IS_FREE = (
    "SET LOCAL parallel_setup_cost = 0",
    "SET LOCAL parallel_tuple_cost = 0",
    "SET LOCAL min_parallel_table_scan_size = 0",
    "SET LOCAL min_parallel_index_scan_size = 0",
)
"""A test set is too small for the planner to consider a parallel plan at all; a region is not."""


async def test_after_a_users_import_one_residents_addresses_are_an_index_probe(container, tmp_path):
    # Without statistics (autovacuum off, or not yet run after the import) PostgreSQL planned this for
    # ~2,000 rows a resident and ran it in parallel at region size: addAddress 1.6 × slower than on a small
    # database. The import leaves fresh statistics behind (storage.statistics).
    await _fill(container, analyze=False)
    path = tmp_path / "users.csv"
    path.write_text(
        "phone,last_name,first_name,middle_name,email,account_number\n"
        + "".join(f"91600{n:05d},Фамилия,Имя,,,{5000000000 + n}\n" for n in range(1, 3001)),
        encoding="utf-8",
    )
    report = await import_users(container.uow, container.clock, path)
    assert report.added == 3000
    async with container.uow() as tx:
        user_id = (await tx.session.execute(text("SELECT id FROM app_user LIMIT 1"))).scalar_one()
        if container.uow.dialect == "postgresql":
            for setting in PARALLEL_IS_FREE:
                await tx.session.execute(text(setting))
            plan = "\n".join(
                r[0]
                for r in await tx.session.execute(
                    text("EXPLAIN " + ADDRESSES_OF_A_USER), {"user_id": user_id}
                )
            )
            assert "Gather" not in plan and "Seq Scan" not in plan, plan
            assert re.search(r"Index Scan using \w+ on user_address a .*rows=1 ", plan), plan
        else:
            rows = await tx.session.execute(
                text("EXPLAIN QUERY PLAN " + ADDRESSES_OF_A_USER), {"user_id": user_id}
            )
            plan = "\n".join(str(r[-1]) for r in rows)
            assert re.search(r"SEARCH a USING INDEX \w+ \(user_id=\?", plan), plan
