"""Query plans that keep the gateway as fast on a region (3.5 million accounts, 10.5 million bills) as on a
test set (issue 24, docs/region.md): each statement a few index probes, never a scan of a big table. The
tables are filled with enough rows, and analysed, for a planner to prefer a scan if it could."""

from __future__ import annotations

from sqlalchemy import text

from eirc.storage.billing import NEWEST_PERIOD

ACCOUNTS = 20_000


async def _fill(container) -> None:
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
    async with container.uow() as tx:
        await tx.session.execute(text("ANALYZE"))
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
