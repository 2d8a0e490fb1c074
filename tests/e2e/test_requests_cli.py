"""`eirc requests …` (CONTRACT §4) as support runs it: the real command in a subprocess, on both backends."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from eirc.storage.tables import Delivery
from tests.integration.test_connection_requests_support import EMAIL, PHONE, make_request
from tests.registration_kit import deliveries

EIRC = str(Path(sys.executable).with_name("eirc"))


async def eirc(container, *args: str, user: str = "irina") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(
        EIRC_DATABASE_URL=container.settings.database_url,
        EIRC_SECRET_KEY=container.settings.secret_key,
        EIRC_ENV="test",
        EIRC_PUBLIC_URL="http://lkk.example.com",
        LOGNAME=user,  # getpass.getuser() reads it first: the default --as
        COLUMNS="250",  # a wide table: values are not folded
    )
    return await asyncio.to_thread(
        subprocess.run, [EIRC, *args], env=env, capture_output=True, text=True, timeout=120
    )


def one_line_refusal(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


async def by_kind(container, kind: str) -> list[Delivery]:
    return await deliveries(container, kind=kind)


async def test_list_and_show(container, clock):
    empty = await eirc(container, "requests", "list")
    assert empty.returncode == 0 and "nothing found" in empty.stdout
    assert json.loads((await eirc(container, "requests", "list", "--json")).stdout) == []

    first = await make_request(container, account_number="5099999999", account_period="2025-12")
    clock.advance(minutes=1)
    second = await make_request(container, phone="+79165550099", last_name="Смирнов", flat=None)

    table = await eirc(container, "requests", "list")
    assert table.returncode == 0, table.stderr
    assert first in table.stdout and second in table.stdout and "Смирнов" in table.stdout
    assert table.stdout.index(second) < table.stdout.index(first)  # newest first

    rows = json.loads((await eirc(container, "requests", "list", "--json")).stdout)
    assert [r["id"] for r in rows] == [second, first]
    assert (
        rows[1]["status"] == "new" and rows[1]["phone"] == PHONE and rows[1]["account_number"] == "5099999999"
    )
    assert rows[1]["address"] == "г. Мытищи, ул. Мира, д. 3, кв. 8"

    taken = await eirc(container, "requests", "take", first[:6])
    assert taken.returncode == 0, taken.stderr
    only_new = json.loads((await eirc(container, "requests", "list", "--status", "new", "--json")).stdout)
    assert [r["id"] for r in only_new] == [second]
    bad = await eirc(container, "requests", "list", "--status", "done")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr

    shown = await eirc(container, "requests", "show", first)
    assert shown.returncode == 0, shown.stderr
    for text in (
        first,
        PHONE,
        EMAIL,
        "Иванова",
        "5099999999",
        "2025-12",
        "status history",
        "irina",
        "resident",
    ):
        assert text in shown.stdout, text
    record = json.loads((await eirc(container, "requests", "show", first, "--json")).stdout)
    assert record["id"] == first and record["status"] == "in_progress" and record["assignee"] == "irina"
    assert (
        record["middle_name"] == "Николаевна"
        and record["flat"] == "8"
        and record["email_notifications"] is True
    )
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in record["history"]] == [
        (None, "new", "resident"),
        ("new", "in_progress", "irina"),
    ]
    assert all(h["at"] for h in record["history"])


async def test_take_resolve_tells_the_resident(container):
    request_id = await make_request(container)
    taken = await eirc(container, "requests", "take", request_id, "--as", "anna")
    assert taken.returncode == 0, taken.stderr
    assert f"request {request_id}: new → in_progress, assignee anna" in taken.stdout

    resolved = await eirc(container, "requests", "resolve", request_id, "--json")
    assert resolved.returncode == 0, resolved.stderr
    change = json.loads(resolved.stdout)
    assert (change["from_status"], change["to_status"], change["status"]) == (
        "in_progress",
        "resolved",
        "resolved",
    )
    assert change["notified"] == ["sms", "email"] and change["assignee"] == "anna"
    assert change["history"][-1]["actor"] == "irina"  # the OS user resolved it

    [sms] = [d for d in await by_kind(container, "connection_request_resolved") if d.channel == "sms"]
    assert sms.recipient == PHONE and sms.status == "pending"
    assert (
        sms.payload["text"]
        == "МосОблЕИРЦ: ваш адрес добавлен. Зарегистрируйтесь в личном кабинете по номеру телефона."
    )
    [letter] = [d for d in await by_kind(container, "connection_request_resolved") if d.channel == "email"]
    assert letter.recipient == EMAIL and "http://lkk.example.com" in letter.payload["text"]

    # Resolved is final: every further change is refused with one line, and nothing more is sent.
    one_line_refusal(await eirc(container, "requests", "resolve", request_id), "cannot resolve", "resolved")
    one_line_refusal(await eirc(container, "requests", "take", request_id), "cannot take", "resolved")
    one_line_refusal(
        await eirc(container, "requests", "reject", request_id, "--reason", "нет"), "cannot reject"
    )
    assert len(await by_kind(container, "connection_request_resolved")) == 2


async def test_reject_with_a_reason(container):
    request_id = await make_request(container)
    reason = "По этому адресу обслуживает другая компания"
    done = await eirc(
        container, "requests", "reject", request_id[:10], "--reason", reason, "--as", "[/]boris"
    )
    assert done.returncode == 0, done.stderr
    assert (
        "new → rejected, assignee [/]boris" in done.stdout and "SMS and e-mail" in done.stdout
    )  # not markup
    [sms] = [d for d in await by_kind(container, "connection_request_rejected") if d.channel == "sms"]
    assert sms.recipient == PHONE and reason in sms.payload["text"]
    [letter] = [d for d in await by_kind(container, "connection_request_rejected") if d.channel == "email"]
    assert reason in letter.payload["text"]
    record = json.loads((await eirc(container, "requests", "show", request_id, "--json")).stdout)
    assert record["status"] == "rejected" and record["reason"] == reason
    assert record["history"][-1] == {**record["history"][-1], "actor": "[/]boris", "reason": reason}

    one_line_refusal(
        await eirc(container, "requests", "resolve", request_id), "cannot resolve a request that is rejected"
    )


async def test_refusals_are_one_line(container):
    request_id = await make_request(container)
    one_line_refusal(await eirc(container, "requests", "show", "0" * 32), "no connection request")
    one_line_refusal(await eirc(container, "requests", "take", "nope"), "no connection request")
    one_line_refusal(await eirc(container, "requests", "reject", request_id, "--reason", "  "), "--reason")
    one_line_refusal(await eirc(container, "requests", "reject", request_id, "--reason", "я" * 1001), "1000")
    one_line_refusal(await eirc(container, "requests", "take", request_id, "--as", ""), "--as")
    missing = await eirc(container, "requests", "reject", request_id)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "--reason" in missing.stderr
    record = json.loads((await eirc(container, "requests", "show", request_id, "--json")).stdout)
    assert record["status"] == "new" and len(record["history"]) == 1
    assert await deliveries(container) == []
