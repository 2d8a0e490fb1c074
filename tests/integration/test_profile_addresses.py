"""«Мой профиль» — addresses (SPEC §8) through the GraphQL API, on both backends: `me` numbering, addAddress
(registration's proof, texts and attempt limit), the primary address, removal, the e-bill."""

from __future__ import annotations

from sqlalchemy import event, select

from eirc.domain import texts
from eirc.storage import reads as reads_module
from eirc.storage.tables import Delivery, UserAddress
from tests.profile_kit import (
    ADD,
    FOURTH_ACCOUNT,
    REMOVE,
    SET_EBILL,
    SET_PRIMARY,
    THIRD_ACCOUNT,
    THIRD_ADDRESS,
    add,
    address_id,
    confirm_email,
    me,
    numbered,
    two_residents,
)
from tests.registration_kit import ACCOUNT, ADDRESS, OTHER_ACCOUNT, OTHER_ADDRESS, deliveries, errors_of


async def test_me_numbers_the_addresses_in_the_order_added(gql, container):
    ivan, _ = await two_residents(gql, container)
    first = await add(gql, ivan.token, THIRD_ACCOUNT)
    assert first["errors"] == []
    second = await add(gql, ivan.token, OTHER_ACCOUNT)
    assert second["errors"] == []
    assert numbered(second["profile"]) == [
        (1, ACCOUNT, True),
        (2, THIRD_ACCOUNT, False),
        (3, OTHER_ACCOUNT, False),
    ]
    profile = await me(gql, ivan.token)
    assert profile == second["profile"]
    # The billing centre's text, as imported.
    assert [a["text"] for a in profile["addresses"]] == [ADDRESS, THIRD_ADDRESS, OTHER_ADDRESS]
    assert all(a["ebill"] is False and a["ebillPaused"] is False for a in profile["addresses"])


async def test_me_is_one_query(gql, container, monkeypatch):
    ivan, _ = await two_residents(gql, container)
    for account in (THIRD_ACCOUNT, OTHER_ACCOUNT):
        assert (await add(gql, ivan.token, account))["errors"] == []
    statements: list[str] = []
    reads: list[object] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    def recording(execute):
        async def wrapper(self, statement, params=None):
            reads.append(statement)
            return await execute(self, statement, params)

        return wrapper

    for kind in (reads_module._PostgresConnection, reads_module._SqliteConnection):
        monkeypatch.setattr(kind, "execute", recording(kind.execute))
    engine = container.uow.engine.sync_engine  # the units of work: not used by `me`
    event.listen(engine, "before_cursor_execute", record)
    try:
        profile = await me(gql, ivan.token)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(profile["addresses"]) == 3
    assert len(reads) == 1 and statements == [], (reads, statements)


async def test_a_wrong_amount_or_account_gets_registrations_answers(gql, container):
    ivan, _ = await two_residents(gql, container)
    wrong = await add(gql, ivan.token, OTHER_ACCOUNT, amount="501")
    assert errors_of(wrong) == [("AMOUNT_MISMATCH", "amountDue")]
    assert wrong["errors"][0]["message"] == texts.AMOUNT_MISMATCH
    assert wrong["errors"][0]["hint"] is None  # no «Заявка» from the profile: a signed-in resident files none
    assert numbered(wrong["profile"]) == [(1, ACCOUNT, True)]  # the profile as it stands

    no_bill = await add(gql, ivan.token, OTHER_ACCOUNT, period="2025-11")
    assert errors_of(no_bill) == [("AMOUNT_MISMATCH", "amountDue")]  # no bill for that period

    nobody = (
        await gql(ADD, {"period": "2025-12", "account": "5000000000", "amount": "1"}, token=ivan.token)
    )["addAddress"]
    assert errors_of(nobody) == [("UNKNOWN_ACCOUNT", "accountNumber")]
    assert nobody["errors"][0]["message"] == texts.UNKNOWN_ACCOUNT
    empty = (await gql(ADD, {"period": "2021-06", "account": " ", "amount": "abc"}, token=ivan.token))[
        "addAddress"
    ]
    assert errors_of(empty) == [("REQUIRED", "accountNumber"), ("INVALID_AMOUNT", "amountDue")]
    old = (
        await gql(ADD, {"period": "2021-06", "account": OTHER_ACCOUNT, "amount": "500"}, token=ivan.token)
    )["addAddress"]
    assert errors_of(old) == [("INVALID_PERIOD", "period")]
    assert numbered(await me(gql, ivan.token)) == [(1, ACCOUNT, True)]


async def test_failed_proofs_are_limited_per_resident(gql, container, clock):
    ivan, maria = await two_residents(gql, container)
    limit = container.settings.account_max_attempts
    for _ in range(limit):
        assert errors_of(await add(gql, ivan.token, OTHER_ACCOUNT, amount="1")) == [
            ("AMOUNT_MISMATCH", "amountDue")
        ]
    # Even the right amount is refused now: the amount cannot be found by trying.
    refused = await add(gql, ivan.token, OTHER_ACCOUNT)
    assert errors_of(refused) == [("ACCOUNT_ATTEMPTS_EXCEEDED", "accountNumber")]
    assert numbered(refused["profile"]) == [(1, ACCOUNT, True)]
    # Another resident's limit is their own.
    assert (await add(gql, maria.token, OTHER_ACCOUNT))["errors"] == []
    clock.advance(3600)
    assert (await add(gql, ivan.token, OTHER_ACCOUNT))["errors"] == []


async def test_a_success_does_not_count(gql, container):
    ivan, _ = await two_residents(gql, container)
    limit = container.settings.account_max_attempts
    for _ in range(limit - 1):
        await add(gql, ivan.token, OTHER_ACCOUNT, amount="1")
    assert (await add(gql, ivan.token, OTHER_ACCOUNT))["errors"] == []
    # The success gave its attempt back: the limit-th failure is still compared…
    assert errors_of(await add(gql, ivan.token, THIRD_ACCOUNT, amount="1")) == [
        ("AMOUNT_MISMATCH", "amountDue")
    ]
    # …and past it the limit holds (failures are not forgiven by a success).
    assert errors_of(await add(gql, ivan.token, THIRD_ACCOUNT)) == [
        ("ACCOUNT_ATTEMPTS_EXCEEDED", "accountNumber")
    ]


async def test_the_same_account_twice_and_a_family(gql, container):
    ivan, maria = await two_residents(gql, container)
    again = await add(gql, ivan.token, ACCOUNT)
    assert errors_of(again) == [("ACCOUNT_ALREADY_LINKED", "accountNumber")]
    assert again["errors"][0]["message"] == "Этот лицевой счет уже добавлен в ваш профиль"
    assert (await add(gql, ivan.token, OTHER_ACCOUNT))["errors"] == []
    assert errors_of(await add(gql, ivan.token, OTHER_ACCOUNT)) == [
        ("ACCOUNT_ALREADY_LINKED", "accountNumber")
    ]
    # Maria has the family's account in her own profile, and adds the dacha too.
    assert (await add(gql, maria.token, OTHER_ACCOUNT))["errors"] == []
    ivans, marias = await me(gql, ivan.token), await me(gql, maria.token)
    assert numbered(ivans) == numbered(marias) == [(1, ACCOUNT, True), (2, OTHER_ACCOUNT, False)]
    assert {a["id"] for a in ivans["addresses"]}.isdisjoint({a["id"] for a in marias["addresses"]})


async def test_choose_the_primary_address(gql, container):
    ivan, _ = await two_residents(gql, container)
    await add(gql, ivan.token, OTHER_ACCOUNT)
    profile = (await add(gql, ivan.token, THIRD_ACCOUNT))["profile"]
    answer = (await gql(SET_PRIMARY, {"id": address_id(profile, THIRD_ACCOUNT)}, token=ivan.token))[
        "setPrimaryAddress"
    ]
    assert answer["errors"] == []
    assert numbered(answer["profile"]) == [
        (1, ACCOUNT, False),
        (2, OTHER_ACCOUNT, False),
        (3, THIRD_ACCOUNT, True),
    ]
    # The same again is harmless.
    again = (await gql(SET_PRIMARY, {"id": address_id(profile, THIRD_ACCOUNT)}, token=ivan.token))[
        "setPrimaryAddress"
    ]
    assert again == answer
    assert await me(gql, ivan.token) == answer["profile"]


async def test_remove_addresses(gql, container):
    ivan, _ = await two_residents(gql, container)
    await add(gql, ivan.token, OTHER_ACCOUNT)
    await add(gql, ivan.token, THIRD_ACCOUNT)
    profile = (await add(gql, ivan.token, FOURTH_ACCOUNT))["profile"]

    # A middle one: the numbers close up.
    answer = (await gql(REMOVE, {"id": address_id(profile, OTHER_ACCOUNT)}, token=ivan.token))[
        "removeAddress"
    ]
    assert answer["errors"] == []
    assert numbered(answer["profile"]) == [
        (1, ACCOUNT, True),
        (2, THIRD_ACCOUNT, False),
        (3, FOURTH_ACCOUNT, False),
    ]

    # The primary one: the first remaining one becomes primary.
    answer = (await gql(REMOVE, {"id": address_id(profile, ACCOUNT)}, token=ivan.token))["removeAddress"]
    assert numbered(answer["profile"]) == [(1, THIRD_ACCOUNT, True), (2, FOURTH_ACCOUNT, False)]

    # Removed: unknown now.
    gone = (await gql(REMOVE, {"id": address_id(profile, ACCOUNT)}, token=ivan.token))["removeAddress"]
    assert errors_of(gone) == [("NOT_FOUND", None)]

    answer = (await gql(REMOVE, {"id": address_id(profile, THIRD_ACCOUNT)}, token=ivan.token))[
        "removeAddress"
    ]
    assert numbered(answer["profile"]) == [(1, FOURTH_ACCOUNT, True)]
    last = (await gql(REMOVE, {"id": address_id(profile, FOURTH_ACCOUNT)}, token=ivan.token))["removeAddress"]
    assert errors_of(last) == [("LAST_ADDRESS", None)]
    assert last["errors"][0]["message"] == "Нельзя удалить единственный адрес"
    assert numbered(last["profile"]) == [(1, FOURTH_ACCOUNT, True)]

    # Added again after a removal: last in the list, not primary.
    answer = await add(gql, ivan.token, ACCOUNT)
    assert numbered(answer["profile"]) == [(1, FOURTH_ACCOUNT, True), (2, ACCOUNT, False)]


async def test_ebill_needs_a_confirmed_email_and_reaches_domopult(gql, container, clock):
    ivan, _ = await two_residents(gql, container)
    profile = (await add(gql, ivan.token, OTHER_ACCOUNT))["profile"]
    dacha = address_id(profile, OTHER_ACCOUNT)

    refused = (await gql(SET_EBILL, {"id": dacha, "on": True}, token=ivan.token))["setEbill"]
    assert errors_of(refused) == [("EBILL_NEEDS_CONFIRMED_EMAIL", "ebill")]
    assert refused["errors"][0]["message"] == "Чтобы получать электронную платежку, подтвердите e-mail"
    assert not await deliveries(container, channel="crm", kind="ebill_subscription")

    await confirm_email(gql, container, ivan.email)
    answer = (await gql(SET_EBILL, {"id": dacha, "on": True}, token=ivan.token))["setEbill"]
    assert answer["errors"] == []
    by_account = {a["accountNumber"]: a for a in answer["profile"]["addresses"]}
    assert by_account[OTHER_ACCOUNT]["ebill"] is True and by_account[ACCOUNT]["ebill"] is False

    [event_] = await deliveries(container, channel="crm", kind="ebill_subscription")
    assert event_.payload["type"] == "ebill_subscription" and event_.recipient == "domopult"
    data = event_.payload["data"]
    assert data["phone"] == ivan.phone and data["email"] == ivan.email and data["email_confirmed"] is True
    assert data["account_number"] == OTHER_ACCOUNT and data["address"] == OTHER_ADDRESS
    assert data["enabled"] is True and data["reason"] == "resident" and data["user_id"] == ivan.profile_id
    assert data["changed_at"] == event_.payload["occurred_at"]

    # Asking for what already is: nothing changes, nothing is sent.
    assert (await gql(SET_EBILL, {"id": dacha, "on": True}, token=ivan.token))["setEbill"] == answer
    assert len(await deliveries(container, channel="crm", kind="ebill_subscription")) == 1

    clock.advance(1)
    off = (await gql(SET_EBILL, {"id": dacha, "on": False}, token=ivan.token))["setEbill"]
    assert off["errors"] == [] and all(a["ebill"] is False for a in off["profile"]["addresses"])
    events = await deliveries(container, channel="crm", kind="ebill_subscription")
    assert [e.payload["data"]["enabled"] for e in events] == [True, False]


async def test_removing_a_subscribed_address_ends_its_ebill(gql, container, clock):
    ivan, _ = await two_residents(gql, container)
    await confirm_email(gql, container, ivan.email)
    profile = (await add(gql, ivan.token, OTHER_ACCOUNT))["profile"]
    dacha = address_id(profile, OTHER_ACCOUNT)
    assert (await gql(SET_EBILL, {"id": dacha, "on": True}, token=ivan.token))["setEbill"]["errors"] == []
    clock.advance(1)
    assert (await gql(REMOVE, {"id": dacha}, token=ivan.token))["removeAddress"]["errors"] == []
    events = await deliveries(container, channel="crm", kind="ebill_subscription")
    assert [(e.payload["data"]["enabled"], e.payload["data"]["reason"]) for e in events] == [
        (True, "resident"),
        (False, "address_removed"),
    ]


async def test_no_crm_delivery_without_a_change(gql, container):
    ivan, _ = await two_residents(gql, container)
    await confirm_email(gql, container, ivan.email)
    profile = await me(gql, ivan.token)
    home = address_id(profile, ACCOUNT)
    assert (await gql(SET_EBILL, {"id": home, "on": False}, token=ivan.token))["setEbill"]["errors"] == []
    async with container.uow() as tx:
        kinds = (
            (await tx.session.execute(select(Delivery.kind).where(Delivery.channel == "crm"))).scalars().all()
        )
        rows = (await tx.session.execute(select(UserAddress))).scalars().all()
    assert sorted(kinds) == ["registration", "registration"]
    assert len(rows) == 2


async def test_me_marks_the_session_used_at_most_once_a_minute(gql, container, clock):
    from eirc.storage.tables import Session

    ivan, _ = await two_residents(gql, container)

    async def last_used():
        async with container.uow() as tx:
            return (await tx.session.execute(select(Session.last_used_at))).scalars().all()

    before = await last_used()
    clock.advance(30)
    assert (await me(gql, ivan.token))["id"] == ivan.profile_id
    assert await last_used() == before
    clock.advance(31)
    assert (await me(gql, ivan.token))["id"] == ivan.profile_id
    assert clock.now() in await last_used()


async def test_concurrent_changes_keep_the_list_whole(gql, container):
    import asyncio

    ivan, _ = await two_residents(gql, container)
    same = await asyncio.gather(*(add(gql, ivan.token, OTHER_ACCOUNT) for _ in range(3)))
    assert sorted(len(a["errors"]) for a in same) == [0, 1, 1]
    assert {e["code"] for a in same for e in a["errors"]} == {"ACCOUNT_ALREADY_LINKED"}
    different = await asyncio.gather(
        add(gql, ivan.token, THIRD_ACCOUNT), add(gql, ivan.token, FOURTH_ACCOUNT)
    )
    assert all(a["errors"] == [] for a in different)
    profile = await me(gql, ivan.token)
    assert [a["number"] for a in profile["addresses"]] == [1, 2, 3, 4]
    async with container.uow() as tx:
        positions = (
            (
                await tx.session.execute(
                    select(UserAddress.position).where(UserAddress.user_id == ivan.profile_id)
                )
            )
            .scalars()
            .all()
        )
    assert len(set(positions)) == 4

    ids = [a["id"] for a in profile["addresses"]]
    await asyncio.gather(*(gql(SET_PRIMARY, {"id": i}, token=ivan.token) for i in ids))
    assert sum(a["primary"] for a in (await me(gql, ivan.token))["addresses"]) == 1
    removed = await asyncio.gather(*(gql(REMOVE, {"id": i}, token=ivan.token) for i in ids))
    assert sorted(len(r["removeAddress"]["errors"]) for r in removed) == [0, 0, 0, 1]
    [left] = (await me(gql, ivan.token))["addresses"]
    assert left["primary"] is True and left["number"] == 1
