"""Demo data for `make serve` (`eirc serve --demo`): migrate, load demo billing data, print what to try.

The billing data goes through the real import service, from a CSV generated at run time into `var/`, so
its three periods are always the last three months before today. Everything is idempotent: running it
again changes nothing (or adds the new month's bills when the calendar has moved on).

`prepare_demo` runs `DEMO_STEPS` in order; each step loads something and returns the lines it adds to
the "what to try" block. Add a step (e.g. the demo user) by appending to that list.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eirc.clock import Clock
from eirc.demo.user import demo_user_step
from eirc.domain.money import format_amount
from eirc.domain.periods import Period, last_billed_periods
from eirc.settings import Settings
from eirc.storage.migrate import upgrade

DEMO_DIR = Path("var")
DEMO_CSV = "demo_billing.csv"

# (account number, address in the billing centre's style, typical monthly amount in kopecks).
# The showcased account (FEATURED) is deliberately not the lowest number, which other demo data (a demo
# user) may take for itself, so that a fresh registration can still use it.
DEMO_ACCOUNTS: tuple[tuple[str, str, int], ...] = (
    ("5024100017", "Г.О. ХИМКИ Р-Н., Г. ХИМКИ, МЕЛЬНИКОВА. ПР-Т., Д.4, КВ.12", 612_450),
    ("5024100033", "г.Москва, ул.Вяземская, д.34, к.2, кв.90", 481_237),
    ("5024100041", "Г.О. БАЛАШИХА, Г. БАЛАШИХА, ЛЕНИНА. ПР-Т., Д.32, КВ.105", 538_910),
    ("5024100058", "Г.О. ПОДОЛЬСК, Г. ПОДОЛЬСК, КИРОВА. УЛ., Д.15, КВ.7", 397_655),
    ("5024100066", "Г.О. МЫТИЩИ, Г. МЫТИЩИ, ОЛИМПИЙСКИЙ. ПР-Т., Д.12, К.1, КВ.48", 702_018),
    ("5024100074", "Г.О. КРАСНОГОРСК, Г. КРАСНОГОРСК, ПАРКОВАЯ. УЛ., Д.8, КВ.33", 455_300),
    ("5024100082", "Г.О. ЛЮБЕРЦЫ, Г. ЛЮБЕРЦЫ, ОКТЯБРЬСКИЙ. ПР-Т., Д.190, КВ.61", 366_842),
    ("5024100090", "г.Москва, ул.Профсоюзная, д.56, кв.214", 589_104),
    ("5024100104", "Г.О. ОДИНЦОВСКИЙ, Г. ОДИНЦОВО, МОЖАЙСКОЕ. Ш., Д.71, КВ.19", 644_771),
    ("5024100112", "Г.О. СЕРГИЕВ ПОСАД, Д. НОВОСЕЛКИ, ЦЕНТРАЛЬНАЯ. УЛ., Д.3", 215_480),
)
FEATURED = "5024100033"

DemoStep = Callable[[Settings], list[str]]
"""Loads one kind of demo data; returns its lines of the "what to try" block."""


@dataclass(frozen=True)
class DemoBill:
    account_number: str
    address: str
    period: Period
    amount_kopecks: int


def demo_amount(account_number: str, base_kopecks: int, period: Period) -> int:
    """A stable amount per account and month (±15 % around the account's usual bill)."""
    digest = hashlib.sha256(f"{account_number}:{period.value}".encode()).digest()
    return base_kopecks * (85 + digest[0] % 31) // 100 + digest[1] % 100


def write_demo_csv(path: Path, periods: list[Period]) -> list[DemoBill]:
    bills = [
        DemoBill(number, address, period, demo_amount(number, base, period))
        for number, address, base in DEMO_ACCOUNTS
        for period in reversed(periods)  # oldest first, as a billing export lists them
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["account_number", "period", "amount_due", "address"])
        for bill in bills:
            kopecks = bill.amount_kopecks
            out.writerow(
                [
                    bill.account_number,
                    bill.period.value,
                    f"{kopecks // 100}.{kopecks % 100:02d}",
                    bill.address,
                ]
            )
    return bills


def load_demo_billing(settings: Settings, *, clock: Clock | None = None) -> list[str]:
    """Generate the demo CSV for the last three months and import it (an upsert: safe to repeat)."""
    from eirc.bootstrap import build_container
    from eirc.services.billing_import import import_billing_csv

    clock = clock or Clock()
    periods = last_billed_periods(Period.from_date(clock.now().date()).previous())
    path = DEMO_DIR / DEMO_CSV
    bills = write_demo_csv(path, periods)

    async def _import():  # type: ignore[no-untyped-def]
        container = build_container(settings, clock=clock)
        try:
            return await import_billing_csv(container.uow, container.clock, path)
        finally:
            await container.dispose()

    report = asyncio.run(_import())
    if report.refused_count:  # the demo file is ours: a refusal is a bug, not a resident's typo
        raise RuntimeError(f"demo billing data refused: {report.refused[:3]}")
    newest = periods[0]
    featured = next(b for b in bills if b.account_number == FEATURED and b.period == newest)
    return [
        f"Billing data: {len(DEMO_ACCOUNTS)} demo accounts, bills for "
        f"{', '.join(p.label for p in reversed(periods))} "
        f"({report.added} added, {report.updated} updated, {report.unchanged} unchanged)",
        f"Demo account: {featured.account_number} — {featured.address}",
        f"  newest bill: period {newest.value} ({newest.label}), amount due "
        f"{format_amount(featured.amount_kopecks)} ₽",
        f"  see it with: eirc billing show {featured.account_number}",
    ]


DEMO_STEPS: list[DemoStep] = [load_demo_billing, demo_user_step]


def graphiql_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 (only displayed)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/graphql"


def prepare_demo(settings: Settings, host: str, port: int) -> list[str]:
    """Migrate, run the demo steps, print the "what to try" block (and return its lines)."""
    upgrade(settings.database_url)
    lines = [
        "",
        "eirc demo — what to try",
        f"  GraphiQL (open in a browser): {graphiql_url(host, port)}",
        "  query: { billingPeriods { value label } }",
    ]
    for step in DEMO_STEPS:
        lines.extend(f"  {line}" for line in step(settings))
    outbox = [
        name
        for name, configured in (
            ("SMS", settings.sms_gateway),
            ("e-mail", settings.smtp_host),
            ("Домопульт", settings.crm_url),
        )
        if not configured
    ]
    if outbox:
        lines.append(
            f"  {', '.join(outbox)}: no provider configured, messages go to the development outbox "
            "(printed to this console; development only)"
        )
    lines.append("")
    print("\n".join(lines), flush=True)
    return lines
