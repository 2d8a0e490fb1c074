"""«Мой профиль» — `updateProfile` (SPEC §6, §8) through the GraphQL API, on both backends: names, birth date,
notifications; a new e-mail: unconfirmed, a letter, e-bills paused and resumed, the old e-mail no longer a
login, old links dead."""

from __future__ import annotations

from sqlalchemy import select

from eirc.domain import texts
from eirc.storage.tables import User
from tests.profile_kit import (
    CONFIRM_EMAIL,
    EMAIL_B,
    LOGIN,
    PASSWORD,
    SET_EBILL,
    add,
    address_id,
    confirm_email,
    me,
    two_residents,
    update_profile,
)
from tests.registration_kit import (
    OTHER_ACCOUNT,
    deliveries,
    errors_of,
    last_email_token,
)

NEW_EMAIL = "ivan.new@example.com"


async def _update(gql, token: str, **args: str) -> dict:
    return (await gql(update_profile(**args), token=token))["updateProfile"]


async def test_rename_and_the_rest_stays(gql, container):
    ivan, _ = await two_residents(gql, container)
    before = await me(gql, ivan.token)
    answer = await _update(gql, ivan.token, lastName='"  Сидоров "', firstName='"Пётр"')
    assert answer["errors"] == []
    after = answer["profile"]
    assert (after["lastName"], after["firstName"]) == ("Сидоров", "Пётр")
    untouched = (
        "middleName",
        "birthDate",
        "email",
        "emailConfirmed",
        "emailNotifications",
        "addresses",
        "phone",
    )
    assert {k: after[k] for k in untouched} == {k: before[k] for k in untouched}
    assert await me(gql, ivan.token) == after
    # Nothing given: nothing changes.
    assert (await _update(gql, ivan.token))["profile"] == after


async def test_null_clears_optional_fields_and_is_required_for_the_others(gql, container):
    ivan, _ = await two_residents(gql, container)
    before = await me(gql, ivan.token)
    assert before["middleName"] == "Сергеевич" and before["birthDate"] == "1985-04-12"

    refused = await _update(
        gql,
        ivan.token,
        lastName='""',
        firstName="null",
        email='"  "',
        emailNotifications="null",
        middleName="null",
    )
    assert errors_of(refused) == [
        ("REQUIRED", "lastName"),
        ("REQUIRED", "firstName"),
        ("REQUIRED", "email"),
        ("REQUIRED", "emailNotifications"),
    ]
    assert all(e["message"] == texts.REQUIRED_FIELD for e in refused["errors"])
    assert refused["profile"] == before  # nothing changed, not even the valid middleName

    cleared = await _update(gql, ivan.token, middleName="null", birthDate="null", emailNotifications="false")
    assert cleared["errors"] == []
    assert cleared["profile"]["middleName"] is None and cleared["profile"]["birthDate"] is None
    assert cleared["profile"]["emailNotifications"] is False
    assert (await _update(gql, ivan.token, middleName='"  "'))["profile"]["middleName"] is None


async def test_birth_date_and_lengths(gql, container):
    ivan, _ = await two_residents(gql, container)
    future = await _update(gql, ivan.token, birthDate='"2026-01-16"')  # the frozen clock: 2026-01-15
    assert errors_of(future) == [("INVALID_DATE", "birthDate")]
    assert errors_of(await _update(gql, ivan.token, birthDate='"1899-12-31"')) == [
        ("INVALID_DATE", "birthDate")
    ]
    assert (await _update(gql, ivan.token, birthDate='"2026-01-15"'))["profile"]["birthDate"] == "2026-01-15"
    long = await _update(gql, ivan.token, lastName='"' + "Я" * 101 + '"')
    assert errors_of(long) == [("TOO_LONG", "lastName")]
    control = await _update(gql, ivan.token, firstName='"Иван\\u0000"')
    assert errors_of(control) == [("INVALID_INPUT", "firstName")]


async def test_bad_and_taken_emails(gql, container):
    ivan, _ = await two_residents(gql, container)
    bad = await _update(gql, ivan.token, email='"ivan.example.com"')
    assert (
        errors_of(bad) == [("INVALID_EMAIL", "email")] and bad["errors"][0]["message"] == texts.INVALID_EMAIL
    )
    taken = await _update(gql, ivan.token, email=f'"{EMAIL_B.upper()}"')
    assert errors_of(taken) == [("EMAIL_TAKEN", "email")]
    assert taken["profile"]["email"] == ivan.email
    # Its own address, in another case: no change at all (no letter, still as confirmed as it was).
    letters = len(await deliveries(container, channel="email"))
    same = await _update(gql, ivan.token, email=f'"{ivan.email.upper()}"')
    assert same["errors"] == [] and same["profile"]["email"] == ivan.email
    assert len(await deliveries(container, channel="email")) == letters


async def test_a_new_email(gql, container, clock):
    ivan, _ = await two_residents(gql, container)
    old_token = await last_email_token(container, ivan.email)  # the registration letter, never opened…
    clock.advance(301)
    resent = (await gql(LOGIN, {"login": ivan.email, "password": PASSWORD}))["login"]
    assert [e["code"] for e in resent["errors"]] == ["EMAIL_NOT_CONFIRMED"]
    await confirm_email(gql, container, ivan.email)  # …the second one was: the e-mail is confirmed
    assert await last_email_token(container, ivan.email) != old_token
    assert (await gql(LOGIN, {"login": ivan.email, "password": PASSWORD}))["login"]["errors"] == []
    profile = (await add(gql, ivan.token, OTHER_ACCOUNT))["profile"]
    dacha = address_id(profile, OTHER_ACCOUNT)
    assert (await gql(SET_EBILL, {"id": dacha, "on": True}, token=ivan.token))["setEbill"]["errors"] == []
    clock.advance(1)

    answer = await _update(gql, ivan.token, email=f'" {NEW_EMAIL.upper()} "')
    assert answer["errors"] == []
    after = answer["profile"]
    assert after["email"] == NEW_EMAIL and after["emailConfirmed"] is False
    by_account = {a["accountNumber"]: a for a in after["addresses"]}
    assert by_account[OTHER_ACCOUNT]["ebill"] is False and by_account[OTHER_ACCOUNT]["ebillPaused"] is True

    # The letter goes to the new address.
    [letter] = [d for d in await deliveries(container, channel="email") if d.recipient == NEW_EMAIL]
    assert letter.kind == "email_confirmation"
    # «Домопульт» is told to stop sending to the previous address.
    events = await deliveries(container, channel="crm", kind="ebill_subscription")
    assert [(e.payload["data"]["enabled"], e.payload["data"]["reason"]) for e in events] == [
        (True, "resident"),
        (False, "email_changed"),
    ]
    assert events[1].payload["data"]["previous_email"] == ivan.email
    assert events[1].payload["data"]["email"] == NEW_EMAIL

    # The old e-mail is no longer a login; the new one is not yet.
    old_login = (await gql(LOGIN, {"login": ivan.email, "password": PASSWORD}))["login"]
    assert [e["code"] for e in old_login["errors"]] == ["INVALID_CREDENTIALS"]
    new_login = (await gql(LOGIN, {"login": NEW_EMAIL, "password": PASSWORD}))["login"]
    assert [e["code"] for e in new_login["errors"]] == ["EMAIL_NOT_CONFIRMED"]

    # No e-bill can be switched on meanwhile; switching off is allowed.
    refused = (await gql(SET_EBILL, {"id": dacha, "on": True}, token=ivan.token))["setEbill"]
    assert errors_of(refused) == [("EBILL_NEEDS_CONFIRMED_EMAIL", "ebill")]

    # A link sent for the previous address confirms nothing.
    stale = (await gql(CONFIRM_EMAIL, {"token": old_token}))["confirmEmail"]
    assert errors_of(stale) == [("INVALID_TOKEN", None)]
    assert (await me(gql, ivan.token))["emailConfirmed"] is False

    clock.advance(1)
    confirmed = await confirm_email(gql, container, NEW_EMAIL, ivan.token)
    assert confirmed["emailConfirmed"] is True
    by_account = {a["accountNumber"]: a for a in confirmed["addresses"]}
    assert by_account[OTHER_ACCOUNT]["ebill"] is True and by_account[OTHER_ACCOUNT]["ebillPaused"] is False
    events = await deliveries(container, channel="crm", kind="ebill_subscription")
    assert [(e.payload["data"]["enabled"], e.payload["data"]["reason"]) for e in events][-1] == (
        True,
        "email_confirmed",
    )
    assert events[-1].payload["data"]["email"] == NEW_EMAIL
    assert (await gql(LOGIN, {"login": NEW_EMAIL, "password": PASSWORD}))["login"]["errors"] == []
    assert (await gql(LOGIN, {"login": ivan.email, "password": PASSWORD}))["login"]["errors"] != []


async def test_links_sent_before_a_change_die_even_for_the_same_address(gql, container, clock):
    """A → B → A: the first letter's link proves A, but it was issued before the changes: dead."""
    ivan, _ = await two_residents(gql, container)
    first = await last_email_token(container, ivan.email)
    clock.advance(1)  # the newest letter is told apart by its time
    assert (await _update(gql, ivan.token, email=f'"{NEW_EMAIL}"'))["errors"] == []
    assert (await _update(gql, ivan.token, email=f'"{ivan.email}"'))["errors"] == []
    assert errors_of((await gql(CONFIRM_EMAIL, {"token": first}))["confirmEmail"]) == [
        ("INVALID_TOKEN", None)
    ]
    # The newest letter works.
    assert (await confirm_email(gql, container, ivan.email, ivan.token))["emailConfirmed"] is True


async def test_paused_ebill_switched_off_stays_off(gql, container, clock):
    ivan, _ = await two_residents(gql, container)
    await confirm_email(gql, container, ivan.email)
    home = (await me(gql, ivan.token))["addresses"][0]["id"]
    assert (await gql(SET_EBILL, {"id": home, "on": True}, token=ivan.token))["setEbill"]["errors"] == []
    clock.advance(1)
    assert (await _update(gql, ivan.token, email=f'"{NEW_EMAIL}"'))["errors"] == []
    clock.advance(1)
    off = (await gql(SET_EBILL, {"id": home, "on": False}, token=ivan.token))["setEbill"]
    assert off["errors"] == [] and off["profile"]["addresses"][0]["ebillPaused"] is False
    clock.advance(1)
    confirmed = await confirm_email(gql, container, NEW_EMAIL, ivan.token)
    assert confirmed["addresses"][0]["ebill"] is False
    events = await deliveries(container, channel="crm", kind="ebill_subscription")
    assert [(e.payload["data"]["enabled"], e.payload["data"]["reason"]) for e in events] == [
        (True, "resident"),
        (False, "email_changed"),
        (False, "resident"),
    ]


async def test_email_changes_are_limited(gql, container, clock):
    ivan, _ = await two_residents(gql, container)
    for i in range(5):
        assert (await _update(gql, ivan.token, email=f'"n{i}@example.com"'))["errors"] == []
    refused = await _update(gql, ivan.token, email='"n9@example.com"', lastName='"Сидоров"')
    assert errors_of(refused) == [("RATE_LIMITED", "email")]
    assert refused["profile"]["email"] == "n4@example.com" and refused["profile"]["lastName"] == "Петров"
    # Names are not limited.
    assert (await _update(gql, ivan.token, lastName='"Сидоров"'))["errors"] == []
    clock.advance(3600)
    assert (await _update(gql, ivan.token, email='"n9@example.com"'))["errors"] == []


async def test_notifications_switch(gql, container):
    ivan, _ = await two_residents(gql, container)
    assert (await me(gql, ivan.token))["emailNotifications"] is True
    off = await _update(gql, ivan.token, emailNotifications="false")
    assert off["errors"] == [] and off["profile"]["emailNotifications"] is False
    async with container.uow() as tx:
        stored = (
            await tx.session.execute(select(User.email_notifications).where(User.phone == ivan.phone))
        ).scalar_one()
    assert stored is False


async def test_variables_omitted_or_null(gql, container):
    """With variables, as frontends send them: a declared variable not sent is an omitted argument
    (unchanged); a variable sent as null is an explicit null (cleared)."""
    from tests.profile_kit import PAYLOAD

    ivan, _ = await two_residents(gql, container)
    document = f"""
    mutation($last: String, $middle: String, $birth: Date) {{
      updateProfile(lastName: $last, middleName: $middle, birthDate: $birth) {PAYLOAD}
    }}"""
    kept = (await gql(document, {"last": "Сидоров"}, token=ivan.token))["updateProfile"]
    assert kept["errors"] == []
    assert (kept["profile"]["lastName"], kept["profile"]["middleName"], kept["profile"]["birthDate"]) == (
        "Сидоров",
        "Сергеевич",
        "1985-04-12",
    )
    cleared = (await gql(document, {"middle": None, "birth": None}, token=ivan.token))["updateProfile"]
    assert cleared["errors"] == []
    assert (
        cleared["profile"]["lastName"],
        cleared["profile"]["middleName"],
        cleared["profile"]["birthDate"],
    ) == (
        "Сидоров",
        None,
        None,
    )
    assert errors_of((await gql(document, {"last": None}, token=ivan.token))["updateProfile"]) == [
        ("REQUIRED", "lastName")
    ]
