"""A generated region for `bench_region.py`: billing accounts with three months of bills, and legacy
residents (SPEC §1) with a known set of bad rows, so that the import's refusals can be checked exactly.

Deterministic: the same sizes and seed give the same files.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

from bench_import import generate as generate_bills

from eirc.domain.periods import Period

ACCOUNT_BASE = 5_000_000_000  # bench_import's account numbers: str(ACCOUNT_BASE + i)
USER_HEADER = "phone,last_name,first_name,middle_name,email,account_number"
USER_COLUMNS = USER_HEADER.count(",") + 1

LAST_NAMES = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов"]
FIRST_NAMES = ["Александр", "Сергей", "Елена", "Ольга", "Дмитрий", "Татьяна", "Андрей", "Наталья"]
MIDDLE_NAMES = ["Александрович", "Сергеевна", "Иванович", "Петровна", "", "Дмитриевич", "", "Андреевна"]
DOMAINS = ["mail.ru", "yandex.ru", "gmail.com", "bk.ru", "Example.com", "rambler.ru"]
BAD_EVERY = 997  # one resident row in this many is a bad one, of the kinds below in turn


def national(i: int) -> str:
    """Resident i's number: 91x… (valid Russian mobile ranges), a permutation of i so the phone index is
    filled in no particular order."""
    return str(9_100_000_000 + (i * 7_777_777) % 100_000_000)


def spelled(number: str, i: int) -> str:
    """The ways people (and old systems) write a number."""
    kind = i % 4
    if kind == 0:
        return f"+7 {number[:3]} {number[3:6]} {number[6:8]} {number[8:]}"
    if kind == 1:
        return "8" + number
    if kind == 2:
        return f"8 ({number[:3]}) {number[3:6]}-{number[6:8]}-{number[8:]}"
    return number


@dataclass
class Residents:
    rows: int = 0  # data rows written
    bad: dict[int, str] = field(default_factory=dict)  # line → the reason the import must give


def generate_residents(path: Path, residents: int, accounts: int, seed: int = 2, first: int = 0) -> Residents:
    """`residents` rows (bad ones among them, listed in the result with the reasons the import must give).

    About nine residents in ten name an account, picked at random in the whole region; seven in ten have an
    e-mail. Residents `first` … `first + residents - 1` (their phones are distinct for any of them)."""
    rnd = random.Random(seed)
    out = Residents()
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        fh.write(USER_HEADER + "\n")
        line = 1
        emails: list[tuple[str, int]] = []  # a few (email, line) pairs of good rows, for repeats
        phones: list[tuple[str, int]] = []
        for i in range(first, first + residents):
            line += 1
            number = national(i)
            last, first, middle = rnd.choice(LAST_NAMES), rnd.choice(FIRST_NAMES), rnd.choice(MIDDLE_NAMES)
            email = f"resident.{i}@{rnd.choice(DOMAINS)}" if rnd.random() < 0.7 else ""
            account = str(ACCOUNT_BASE + rnd.randrange(accounts)) if rnd.random() < 0.9 else ""
            fields = [spelled(number, i), last, first, middle, email, account]
            if i % BAD_EVERY == BAD_EVERY - 1:
                kind = (i // BAD_EVERY) % 7
                if kind == 0:
                    fields[0] = "12345"
                    out.bad[line] = "phone is not a Russian mobile number: '12345'"
                elif kind == 1:
                    fields[1] = " "
                    out.bad[line] = "last_name is empty"
                elif kind == 2:
                    fields[4] = f"resident.{i}@"
                    out.bad[line] = f"email is not an e-mail address: 'resident.{i}@'"
                elif kind == 3:
                    fields[5] = str(ACCOUNT_BASE - 1 - i)
                    out.bad[line] = f"billing account {fields[5]} not found (import the billing data first)"
                elif kind == 4 and phones:
                    phone, first_line = phones[-1]
                    fields[0] = "8" + phone[2:]
                    out.bad[line] = f"phone {phone} already on line {first_line}"
                elif kind == 5 and emails:
                    email, first_line = emails[-1]
                    fields[4] = email.upper()
                    out.bad[line] = f"email {email} already on line {first_line}"
                else:
                    del fields[3]
                    out.bad[line] = (
                        f"expected {USER_COLUMNS} columns ({USER_HEADER}), found {USER_COLUMNS - 1}"
                    )
            elif i % 101 == 0:
                phones.append(("+7" + number, line))
                if email:
                    emails.append((email.lower(), line))
            writer.writerow(fields)
            out.rows += 1
    return out


def bills(path: Path, accounts: int, periods: list[Period]) -> int:
    """bench_import's file: `accounts` × the periods; returns the rows."""
    return generate_bills(path, accounts, periods)


def sample_bills(path: Path, count: int, seed: int = 3) -> list[tuple[str, str, str]]:
    """`count` bills picked at random places of a bills file: (account, period, amount as written)."""
    rnd = random.Random(seed)
    size = path.stat().st_size
    picked: dict[tuple[str, str], str] = {}
    with path.open("rb") as fh:
        while len(picked) < count:
            fh.seek(rnd.randrange(size))
            fh.readline()  # the rest of a line cut by the seek
            line = fh.readline().decode("utf-8")
            if line and not line.startswith("account_number"):
                account, period, amount, _address = next(csv.reader([line]))
                picked[(account, period)] = amount
    return [(account, period, amount) for (account, period), amount in picked.items()]
