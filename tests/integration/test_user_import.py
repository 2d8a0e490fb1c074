"""`eirc users import`'s service on SQLite and PostgreSQL (issue 24): the rules applied to whole batches —
added, updated, unchanged, kept, refused with line and reason — across batches, in worker processes, and
when a batch meets a concurrent change. The command line's own tests are in tests/e2e/test_users_cli.py."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from eirc.services import user_import
from eirc.services.user_import import ImportReport, import_users
from eirc.storage import user_import as store
from eirc.storage.tables import User, UserAddress
from tests.e2e.signin_helpers import add_account, make_user

HEADER = "phone,last_name,first_name,middle_name,email,account_number"
A1, A2, A3 = "5000000001", "5000000002", "5000000003"


def write(tmp_path: Path, rows: list[tuple[str, ...] | str], name: str = "users.csv") -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for r in rows:
        if isinstance(r, str):
            out.write(r + "\n")
        else:
            writer.writerow(r)
    path = tmp_path / name
    path.write_text(HEADER + "\n" + out.getvalue(), encoding="utf-8")
    return path


async def run(container, path: Path, **kwargs) -> ImportReport:
    return await import_users(container.uow, container.clock, path, **kwargs)


def refused(report: ImportReport) -> dict[int, str]:
    return {r.line: r.reason for r in report.refused}


async def residents(container) -> dict[str, tuple]:
    async with container.uow() as tx:
        users = (await tx.session.execute(select(User))).scalars().all()
        places = (await tx.session.execute(select(UserAddress))).scalars().all()
        by_user: dict[str, list[tuple]] = {}
        for a in sorted(places, key=lambda a: a.position):
            by_user.setdefault(a.user_id, []).append((a.account_number, a.position, a.primary))
        return {
            u.phone: (
                u.last_name,
                u.first_name,
                u.middle_name,
                u.email,
                u.email_confirmed,
                u.source,
                u.password_hash is None,
                by_user.get(u.id, []),
            )
            for u in users
        }


@pytest.fixture
async def accounts(container):
    for number in (A1, A2, A3):
        await add_account(container, number, f"г.Москва, д.{number[-1]}")


async def test_new_residents_and_every_refusal(container, accounts, tmp_path):
    await make_user(container, phone="+79160000009", email="taken@example.com")  # registered
    report = await run(
        container,
        write(
            tmp_path,
            [
                ("+7 916 000-00-01", "Иванов", "Иван", "Иванович", "Ivan@Example.com", A1),  # 2 added
                ("89160000002", " Петрова ", "Мария", "", "", ""),  # 3 added, no address
                ("8 (916) 000-00-01", "Дубль", "Дубль", "", "", ""),  # 4 the phone of line 2
                ("9160000003", "Сидоров", "Сидор", "", "ivan@example.com", ""),  # 5 the e-mail of line 2
                ("9160000004", "Фамилия", "Имя", "", "", "9999999999"),  # 6 no such account
                ("9160000005", "Фамилия", "Имя", "", "", "50 01"),  # 7 not an account number either
                ("9160000006", "Фамилия", "Имя", "", "taken@example.com", ""),  # 8 another resident's
                ("9160000009", "Чужой", "Чужой", "", "", A2),  # 9 registered: kept as is
                ("12345", "Фамилия", "Имя", "", "", ""),  # 10
                ("9160000010", "", "Имя", "", "", ""),  # 11
                ("9160000011", "Фамилия", "Имя", "x" * 101, "", ""),  # 12
                ("9160000012", "Фамилия", "Имя", "", "x@", ""),  # 13
                "9160000013,Фамилия,Имя",  # 14
            ],
        ),
    )
    assert (report.added, report.updated, report.unchanged, report.kept) == (2, 0, 0, 1)
    assert refused(report) == {
        4: "phone +79160000001 already on line 2",
        5: "email ivan@example.com already on line 2",
        6: "billing account 9999999999 not found (import the billing data first)",
        7: "billing account 50 01 not found (import the billing data first)",
        8: "email taken@example.com is used by another resident",
        10: "phone is not a Russian mobile number: '12345'",
        11: "last_name is empty",
        12: "middle_name is too long",
        13: "email is not an e-mail address: 'x@'",
        14: f"expected 6 columns ({HEADER}), found 3",
    }
    assert report.rows == 13
    stored = await residents(container)
    assert stored["+79160000001"] == (
        "Иванов",
        "Иван",
        "Иванович",
        "ivan@example.com",
        False,
        "import",
        True,
        [(A1, 1, True)],
    )
    assert stored["+79160000002"] == ("Петрова", "Мария", None, None, False, "import", True, [])
    assert stored["+79160000009"][0] == "Петров" and stored["+79160000009"][7] == []  # kept: untouched
    assert set(stored) == {"+79160000001", "+79160000002", "+79160000009"}
    async with container.uow() as tx:
        ids = (await tx.session.execute(select(User.id))).scalars().all()
    assert all(re.fullmatch("[0-9a-f]{32}", i) for i in ids)


async def test_a_second_import_updates_what_changed_and_nothing_else(container, accounts, tmp_path, clock):
    first = [
        ("9160000001", "Иванов", "Иван", "", "ivan@example.com", A1),
        ("9160000002", "Петрова", "Мария", "", "maria@example.com", ""),
        ("9160000003", "Сидоров", "Сидор", "", "", A1),
    ]
    assert (await run(container, write(tmp_path, first))).added == 3
    again = await run(container, write(tmp_path, first))
    assert (again.added, again.updated, again.unchanged, again.refused) == (0, 0, 3, [])
    async with container.uow() as tx:
        stamps = dict((await tx.session.execute(select(User.phone, User.updated_at))).all())
    clock.advance(3600)
    report = await run(
        container,
        write(
            tmp_path,
            [
                ("9160000001", "Иванов", "Иван", "Петрович", "ivan@example.com", A2),  # a name, an address
                ("9160000002", "Петрова", "Мария", "", "", A3),  # no e-mail: the stored one stays
                ("9160000003", "Сидоров", "Сидор", "", "sidor@example.com", A1),  # an e-mail
            ],
            "second.csv",
        ),
    )
    assert (report.added, report.updated, report.unchanged, report.refused) == (0, 3, 0, [])
    stored = await residents(container)
    assert stored["+79160000001"][2] == "Петрович"
    assert stored["+79160000001"][7] == [(A1, 1, True), (A2, 2, False)]  # added last, not primary
    assert stored["+79160000002"][3] == "maria@example.com"
    assert stored["+79160000002"][7] == [(A3, 1, True)]  # its first address is primary
    assert stored["+79160000003"][3:5] == ("sidor@example.com", False)
    async with container.uow() as tx:
        after = dict((await tx.session.execute(select(User.phone, User.updated_at))).all())
    assert after["+79160000001"] == after["+79160000003"] == clock.now()
    assert after["+79160000002"] == stamps["+79160000002"]  # only an address added: the row is as it was


async def test_repeats_across_batches_name_the_first_line(container, accounts, tmp_path):
    rows = [(f"91600000{n:02d}", "Фамилия", "Имя", "", f"r{n}@example.com", A1) for n in range(10)]
    rows.append(("+7 916 000 00 03", "Дубль", "Дубль", "", "", ""))  # line 12: the phone of line 5
    rows.append(("9160000099", "Дубль", "Дубль", "", "R7@EXAMPLE.COM", ""))  # line 13: the e-mail of line 9
    report = await run(container, write(tmp_path, rows), batch_size=3)
    assert refused(report) == {
        12: "phone +79160000003 already on line 5",
        13: "email r7@example.com already on line 9",
    }
    assert (report.added, report.rows) == (10, 12)


async def test_a_line_that_is_not_utf8_is_refused_and_the_rest_imported(container, tmp_path):
    good = "".join(f"91600{n:05d},Фамилия,Имя,,,\n" for n in range(3000))
    path = tmp_path / "late.csv"
    path.write_bytes(
        (HEADER + "\n" + good).encode() + "9169999999,Фамилия,Москва,,,".encode("cp1251") + b"\n"
    )
    assert path.stat().st_size > 64 * 1024  # past the first block, checked before anything is written
    report = await run(container, path)
    assert (report.added, refused(report)) == (3000, {3002: "the line is not valid UTF-8 text"})


async def test_validating_in_worker_processes_gives_the_same_report(
    container, accounts, tmp_path, monkeypatch
):
    rows = [
        (f"9160001{n:03d}", "Фамилия", "Имя", "", f"w{n}@example.com", A1 if n % 2 else "") for n in range(40)
    ]
    rows += [("bad", "Фамилия", "Имя", "", "", ""), ("9160001000", "Дубль", "Дубль", "", "", "")]
    path = write(tmp_path, rows)
    monkeypatch.setattr(user_import, "PROCESSES_FROM_BYTES", 0)
    report = await run(container, path, batch_size=7)
    assert (report.added, report.rows) == (40, 42)
    assert refused(report) == {
        42: "phone is not a Russian mobile number: 'bad'",
        43: "phone +79160001000 already on line 2",
    }
    assert len(await residents(container)) == 40


async def test_a_batch_that_meets_a_concurrent_change_costs_only_its_conflicting_row(
    container, accounts, tmp_path, monkeypatch
):
    # A resident registers with a phone of the batch after the batch looked it up: the batch is redone,
    # and row by row when the change keeps being missed (here, always), so only that row is refused.
    await make_user(container, phone="+79160000002", email="reg@example.com")
    looked_up = store.ResidentStore.lookup

    async def stale(self, *, phones, emails, accounts):
        known = await looked_up(self, phones=phones, emails=emails, accounts=accounts)
        known.residents.pop("+79160000002", None)
        return known

    monkeypatch.setattr(store.ResidentStore, "lookup", stale)
    report = await run(
        container,
        write(
            tmp_path,
            [
                ("9160000001", "Иванов", "Иван", "", "", A1),
                ("9160000002", "Петров", "Пётр", "", "", A2),
                ("9160000003", "Сидоров", "Сидор", "", "", A3),
            ],
        ),
    )
    assert (report.added, report.rows) == (2, 3)
    assert refused(report) == {3: "conflicts with a change made meanwhile (phone or e-mail); import again"}
    stored = await residents(container)
    assert stored["+79160000002"][6] is False  # the registered resident, untouched
    assert stored["+79160000001"][7] == [(A1, 1, True)] and stored["+79160000003"][7] == [(A3, 1, True)]


async def test_progress_is_reported_in_bytes(container, tmp_path):
    path = write(tmp_path, [(f"91600{n:05d}", "Фамилия", "Имя", "", "", "") for n in range(50)])
    seen: list[tuple[int, int]] = []
    await run(container, path, batch_size=10, progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert len(seen) >= 5 and all(total == size for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen) and seen[-1] == (size, size)


async def test_the_files_own_quirks_keep_their_rules(container, accounts, tmp_path):
    # Strict CSV (a stray quote refuses its row), blank spreadsheet rows skipped, an over-long account
    # refused, and an account holding a NUL (past the first block, which refuses a binary file whole) is
    # simply not found — never sent to a database that cannot take it.
    good = "".join(f"91600{n:05d},Фамилия,Имя,Отчество,,\n" for n in range(1500))  # lines 2-1501
    tail = (
        '9169000001,"Иванов"x,Имя,,,\n'  # 1502
        ",,,,,\n"  # a blank row: not a row
        f"9169000002,Фамилия,Имя,,,{'5' * 33}\n"  # 1504
        "9169000003,Фамилия,Имя,,,50\x0001\n"  # 1505
        f"9169000004,Фамилия,Имя,,,{A1}\n"  # 1506
    )
    path = tmp_path / "quirks.csv"
    path.write_text(HEADER + "\n" + good + tail, encoding="utf-8")
    assert path.stat().st_size > 64 * 1024
    report = await run(container, path)
    assert refused(report) == {
        1502: "not readable as CSV: ',' expected after '\"'",
        1504: f"account_number is too long: '{'5' * 33}'",
        1505: "billing account 50\x0001 not found (import the billing data first)",
    }
    assert (report.added, report.rows) == (1501, 1504)
