"""The billing CSV import (CONTRACT §4) on SQLite and PostgreSQL: counts, refusals, idempotence, atomic rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from eirc.services.billing_import import BillingFileError, ImportReport, import_billing_csv
from eirc.storage.tables import Bill, BillingAccount

HEADER = "account_number,period,amount_due,address"
VYAZEMSKAYA = "г.Москва, ул.Вяземская, д.34, к.2, кв.90"
KHIMKI = "Г.О. ХИМКИ Р-Н., Г. ХИМКИ, МЕЛЬНИКОВА. ПР-Т., Д.4, КВ.12"


def write(tmp_path: Path, lines: list[str], name: str = "bills.csv", *, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(*fields: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


async def run(container, path: Path, **kwargs) -> ImportReport:
    return await import_billing_csv(container.uow, container.clock, path, **kwargs)


async def accounts(container) -> dict[str, str]:
    async with container.uow() as tx:
        rows = (await tx.session.execute(select(BillingAccount.account_number, BillingAccount.address))).all()
    return dict(rows)


async def bills(container) -> dict[tuple[str, str], int]:
    async with container.uow() as tx:
        rows = (await tx.session.execute(select(Bill.account_number, Bill.period, Bill.amount_kopecks))).all()
    return {(a, p): k for a, p, k in rows}


def refused(report: ImportReport) -> dict[int, str]:
    return {r.line: r.reason for r in report.refused}


MIXED = [
    HEADER,
    row("5001", "2025-10", "1234.56", VYAZEMSKAYA),  # 2 good
    row("5001", "2025-11", "1 300,5", VYAZEMSKAYA),  # 3 good: comma decimal, grouped roubles
    row("5002", "2025-13", "100.00", KHIMKI),  # 4 no such month
    row("5002", "10.2025", "100.00", KHIMKI),  # 5 wrong period format
    row("5003", "2025-10", "abc", KHIMKI),  # 6 not an amount
    row("5003", "2025-11", "-5.00", KHIMKI),  # 7 negative
    row("5003", "2025-12", "1.234", KHIMKI),  # 8 three decimals
    row("", "2025-10", "1.00", KHIMKI),  # 9 no account
    row("50 04", "2025-10", "1.00", KHIMKI),  # 10 a space in the account number
    row("5" * 33, "2025-10", "1.00", KHIMKI),  # 11 account number too long
    row("5005", "2025-10", "1.00", "   "),  # 12 no address
    row("5005", "2025-11", "1.00", "д" * 501),  # 13 address too long
    "5006,2025-10,1.00",  # 14 three columns
    row("5006", "2025-10", "1.00", KHIMKI, "extra"),  # 15 five columns
    row("5001", "2025-10", "999.99", VYAZEMSKAYA),  # 16 the same account and period as line 2
    "",  # 17 an empty line is not a row
    row("5007", "2025-12", "0", KHIMKI),  # 18 good: zero is an amount
    row("ЛС-77", "2025-12", "10", KHIMKI),  # 19 good: letters and a dash
    row("5008", "", "1.00", KHIMKI),  # 20 no period
    row("5008", "2025-12", "", KHIMKI),  # 21 no amount
]
GOOD_LINES = {2, 3, 18, 19}


async def test_good_and_bad_rows(container, tmp_path):
    report = await run(container, write(tmp_path, MIXED))
    assert (report.added, report.updated, report.unchanged) == (4, 0, 0)
    assert report.rows == 19  # every line but the header and the empty one
    reasons = refused(report)
    assert set(reasons) == {4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 21}
    assert report.refused_count == len(reasons) == report.rows - len(GOOD_LINES)
    assert "period must be YYYY-MM" in reasons[4] and "'2025-13'" in reasons[4]
    assert "period must be YYYY-MM" in reasons[5]
    assert "amount_due must be an amount" in reasons[6] and "'abc'" in reasons[6]
    assert "amount_due" in reasons[7] and "amount_due" in reasons[8]
    assert reasons[9] == "account_number is empty"
    assert "only digits, letters and dashes" in reasons[10]
    assert "longer than 32" in reasons[11]
    assert reasons[12] == "address is empty"
    assert "longer than 500" in reasons[13]
    assert "expected 4 columns" in reasons[14] and "found 3" in reasons[14]
    assert "found 5" in reasons[15]
    assert reasons[16] == "the same account and period as line 2"
    assert reasons[20] == "period is empty"
    assert reasons[21] == "amount_due is empty"
    assert await bills(container) == {
        ("5001", "2025-10"): 123456,
        ("5001", "2025-11"): 130050,
        ("5007", "2025-12"): 0,
        ("ЛС-77", "2025-12"): 1000,
    }
    assert await accounts(container) == {"5001": VYAZEMSKAYA, "5007": KHIMKI, "ЛС-77": KHIMKI}
    assert report.as_dict()["refused"][0] == {"line": 4, "reason": reasons[4]}


async def test_reimport_is_idempotent(container, tmp_path, clock):
    path = write(tmp_path, MIXED)
    first = await run(container, path)
    stored_accounts, stored_bills = await accounts(container), await bills(container)
    async with container.uow() as tx:
        stamps = dict(
            (await tx.session.execute(select(BillingAccount.account_number, BillingAccount.updated_at))).all()
        )
    clock.advance(3600)
    again = await run(container, path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
    assert refused(again) == refused(first) and again.rows == first.rows
    assert await accounts(container) == stored_accounts and await bills(container) == stored_bills
    async with container.uow() as tx:
        after = dict(
            (await tx.session.execute(select(BillingAccount.account_number, BillingAccount.updated_at))).all()
        )
    assert after == stamps  # an unchanged account is not rewritten


async def test_changed_amounts_and_addresses_are_updates(container, tmp_path, clock):
    await run(container, write(tmp_path, [
        HEADER,
        row("5001", "2025-10", "100.00", VYAZEMSKAYA),
        row("5001", "2025-11", "200.00", VYAZEMSKAYA),
        row("5002", "2025-10", "300.00", KHIMKI),
        row("5002", "2025-11", "400.00", KHIMKI),
    ], "first.csv"))  # fmt: skip
    clock.advance(86400)
    moved = "г.Москва, ул.Профсоюзная, д.56, кв.214"
    report = await run(container, write(tmp_path, [
        HEADER,
        row("5001", "2025-10", "100.00", VYAZEMSKAYA),  # unchanged
        row("5001", "2025-11", "250.00", VYAZEMSKAYA),  # amount changed
        row("5001", "2025-12", "300.00", VYAZEMSKAYA),  # a new month
        row("5002", "2025-10", "300.00", moved),  # the account moved: this row changes its address
        row("5002", "2025-11", "400.00", moved),  # same address as the row before: unchanged
        row("5001", "2026-01", "100.00", moved),  # a new month that moves 5001 too: added (not updated)
    ], "second.csv"))  # fmt: skip
    assert (report.added, report.updated, report.unchanged, report.refused) == (2, 2, 2, [])
    assert (await bills(container))[("5001", "2025-11")] == 25000
    assert await accounts(container) == {"5001": moved, "5002": moved}
    async with container.uow() as tx:
        stamps = dict(
            (await tx.session.execute(select(BillingAccount.account_number, BillingAccount.updated_at))).all()
        )
    assert stamps == {"5001": clock.now(), "5002": clock.now()}


async def test_a_refused_row_writes_nothing_of_its_account(container, tmp_path):
    report = await run(container, write(tmp_path, [
        HEADER,
        row("6001", "2025-10", "12,345.67", VYAZEMSKAYA),  # ambiguous amount: the only row of 6001
        row("6002", "2025-10", "100.00", KHIMKI),
        row("6002", "2025-11", "oops", "a different address"),  # refused: must not move 6002
        row("6003", "2025-10", "100.00", ""),  # refused: no account 6003 without an address
    ]))  # fmt: skip
    assert (report.added, sorted(refused(report))) == (1, [2, 4, 5])
    assert await accounts(container) == {"6002": KHIMKI}
    assert await bills(container) == {("6002", "2025-10"): 10000}


async def test_duplicates_across_batches_and_quoted_fields(container, tmp_path):
    lines = [HEADER]
    for n in range(10):
        lines.append(row(f"70{n:02d}", "2025-12", f"{n}.50", f"{KHIMKI}, кв.{n}"))
    lines.append(row("7003", "2025-12", "1.00", "другой адрес"))  # line 12 repeats line 5, batches apart
    lines.append('7100,2025-12,"1 000,00","г.Москва, ""Дом на набережной"", кв.1"')
    report = await run(container, write(tmp_path, lines), batch_size=3)
    assert refused(report) == {12: "the same account and period as line 5"}
    assert (report.added, report.rows) == (11, 12)
    stored = await accounts(container)
    assert stored["7003"] == f"{KHIMKI}, кв.3"
    assert stored["7100"] == 'г.Москва, "Дом на набережной", кв.1'
    assert (await bills(container))[("7100", "2025-12")] == 100000


async def test_a_key_repeated_in_a_later_batch_names_its_first_line(container, tmp_path):
    # The file's keys so far are the database's to remember (the import's stage table): a key of batch 1
    # met twice in batch 3 is refused twice, both times with the line of batch 1.
    report = await run(container, write(tmp_path, [
        HEADER,
        row("8001", "2025-12", "1.00", KHIMKI),  # 2: batch 1
        row("8002", "2025-12", "2.00", KHIMKI),  # 3
        row("8003", "2025-12", "3.00", KHIMKI),  # 4: batch 2
        row("8004", "2025-12", "4.00", KHIMKI),  # 5
        row("8001", "2025-12", "5.00", KHIMKI),  # 6: batch 3, a repeat of line 2
        row("8001", "2025-12", "6.00", KHIMKI),  # 7: the same again, in the same batch
    ]), batch_size=2)  # fmt: skip
    assert refused(report) == {
        6: "the same account and period as line 2",
        7: "the same account and period as line 2",
    }
    assert (report.added, report.unchanged, report.rows) == (4, 0, 6)
    assert (await bills(container))[("8001", "2025-12")] == 100


async def test_bom_and_header_spelling(container, tmp_path):
    path = write(
        tmp_path,
        [" Account_Number , period,amount_due,ADDRESS", row("5001", "2025-12", "1.00", KHIMKI)],
        bom=True,
    )
    report = await run(container, path)
    assert (report.added, report.refused) == (1, [])


async def test_a_bad_byte_late_in_the_file_refuses_only_its_row(container, tmp_path):
    path = tmp_path / "late.csv"
    good = [row(f"9{n:05d}", "2025-12", "10.00", f"{VYAZEMSKAYA}, подъезд {n}") for n in range(1500)]
    body = ("\n".join([HEADER, *good]) + "\n").encode()
    assert len(body) > 64 * 1024  # past the block checked before the import starts
    path.write_bytes(body + b"99999,2025-12,1.00," + "Москва".encode("cp1251") + b"\n")
    report = await run(container, path)
    assert (report.added, refused(report)) == (1500, {1502: "the line is not valid UTF-8 text"})


async def test_a_record_that_is_not_csv_is_refused_and_the_rest_imported(container, tmp_path):
    report = await run(container, write(tmp_path, [
        HEADER,
        row("5001", "2025-12", "1.00", KHIMKI),
        row("5002", "2025-12", "1.00", "д" * 200_000),  # past the csv module's field limit
        row("5003", "2025-12", "1.00", "г.Москва,\nул.Вяземская"),  # a quoted line break: one record, lines 4-5
        row("5004", "2025-12", "1.00", KHIMKI),  # line 6
        row("5005", "2025-12", "x", KHIMKI),  # line 7
    ]))  # fmt: skip
    reasons = refused(report)
    assert sorted(reasons) == [3, 7] and "cannot be read as CSV" in reasons[3]
    assert (report.added, report.rows) == (3, 5)
    assert (await accounts(container))["5003"] == "г.Москва, ул.Вяземская"  # line breaks become spaces


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b"account_number;period;amount_due;address\n1;2025-12;1.00;x\n", "the header must be"),
        (b"account_number,period,amount\n1,2025-12,1.00\n", "the header must be"),
        ("account_number,period,amount_due,address\n1,2025-12,1.00,Москва\n".encode("cp1251"), "not a UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a UTF-8"),
    ],
)
async def test_a_file_that_is_not_a_billing_csv_writes_nothing(container, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(BillingFileError, match=message) as caught:
        await run(container, path)
    assert "\n" not in str(caught.value)
    assert await accounts(container) == {}


async def test_a_missing_file_or_a_directory(container, tmp_path):
    with pytest.raises(BillingFileError, match="no such file"):
        await run(container, tmp_path / "missing.csv")
    with pytest.raises(BillingFileError, match="is a directory"):
        await run(container, tmp_path)


async def test_progress_is_reported_in_bytes(container, tmp_path):
    lines = [HEADER] + [row(f"{n}", "2025-12", "1.00", KHIMKI) for n in range(1, 50)]
    path = write(tmp_path, lines)
    seen: list[tuple[int, int]] = []
    await run(container, path, batch_size=10, progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert len(seen) >= 5 and all(total == size for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen) and seen[-1] == (size, size)


async def test_direction_marks_in_an_address_are_dropped(container, tmp_path):
    """An address is shown to residents and in support's tables: a right-to-left override in it would make
    either show something else than what is stored."""
    path = write(tmp_path, [HEADER, row("5001", "2025-10", "10.00", "г.Москва, \u202eул.Вяземская\u202c, д.34\u200f")])
    report = await run(container, path)
    assert (report.added, report.refused_count) == (1, 0)
    assert await accounts(container) == {"5001": "г.Москва, ул.Вяземская, д.34"}
