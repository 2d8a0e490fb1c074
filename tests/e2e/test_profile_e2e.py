"""«Мой профиль» as two residents of one family meet it, on both backends, with the real local peers: GraphQL
over HTTP, letters through SMTP (links opened like a browser), «Домопульт» receiving the e-bill subscriptions
over HTTP — and one resident trying to touch the other's addresses."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.profile_kit import (
    FOURTH_ACCOUNT,
    FOURTH_ADDRESS,
    LOGIN,
    PASSWORD,
    REMOVE,
    SET_EBILL,
    SET_PRIMARY,
    THIRD_ACCOUNT,
    THIRD_ADDRESS,
    add,
    address_id,
    me,
    numbered,
    two_residents,
    update_profile,
)
from tests.registration_kit import ACCOUNT, ADDRESS, OTHER_ACCOUNT, errors_of


@pytest.fixture
def settings_overrides(provider_settings):
    return provider_settings


async def _open_link(http, smtp_sink, address: str) -> None:
    smtp_sink.wait_until(lambda: smtp_sink.messages_to(address))
    url = urlsplit(smtp_sink.confirmation_link(address))
    page = await http.get(f"{url.path}?{url.query}")
    assert page.status_code == 200 and "E-mail подтвержден" in page.text


async def test_a_family_keeps_its_profiles(gql, http, container, clock, provider, smtp_sink, deliver):
    ivan, maria = await two_residents(gql, container)
    await deliver()
    for resident in (ivan, maria):
        await _open_link(http, smtp_sink, resident.email)

    # Ivan adds the dacha and his parents' flat; the numbers follow the order added.
    assert errors_of(await add(gql, ivan.token, THIRD_ACCOUNT, amount="999,00")) == [
        ("AMOUNT_MISMATCH", "amountDue")
    ]
    assert (await add(gql, ivan.token, THIRD_ACCOUNT))["errors"] == []
    profile = (await add(gql, ivan.token, FOURTH_ACCOUNT))["profile"]
    assert [(a["number"], a["text"], a["primary"]) for a in profile["addresses"]] == [
        (1, ADDRESS, True),
        (2, THIRD_ADDRESS, False),
        (3, FOURTH_ADDRESS, False),
    ]
    assert errors_of(await add(gql, ivan.token, FOURTH_ACCOUNT)) == [
        ("ACCOUNT_ALREADY_LINKED", "accountNumber")
    ]
    # Maria has the family's flat too, in her own profile, and adds the dacha.
    marias = (await add(gql, maria.token, OTHER_ACCOUNT))["profile"]
    assert numbered(marias) == [(1, ACCOUNT, True), (2, OTHER_ACCOUNT, False)]

    # The dacha becomes primary; its e-bill goes to Ivan's confirmed e-mail.
    dacha = address_id(profile, THIRD_ACCOUNT)
    switched = (await gql(SET_PRIMARY, {"id": dacha}, token=ivan.token))["setPrimaryAddress"]
    assert numbered(switched["profile"]) == [
        (1, ACCOUNT, False),
        (2, THIRD_ACCOUNT, True),
        (3, FOURTH_ACCOUNT, False),
    ]
    subscribed = (await gql(SET_EBILL, {"id": dacha, "on": True}, token=ivan.token))["setEbill"]
    assert subscribed["errors"] == []
    await deliver()
    [event] = provider.crm_messages("ebill_subscription")
    assert event["data"]["account_number"] == THIRD_ACCOUNT and event["data"]["enabled"] is True
    assert event["data"]["email"] == ivan.email and event["data"]["phone"] == ivan.phone
    assert PASSWORD not in str(event)

    # The primary one removed: the first remaining one is primary, numbers close up.
    removed = (await gql(REMOVE, {"id": dacha}, token=ivan.token))["removeAddress"]
    assert numbered(removed["profile"]) == [(1, ACCOUNT, True), (2, FOURTH_ACCOUNT, False)]
    await deliver()
    assert [
        (e["data"]["enabled"], e["data"]["reason"]) for e in provider.crm_messages("ebill_subscription")
    ] == [
        (True, "resident"),
        (False, "address_removed"),
    ]

    # Ivan tries Maria's addresses: not found, nothing changes for her.
    marias = await me(gql, maria.token)
    for name, document, extra in (
        ("setPrimaryAddress", SET_PRIMARY, {}),
        ("removeAddress", REMOVE, {}),
        ("setEbill", SET_EBILL, {"on": True}),
    ):
        for address in marias["addresses"]:
            answer = (await gql(document, {"id": address["id"], **extra}, token=ivan.token))[name]
            assert errors_of(answer) == [("NOT_FOUND", None)]
    assert await me(gql, maria.token) == marias

    # Renamed, and a new e-mail: the letter goes to it, the old one is no longer a login.
    clock.advance(5)
    renamed = (
        await gql(
            update_profile(lastName='"Сидоров"', middleName="null", email='"ivan.sidorov@example.com"'),
            token=ivan.token,
        )
    )["updateProfile"]
    assert renamed["errors"] == []
    assert (renamed["profile"]["lastName"], renamed["profile"]["middleName"]) == ("Сидоров", None)
    assert renamed["profile"]["emailConfirmed"] is False
    old_login = (await gql(LOGIN, {"login": ivan.email, "password": PASSWORD}))["login"]
    assert [e["code"] for e in old_login["errors"]] == ["INVALID_CREDENTIALS"]
    await deliver()
    await _open_link(http, smtp_sink, "ivan.sidorov@example.com")
    assert (await gql(LOGIN, {"login": "ivan.sidorov@example.com", "password": PASSWORD}))["login"][
        "errors"
    ] == []
    assert (await me(gql, ivan.token))["emailConfirmed"] is True
