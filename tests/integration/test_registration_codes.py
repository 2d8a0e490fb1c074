"""The phone screen and the SMS code over GraphQL, on both backends: phone rules, consent, the three kinds,
code attempts / expiry / resend cooldown, and the SMS caps (per number, per client address, global)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from eirc.domain import texts
from eirc.security import token_digest
from eirc.services import sessions
from eirc.storage.tables import Consent, Session, User
from tests.registration_kit import (
    CONFIRM_CODE,
    FLOW,
    PHONE,
    RESEND,
    SET_PASSWORD,
    deliveries,
    errors_of,
    last_code,
    sms_ids,
    start,
)

INVALID_CODE = "Убедитесь в верности введенного кода. Вы также можете запросить повторную отправку кода"
INVALID_PHONE = "Введен некорректный номер. Исправьте номер и попробуйте еще раз"
REQUIRED = "Пожалуйста, заполните обязательное поле"


async def add_user(c, phone: str = PHONE, *, password: str | None = "Parol2024") -> str:
    now = c.clock.now()
    async with c.uow() as tx:
        user = User(
            phone=phone,
            last_name="Сидорова",
            first_name="Анна",
            email=None,
            password_hash=c.hasher.hash_sync(password) if password else None,
            source="registration" if password else "import",
            created_at=now,
            updated_at=now,
        )
        tx.session.add(user)
        await tx.session.commit()
        return user.id


@pytest.mark.parametrize("spelling", ["+7 916 123 45 67", "89161234567", "8 (916) 123-45-67", "9161234567"])
async def test_phone_spellings_are_normalised(gql, container, spelling):
    payload = await start(gql, spelling)
    assert payload["errors"] == [] and payload["flow"]["phone"] == PHONE
    [sms] = await deliveries(container, channel="sms")
    assert sms.recipient == PHONE


@pytest.mark.parametrize(
    "phone", ["12345", "+1 212 555 1234", "8 495 123-45-67", "8 800 555-35-35", "916abc4567"]
)
async def test_invalid_phone(gql, container, phone):
    payload = await start(gql, phone)
    assert payload["flow"] is None
    assert payload["errors"] == [
        {
            "code": "INVALID_PHONE",
            "field": "phone",
            "message": INVALID_PHONE,
            "failedRules": None,
            "hint": None,
        }
    ]
    assert await deliveries(container) == []


async def test_consent_is_required_and_every_error_is_reported(gql, container):
    payload = await start(gql, PHONE, consent=False)
    assert errors_of(payload) == [("CONSENT_REQUIRED", "consent")]
    assert payload["errors"][0]["message"] == texts.ERROR_TEXTS["CONSENT_REQUIRED"]
    payload = await start(gql, "", consent=False)
    assert errors_of(payload) == [("REQUIRED", "phone"), ("CONSENT_REQUIRED", "consent")]
    assert payload["errors"][0]["message"] == REQUIRED
    assert await deliveries(container) == []


async def test_consent_is_recorded_with_its_time(gql, container, clock):
    payload = await start(gql)
    async with container.uow() as tx:
        consent = (await tx.session.execute(select(Consent))).scalar_one()
        tx.session.expunge_all()
    assert consent.kind == "personal_data" and consent.phone == PHONE and consent.accepted_at == clock.now()
    assert consent.flow_id == token_digest(payload["flow"]["id"]) and consent.client_ip == "127.0.0.1"


async def test_registered_number_with_a_password_goes_to_login(gql, container):
    await add_user(container)
    payload = await start(gql, "8 916 123-45-67")
    assert payload["errors"] == []
    assert (payload["flow"]["kind"], payload["flow"]["step"], payload["flow"]["phone"]) == (
        "LOGIN",
        "LOGIN",
        PHONE,
    )
    assert payload["flow"]["resendAvailableInSeconds"] == 0
    assert await deliveries(container, channel="sms") == []  # no SMS


async def test_registered_number_without_a_password_sets_one_by_sms(gql, container, clock):
    user_id = await add_user(container, password=None)
    async with container.uow() as tx:
        old = await sessions.create_session(tx, user_id=user_id, now=clock.now(), ttl_seconds=3600)
        await tx.commit()
    payload = await start(gql)
    flow = payload["flow"]
    assert (flow["kind"], flow["step"]) == ("PASSWORD_RESET", "CODE")
    code = await last_code(container)
    confirmed = (await gql(CONFIRM_CODE, {"id": flow["id"], "code": code}))["confirmCode"]
    assert confirmed["errors"] == [] and confirmed["flow"]["step"] == "PASSWORD"

    weak = (await gql(SET_PASSWORD, {"id": flow["id"], "password": "112"}))["setPassword"]
    assert errors_of(weak) == [("WEAK_PASSWORD", "password")]
    assert weak["errors"][0]["failedRules"] == ["MIN_LENGTH", "NO_REPEATED_ADJACENT_DIGITS"]

    done = (await gql(SET_PASSWORD, {"id": flow["id"], "password": "Novyi2024"}))["setPassword"]
    assert done["errors"] == [] and done["session"] is None and done["profile"] is None
    assert done["flow"]["step"] == "LOGIN" and done["flow"]["kind"] == "PASSWORD_RESET"
    async with container.uow() as tx:
        user = await tx.session.get(User, user_id)
        assert await container.hasher.verify(user.password_hash, "Novyi2024")
        assert (await tx.session.get(Session, old.session_id)).ended_at == clock.now()
        assert (await tx.session.execute(select(User))).scalars().all() == [user]  # no new user
    assert await deliveries(container, channel="crm") == []
    # The number now has a password: the phone screen leads to the login screen.
    assert (await start(gql))["flow"]["kind"] == "LOGIN"


async def test_code_attempts(gql, container, clock):
    flow_id = (await start(gql))["flow"]["id"]
    code = await last_code(container)
    wrong = "0000" if code != "0000" else "1111"

    empty = (await gql(CONFIRM_CODE, {"id": flow_id, "code": "  "}))["confirmCode"]
    assert errors_of(empty) == [("REQUIRED", "code")] and empty["errors"][0]["message"] == REQUIRED
    for _ in range(container.settings.code_max_attempts):
        answer = (await gql(CONFIRM_CODE, {"id": flow_id, "code": wrong}))["confirmCode"]
        assert errors_of(answer) == [("INVALID_CODE", "code")]
        assert answer["errors"][0]["message"] == INVALID_CODE
        assert answer["flow"]["step"] == "CODE"
    # Attempts used up: even the right code is refused until a new one is sent.
    answer = (await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"]
    assert errors_of(answer) == [("CODE_ATTEMPTS_EXCEEDED", "code")]
    assert answer["errors"][0]["message"] == texts.ERROR_TEXTS["CODE_ATTEMPTS_EXCEEDED"]

    clock.advance(45)
    assert (await gql(RESEND, {"id": flow_id}))["resendCode"]["errors"] == []
    new_code = await last_code(container)
    if new_code != code:
        stale = (await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"]
        assert errors_of(stale) == [("INVALID_CODE", "code")]
    answer = (await gql(CONFIRM_CODE, {"id": flow_id, "code": f" {new_code} "}))["confirmCode"]
    assert answer["errors"] == [] and answer["flow"]["step"] == "ACCOUNT"


async def test_a_code_expires(gql, container, clock):
    flow_id = (await start(gql))["flow"]["id"]
    code = await last_code(container)
    [sms] = await deliveries(container, channel="sms")
    assert sms.expires_at == clock.now() + timedelta(seconds=300)  # useless after the code's lifetime
    clock.advance(container.settings.code_ttl_seconds)
    answer = (await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"]
    assert errors_of(answer) == [("CODE_EXPIRED", "code")]
    assert answer["errors"][0]["message"] == "Срок действия кода истек. Запросите повторную отправку кода"
    assert (await gql(RESEND, {"id": flow_id}))["resendCode"]["errors"] == []
    answer = (await gql(CONFIRM_CODE, {"id": flow_id, "code": await last_code(container)}))["confirmCode"]
    assert answer["errors"] == []


async def test_a_code_is_bound_to_its_flow(gql, container):
    before = await sms_ids(container)
    first = (await start(gql))["flow"]["id"]
    code = await last_code(container, before=before)
    before = await sms_ids(container)
    second = (await start(gql))["flow"]["id"]
    other = await last_code(container, before=before)
    if other != code:
        answer = (await gql(CONFIRM_CODE, {"id": second, "code": code}))["confirmCode"]
        assert errors_of(answer) == [("INVALID_CODE", "code")]
    assert (await gql(CONFIRM_CODE, {"id": first, "code": code}))["confirmCode"]["errors"] == []


async def test_resend_cooldown_counts_down(gql, container, clock):
    flow_id = (await start(gql))["flow"]["id"]
    answer = (await gql(RESEND, {"id": flow_id}))["resendCode"]
    assert answer["errors"] == [
        {
            "code": "RESEND_TOO_EARLY",
            "field": None,
            "message": "Запросить повторную отправку можно через 45 сек.",
            "failedRules": None,
            "hint": None,
        }
    ]
    assert answer["flow"]["resendAvailableInSeconds"] == 45
    clock.advance(15.5)
    assert (await gql(FLOW, {"id": flow_id}))["flow"]["resendAvailableInSeconds"] == 30
    answer = (await gql(RESEND, {"id": flow_id}))["resendCode"]
    assert answer["errors"][0]["message"] == "Запросить повторную отправку можно через 30 сек."
    clock.advance(29.5)
    assert (await gql(FLOW, {"id": flow_id}))["flow"]["resendAvailableInSeconds"] == 0
    answer = (await gql(RESEND, {"id": flow_id}))["resendCode"]
    assert answer["errors"] == [] and answer["flow"]["resendAvailableInSeconds"] == 45
    assert len(await deliveries(container, channel="sms")) == 2


async def test_sms_caps_per_number_per_hour_and_per_day(gql, container, clock):
    s = container.settings
    flow_id = (await start(gql))["flow"]["id"]
    for _ in range(s.sms_per_hour - 1):
        clock.advance(45)
        assert (await gql(RESEND, {"id": flow_id}))["resendCode"]["errors"] == []
    clock.advance(45)
    answer = (await gql(RESEND, {"id": flow_id}))["resendCode"]
    assert errors_of(answer) == [("SMS_LIMIT", "phone")]
    assert answer["errors"][0]["message"] == texts.ERROR_TEXTS["SMS_LIMIT"]
    # A new flow for the number does not get round it, and creates nothing.
    payload = await start(gql)
    assert errors_of(payload) == [("SMS_LIMIT", "phone")] and payload["flow"] is None
    assert len(await deliveries(container, channel="sms")) == s.sms_per_hour

    clock.advance(3600)  # a new hour (and a new flow, the old one expired): five more, then the day's cap
    flow_id = (await start(gql))["flow"]["id"]
    for _ in range(s.sms_per_day - s.sms_per_hour - 1):
        clock.advance(45)
        assert (await gql(RESEND, {"id": flow_id}))["resendCode"]["errors"] == []
    clock.advance(3600)
    assert errors_of(await start(gql)) == [("SMS_LIMIT", "phone")]
    clock.advance(86400)
    assert (await start(gql))["errors"] == []
    # Other numbers were never affected.
    assert (await start(gql, "+79031234567"))["errors"] == []


async def test_a_resend_refused_by_a_cap_keeps_the_code_already_sent(gql, container, clock):
    container.settings.sms_global_per_hour = 2
    flow_id = (await start(gql))["flow"]["id"]
    clock.advance(45)
    assert (await gql(RESEND, {"id": flow_id}))["resendCode"]["errors"] == []
    code = await last_code(container)
    clock.advance(45)
    refused = (await gql(RESEND, {"id": flow_id}))["resendCode"]
    assert errors_of(refused) == [("RATE_LIMITED", None)]
    # The flow answered with is the one stored: the code sent 45 s ago, its resend timer run out.
    assert refused["flow"]["step"] == "CODE" and refused["flow"]["resendAvailableInSeconds"] == 0
    assert len(await deliveries(container, channel="sms")) == 2  # nothing queued by the refused one
    confirmed = (await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"]
    assert confirmed["errors"] == [] and confirmed["flow"]["step"] == "ACCOUNT"


@pytest.mark.parametrize("settings_overrides", [{"sms_per_client_per_hour": 3}])
async def test_sms_cap_per_client_address(gql, container):
    for i in range(3):
        assert (await start(gql, f"+7903123456{i}"))["errors"] == []
    payload = await start(gql, "+79031234569")
    assert errors_of(payload) == [("RATE_LIMITED", None)]
    assert payload["errors"][0]["message"] == texts.ERROR_TEXTS["RATE_LIMITED"]
    assert len(await deliveries(container, channel="sms")) == 3


@pytest.mark.parametrize("settings_overrides", [{"sms_global_per_hour": 2}])
async def test_global_sms_budget(gql, container, caplog):
    caplog.set_level(logging.INFO)
    assert (await start(gql, "+79031234560"))["errors"] == []
    assert (await start(gql, "+79031234561"))["errors"] == []
    assert errors_of(await start(gql, "+79031234562")) == [("RATE_LIMITED", None)]
    assert "global SMS budget of 2 per hour reached" in caplog.text


@pytest.mark.parametrize("settings_overrides", [{"start_phone_per_client_per_hour": 3}])
async def test_the_phone_screen_is_throttled_per_client_address(gql, container, clock):
    await add_user(container)
    for _ in range(3):
        assert (await start(gql))["errors"] == []
    payload = await start(gql, "+79031234567")
    assert errors_of(payload) == [("RATE_LIMITED", "phone")] and payload["flow"] is None
    clock.advance(3600)
    assert (await start(gql))["errors"] == []


async def test_sms_holds_no_code_in_clear(gql, container, clock):
    await start(gql)
    code = await last_code(container)
    [sms] = await deliveries(container, channel="sms")
    assert "{secret}" in sms.payload["text"] and code not in str(sms.payload)
    assert sms.secret_enc and code not in sms.secret_enc
