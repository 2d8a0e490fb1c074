"""`login` over GraphQL (SPEC §4): logins, identical failures, the unconfirmed e-mail, lockout, batching."""

from __future__ import annotations

import httpx
import pytest

from eirc.domain import texts
from eirc.services.lockout import MAX_CONSECUTIVE_FAILURES, lock_state, streak_key, user_subject
from tests.e2e.signin_helpers import (
    EMAIL,
    LOGIN,
    ME,
    PASSWORD,
    PHONE,
    CountingVerify,
    codes_of,
    deliveries,
    login,
    login_counter_rows,
    make_user,
    user_by_phone,
)


@pytest.fixture
def settings_overrides():
    return {"login_per_client_per_minute": 1000}


@pytest.mark.parametrize(
    "spelling", ["+79161234567", "+7 916 123 45 67", "89161234567", "8 (916) 123-45-67", "9161234567"]
)
async def test_login_by_any_phone_spelling(container, gql, spelling):
    await make_user(container)
    payload = await login(gql, spelling, PASSWORD)
    assert payload["errors"] == []
    assert payload["profile"]["phone"] == PHONE
    token = payload["session"]["token"]
    me = await gql(ME, token=token)
    assert me["me"]["phone"] == PHONE


async def test_login_by_confirmed_email_any_case(container, gql):
    await make_user(container)
    payload = await login(gql, "  Ivan.Petrov@Example.COM ", PASSWORD)
    assert payload["errors"] == []
    assert payload["profile"]["email"] == EMAIL
    assert payload["profile"]["emailConfirmed"] is True
    assert len(payload["session"]["token"]) >= 40


async def test_empty_fields_are_required(container, gql):
    payload = await login(gql, "", "")
    assert [(e["code"], e["field"], e["message"]) for e in payload["errors"]] == [
        ("REQUIRED", "login", texts.REQUIRED_FIELD),
        ("REQUIRED", "password", texts.REQUIRED_FIELD),
    ]
    payload = await login(gql, PHONE, "")
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("REQUIRED", "password")]
    assert payload["session"] is None
    assert await login_counter_rows(container) == 0  # not an attempt


async def test_unknown_wrong_malformed_and_passwordless_answer_the_same(container, gql, monkeypatch):
    await make_user(container)
    await make_user(container, phone="+79161110022", email="other@example.com")
    # a user imported without a password
    async with container.uow() as tx:
        from sqlalchemy import update

        from eirc.storage.tables import User

        await tx.session.execute(update(User).where(User.phone == "+79161110022").values(password_hash=None))
        await tx.commit()
    counting = CountingVerify(container, monkeypatch)
    cases = [
        (PHONE, "Wrong1pass"),  # wrong password
        ("+79160000000", PASSWORD),  # unknown phone
        ("nobody@example.com", PASSWORD),  # unknown e-mail
        ("not a login", PASSWORD),  # malformed
        ("8 916 111 00 22", PASSWORD),  # no password set
    ]
    answers = []
    for who, password in cases:
        payload = await login(gql, who, password)
        answers.append(payload)
    assert counting.calls == len(cases)  # one argon2 verification each, whoever it was
    for payload in answers:
        assert payload["session"] is None and payload["profile"] is None
        assert payload["errors"] == [
            {
                "code": "INVALID_CREDENTIALS",
                "field": "password",
                "message": texts.INVALID_CREDENTIALS,
                "failedRules": None,
            }
        ]


async def test_unconfirmed_email_resends_the_letter_once_per_window(container, gql, clock):
    await make_user(container, email_confirmed=False)
    letters = len(await deliveries(container, "email_confirmation"))
    assert letters == 1  # from the creation

    clock.advance(600)
    payload = await login(gql, EMAIL, PASSWORD)
    assert payload["session"] is None
    assert payload["errors"] == [
        {
            "code": "EMAIL_NOT_CONFIRMED",
            "field": "login",
            "message": texts.EMAIL_NOT_CONFIRMED,
            "failedRules": None,
        }
    ]
    assert len(await deliveries(container, "email_confirmation")) == 2

    clock.advance(60)
    payload = await login(gql, EMAIL, PASSWORD)
    assert codes_of(payload) == ["EMAIL_NOT_CONFIRMED"]
    assert len(await deliveries(container, "email_confirmation")) == 2  # throttled

    clock.advance(300)
    payload = await login(gql, EMAIL, PASSWORD)
    assert codes_of(payload) == ["EMAIL_NOT_CONFIRMED"]
    assert len(await deliveries(container, "email_confirmation")) == 3

    # a wrong password says nothing about the e-mail, and the phone still works
    assert codes_of(await login(gql, EMAIL, "Wrong1pass")) == ["INVALID_CREDENTIALS"]
    assert (await login(gql, PHONE, PASSWORD))["errors"] == []
    # the right password cleared the failures; no lock is building up
    async with container.uow() as tx:
        state = await lock_state(tx, container, user_subject((await user_by_phone(container)).id))
    assert state.failed_attempts == 0


async def test_only_the_current_confirmed_email_signs_in(container, gql):
    await make_user(container)
    async with container.uow() as tx:
        from sqlalchemy import update

        from eirc.storage.tables import User

        await tx.session.execute(
            update(User)
            .where(User.phone == PHONE)
            .values(email="new.address@example.com", email_confirmed=False)
        )
        await tx.commit()
    assert codes_of(await login(gql, EMAIL, PASSWORD)) == ["INVALID_CREDENTIALS"]  # the old one
    assert codes_of(await login(gql, "new.address@example.com", PASSWORD)) == ["EMAIL_NOT_CONFIRMED"]


async def test_lockout_refuses_even_the_right_password_then_expires(container, gql, clock, monkeypatch):
    await make_user(container)
    for _ in range(container.settings.login_max_failures):
        assert codes_of(await login(gql, PHONE, "Wrong1pass")) == ["INVALID_CREDENTIALS"]
    counting = CountingVerify(container, monkeypatch)
    for who in (PHONE, "8 916 123-45-67", EMAIL):  # the phone and the e-mail share the lock
        payload = await login(gql, who, PASSWORD)
        assert payload["session"] is None
        assert payload["errors"] == [
            {"code": "LOGIN_LOCKED", "field": "password", "message": texts.LOGIN_LOCKED, "failedRules": None}
        ]
    assert counting.calls == 0  # the lock is checked before any verification

    clock.advance(container.settings.login_lockout_seconds - 1)
    assert codes_of(await login(gql, PHONE, PASSWORD)) == ["LOGIN_LOCKED"]
    clock.advance(2)
    assert (await login(gql, PHONE, PASSWORD))["errors"] == []
    # a success reset the count: four more failures do not lock
    for _ in range(container.settings.login_max_failures - 1):
        assert codes_of(await login(gql, PHONE, "Wrong1pass")) == ["INVALID_CREDENTIALS"]
    assert (await login(gql, PHONE, PASSWORD))["errors"] == []


async def test_unknown_login_locks_like_a_known_one(container, gql):
    for _ in range(container.settings.login_max_failures):
        assert codes_of(await login(gql, "+79160000000", "Wrong1pass")) == ["INVALID_CREDENTIALS"]
    assert codes_of(await login(gql, "8 916 000 00 00", PASSWORD)) == ["LOGIN_LOCKED"]


async def test_nist_ceiling_suspends_password_sign_in(container, gql, clock):
    await make_user(container)
    user = await user_by_phone(container)
    limit = container.settings.login_max_failures
    async with container.uow() as tx:  # rounds of failures and locks, up to one round below the ceiling
        await tx.counters.hit(
                streak_key(user_subject(user.id)),
            now=clock.now(),
            window_seconds=86400 * 365,
            amount=MAX_CONSECUTIVE_FAILURES - limit,
        )
        await tx.commit()
    for _ in range(limit):  # the last round
        assert codes_of(await login(gql, PHONE, "Wrong1pass")) == ["INVALID_CREDENTIALS"]
    payload = await login(gql, PHONE, PASSWORD)
    assert payload["errors"] == [
        {"code": "LOGIN_LOCKED", "field": "password", "message": texts.LOGIN_SUSPENDED, "failedRules": None}
    ]
    clock.advance(86400 * 30)
    assert codes_of(await login(gql, PHONE, PASSWORD)) == ["LOGIN_LOCKED"]  # time alone does not lift it
    async with container.uow() as tx:
        state = await lock_state(tx, container, user_subject(user.id))
    assert state.suspended and state.consecutive_failures == MAX_CONSECUTIVE_FAILURES


def aliased_logins(n: int) -> str:
    fields = "\n".join(
        f'  a{i}: login(login: "{PHONE}", password: "Wrong{i}x") {{ errors {{ code }} }}' for i in range(n)
    )
    return "mutation {\n" + fields + "\n}"


ALIASED = aliased_logins(12)

FRAGMENTED = """
mutation { ...A ...B }
fragment A on Mutation { a1: login(login: "+79161234567", password: "x1y") { errors { code } }
                         a2: login(login: "+79161234567", password: "x2y") { errors { code } } }
fragment B on Mutation { b1: login(login: "+79161234567", password: "x3y") { errors { code } }
                         ... on Mutation { b2: login(login: "+79161234567", password: "x4y") { errors { code } } } }
"""


@pytest.mark.parametrize("document", [ALIASED, FRAGMENTED], ids=["aliases", "fragments"])
async def test_many_aliased_logins_are_refused_and_nothing_counted(container, http, document, monkeypatch):
    await make_user(container)
    counting = CountingVerify(container, monkeypatch)
    response = await http.post("/graphql", json={"query": document})
    body = response.json()
    assert response.status_code in (200, 400)
    assert body.get("data") is None
    assert "mutation fields" in body["errors"][0]["message"]
    assert counting.calls == 0
    assert await login_counter_rows(container) == 0


async def test_three_aliased_logins_count_three_attempts(container, gql):
    await make_user(container)
    document = aliased_logins(3)
    data = await gql(document)
    assert [data[f"a{i}"]["errors"][0]["code"] for i in range(3)] == ["INVALID_CREDENTIALS"] * 3
    user = await user_by_phone(container)
    async with container.uow() as tx:
        state = await lock_state(tx, container, user_subject(user.id))
    assert state.failed_attempts == 3
    data = await gql(document)  # attempts 4, 5 are checked; the 6th is locked
    assert [data[f"a{i}"]["errors"][0]["code"] for i in range(3)] == [
        "INVALID_CREDENTIALS",
        "INVALID_CREDENTIALS",
        "LOGIN_LOCKED",
    ]


class TestPerClientLimit:
    @pytest.fixture
    def settings_overrides(self):
        return {"login_per_client_per_minute": 3}

    async def test_one_source_is_throttled_others_are_not(self, container, app, gql, clock):
        await make_user(container)
        for _ in range(3):
            assert codes_of(await login(gql, PHONE, "Wrong1pass")) == ["INVALID_CREDENTIALS"]
        for who in (PHONE, "+79160000001", "+79160000002"):  # walking through accounts: throttled
            for _ in range(5):
                payload = await login(gql, who, "Wrong1pass")
                assert [(e["code"], e["message"]) for e in payload["errors"]] == [
                    ("RATE_LIMITED", texts.ERROR_TEXTS[texts.ErrorCode.RATE_LIMITED])
                ]
        user = await user_by_phone(container)
        async with container.uow() as tx:  # the throttled attempts did not count against the resident
            assert (await lock_state(tx, container, user_subject(user.id))).failed_attempts == 3
        # another client address is not affected
        transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            response = await other.post(
                "/graphql", json={"query": LOGIN, "variables": {"login": PHONE, "password": PASSWORD}}
            )
            assert response.json()["data"]["login"]["errors"] == []
        clock.advance(61)  # the next minute
        assert (await login(gql, PHONE, PASSWORD))["errors"] == []
