"""«Я забыл пароль» and residents without a password (SPEC §1, §5), with the local SMS provider."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from eirc.domain import texts
from eirc.storage.tables import User
from tests.e2e.signin_helpers import (
    EMAIL,
    FLOW_FIELDS,
    ME,
    NEW_PASSWORD,
    PASSWORD,
    PHONE,
    add_account,
    codes_of,
    deliveries,
    login,
    make_user,
)

FORGOT = "mutation($login: String!) { forgotPassword(login: $login) { %s } }" % FLOW_FIELDS  # noqa: UP031
START = "mutation($phone: String!) { startPhone(phone: $phone, consent: true) { %s } }" % FLOW_FIELDS  # noqa: UP031
CONFIRM = "mutation($id: ID!, $code: String!) { confirmCode(flowId: $id, code: $code) { %s } }" % FLOW_FIELDS  # noqa: UP031
RESEND = "mutation($id: ID!) { resendCode(flowId: $id) { %s } }" % FLOW_FIELDS  # noqa: UP031
SET_PASSWORD = """
mutation($id: ID!, $password: String!) {
  setPassword(flowId: $id, password: $password) {
    session { token } flow { kind step } errors { code field message }
  }
}"""


@pytest.fixture
def settings_overrides(provider_settings):
    return {**provider_settings, "login_per_client_per_minute": 1000}


async def _sms_code(provider, deliver, phone: str = PHONE) -> str:
    await deliver()
    return provider.last_code(phone)


async def _reset(gql, provider, deliver, flow_id: str, password: str = NEW_PASSWORD) -> dict:
    code = await _sms_code(provider, deliver)
    confirmed = (await gql(CONFIRM, {"id": flow_id, "code": code}))["confirmCode"]
    assert confirmed["errors"] == [] and confirmed["flow"]["step"] == "PASSWORD"
    return (await gql(SET_PASSWORD, {"id": flow_id, "password": password}))["setPassword"]


async def test_forgot_password_end_to_end(container, gql, provider, deliver):
    await make_user(container)
    old = (await login(gql, PHONE, PASSWORD))["session"]["token"]
    # a lock, too: proving the phone lifts it
    for _ in range(container.settings.login_max_failures):
        await login(gql, PHONE, "Wrong1pass")
    assert codes_of(await login(gql, PHONE, PASSWORD)) == ["LOGIN_LOCKED"]

    payload = (await gql(FORGOT, {"login": "8 (916) 123-45-67"}))["forgotPassword"]
    assert payload["errors"] == []
    flow = payload["flow"]
    assert (flow["kind"], flow["step"], flow["phone"]) == ("PASSWORD_RESET", "CODE", PHONE)
    assert flow["resendAvailableInSeconds"] == container.settings.code_resend_seconds

    done = await _reset(gql, provider, deliver, flow["id"])
    assert done["errors"] == []
    assert done["session"] is None
    assert (done["flow"]["kind"], done["flow"]["step"]) == ("PASSWORD_RESET", "LOGIN")
    assert (await gql(ME, token=old))["me"] is None  # every session ended
    assert codes_of(await login(gql, PHONE, PASSWORD)) == ["INVALID_CREDENTIALS"]
    assert (await login(gql, PHONE, NEW_PASSWORD))["errors"] == []


async def test_forgot_password_by_email_masks_the_phone(container, gql, provider, deliver):
    await make_user(container)
    flow = (await gql(FORGOT, {"login": EMAIL.upper()}))["forgotPassword"]["flow"]
    assert flow["phone"] == "+7 916 ***-**-67"
    again = (await gql("query($id: ID!) { flow(id: $id) { phone step } }", {"id": flow["id"]}))["flow"]
    assert again == {"phone": "+7 916 ***-**-67", "step": "CODE"}
    done = await _reset(gql, provider, deliver, flow["id"])
    assert done["errors"] == [] and done["flow"]["step"] == "LOGIN"


async def test_unknown_login_gets_a_decoy_and_no_sms(container, gql, provider, deliver, clock):
    await make_user(container)
    real = (await gql(FORGOT, {"login": PHONE}))["forgotPassword"]
    fake = (await gql(FORGOT, {"login": "+7 916 000 11 22"}))["forgotPassword"]
    assert fake["errors"] == []
    assert {k: v for k, v in fake["flow"].items() if k not in ("id", "phone")} == {
        k: v for k, v in real["flow"].items() if k not in ("id", "phone")
    }
    assert fake["flow"]["phone"] == "+79160001122"
    by_email = (await gql(FORGOT, {"login": "nobody@example.com"}))["forgotPassword"]["flow"]
    assert by_email["phone"].startswith("+7 9") and "***-**-" in by_email["phone"]
    again = (await gql(FORGOT, {"login": "nobody@example.com"}))["forgotPassword"]["flow"]
    assert again["phone"] == by_email["phone"]  # the same made-up number each time

    assert len(await deliveries(container, "sms_code")) == 1  # only the real one
    fake_id = fake["flow"]["id"]
    for code in ("0000", "1234", "9999"):
        payload = (await gql(CONFIRM, {"id": fake_id, "code": code}))["confirmCode"]
        assert [(e["code"], e["message"]) for e in payload["errors"]] == [
            ("INVALID_CODE", texts.INVALID_CODE)
        ]
        assert payload["flow"]["step"] == "CODE"
    clock.advance(container.settings.code_resend_seconds)
    resent = (await gql(RESEND, {"id": fake_id}))["resendCode"]
    assert resent["errors"] == [] and resent["flow"]["resendAvailableInSeconds"] == 45
    await deliver()
    assert provider.sms_messages("+79160001122") == []
    assert len(await deliveries(container, "sms_code")) == 1


async def test_unknown_login_hits_the_sms_cap_like_a_real_one(container, gql):
    await make_user(container)
    answers = {}
    for who in (PHONE, "+79160001122"):
        answers[who] = [codes_of((await gql(FORGOT, {"login": who}))["forgotPassword"]) for _ in range(6)]
    assert answers[PHONE] == answers["+79160001122"] == [[]] * 5 + [["SMS_LIMIT"]]


async def test_forgot_password_refuses_what_is_no_login(container, gql):
    for login_text, code in (("", "REQUIRED"), ("12345", "INVALID_PHONE"), ("a@", "INVALID_EMAIL")):
        payload = (await gql(FORGOT, {"login": login_text}))["forgotPassword"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, "login")]


async def test_unconfirmed_email_is_not_a_login_for_a_reset(container, gql):
    await make_user(container, email_confirmed=False)
    before = len(await deliveries(container, "sms_code"))
    flow = (await gql(FORGOT, {"login": EMAIL}))["forgotPassword"]["flow"]
    assert flow["kind"] == "PASSWORD_RESET" and flow["step"] == "CODE"
    assert len(await deliveries(container, "sms_code")) == before


async def test_imported_user_sets_a_password_by_sms_from_the_phone_screen(container, gql, provider, deliver):
    await add_account(container)
    await make_user(container)
    async with container.uow() as tx:  # as `eirc users import` leaves a resident: no password
        await tx.session.execute(
            update(User).where(User.phone == PHONE).values(password_hash=None, source="import")
        )
        await tx.commit()
    assert codes_of(await login(gql, PHONE, PASSWORD)) == ["INVALID_CREDENTIALS"]
    flow = (await gql(START, {"phone": "89161234567"}))["startPhone"]["flow"]
    assert (flow["kind"], flow["step"]) == ("PASSWORD_RESET", "CODE")
    done = await _reset(gql, provider, deliver, flow["id"], password=PASSWORD)
    assert done["errors"] == [] and done["flow"]["step"] == "LOGIN" and done["session"] is None
    assert (await login(gql, PHONE, PASSWORD))["errors"] == []
