"""Registration over the GraphQL endpoint, on both backends: the whole path, what it stores and queues, the
order of steps («Назад», «Отмена», WRONG_STEP, FLOW_EXPIRED, FLOW_NOT_FOUND) and racing completions."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import func, select

from eirc.domain import texts
from eirc.security import token_digest
from eirc.storage.tables import Consent, EmailToken, Flow, Session, User, UserAddress
from tests.registration_kit import (
    ACCOUNT,
    ADDRESS,
    CANCEL,
    CONFIRM_ADDRESS,
    CONFIRM_CODE,
    EMAIL,
    FLOW,
    GO_BACK,
    ME,
    PASSWORD,
    PERSONAL,
    PERSONAL_DEFAULTS,
    PHONE,
    RESEND,
    SET_PASSWORD,
    deliveries,
    errors_of,
    last_code,
    prove,
    register,
    seed_billing,
    start,
    to_account_step,
    to_password_step,
)


async def test_a_resident_registers_end_to_end(gql, container, clock):
    await seed_billing(container)
    payload = await start(gql, "8 (916) 123-45-67")
    assert payload["errors"] == []
    flow = payload["flow"]
    assert flow["kind"] == "REGISTRATION" and flow["step"] == "CODE" and flow["phone"] == PHONE
    assert flow["resendAvailableInSeconds"] == 45 and flow["address"] is None and not flow["phoneVerified"]
    flow_id = flow["id"]

    code = await last_code(container)
    assert len(code) == 4 and code.isdigit()
    confirmed = (await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"]
    assert confirmed["errors"] == [] and confirmed["flow"]["step"] == "ACCOUNT"
    assert confirmed["flow"]["phoneVerified"]

    proved = await prove(gql, flow_id, amount="1234.56")
    assert proved["errors"] == []
    assert proved["flow"]["step"] == "ADDRESS" and proved["flow"]["address"] == ADDRESS

    addressed = (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]
    assert addressed["flow"]["step"] == "PERSONAL"

    personal = (
        await gql(PERSONAL, {"id": flow_id, **PERSONAL_DEFAULTS, "email": "  Ivan.Petrov@Example.COM "})
    )["setPersonalData"]
    assert personal["errors"] == [] and personal["flow"]["step"] == "PASSWORD"

    clock.advance(60)
    done = (await gql(SET_PASSWORD, {"id": flow_id, "password": PASSWORD}))["setPassword"]
    assert done["errors"] == []
    assert done["flow"]["step"] == "DONE"
    session = done["session"]
    assert session["token"] and session["expiresAt"].startswith("2026-02-14")  # 30 days
    profile = done["profile"]
    assert profile["phone"] == PHONE and profile["email"] == EMAIL and profile["emailConfirmed"] is False
    assert (profile["lastName"], profile["firstName"], profile["middleName"]) == (
        "Петров",
        "Иван",
        "Сергеевич",
    )
    assert profile["birthDate"] == "1985-04-12" and profile["emailNotifications"] is True
    assert profile["gosuslugiLinked"] is False
    [address] = profile["addresses"]
    assert address["number"] == 1 and address["primary"] and address["text"] == ADDRESS
    assert address["accountNumber"] == ACCOUNT and address["ebill"] is False

    # The session works; `me` is the same profile.
    assert (await gql(ME, token=session["token"]))["me"] == profile
    assert (await gql(ME))["me"] is None
    assert (await gql(ME, token="not-a-session"))["me"] is None

    # What is stored.
    async with container.uow() as tx:
        user = (await tx.session.execute(select(User))).scalar_one()
        assert user.phone == PHONE and user.source == "registration" and not user.email_confirmed
        assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert user.birth_date == date(1985, 4, 12)
        assert await container.hasher.verify(user.password_hash, PASSWORD)
        [primary] = (await tx.session.execute(select(UserAddress))).scalars().all()
        assert (primary.user_id, primary.account_number, primary.position, primary.primary) == (
            user.id,
            ACCOUNT,
            1,
            True,
        )
        consents = (await tx.session.execute(select(Consent).order_by(Consent.accepted_at))).scalars().all()
        assert [(c.kind, c.user_id, c.terms_version) for c in consents] == [
            ("personal_data", user.id, None),
            ("terms", user.id, container.settings.terms_version),
        ]
        assert consents[0].client_ip == "127.0.0.1"
        assert (await tx.session.get(Session, token_digest(session["token"]))).user_id == user.id
        [email_token] = (await tx.session.execute(select(EmailToken))).scalars().all()
        assert email_token.email == EMAIL and email_token.used_at is None
        flow_row = (await tx.session.execute(select(Flow))).scalar_one()
        assert (
            flow_row.id == token_digest(flow_id) and flow_row.status == "done" and flow_row.user_id == user.id
        )
        user_id = user.id
        consent_times = [c.accepted_at.isoformat() for c in consents]

    # What is queued: the SMS, the letter with the link, and «Домопульт» exactly once, with every field.
    letters = await deliveries(container, channel="email")
    assert len(letters) == 1 and letters[0].recipient == EMAIL
    assert f"{container.settings.public_url}/confirm-email?token={{secret}}" in letters[0].payload["text"]
    [crm] = await deliveries(container, channel="crm")
    assert crm.kind == "registration" and crm.payload["type"] == "registration"
    assert crm.payload["data"] == {
        "user_id": user_id,
        "registered_at": clock.now().isoformat(),
        "phone": PHONE,
        "last_name": "Петров",
        "first_name": "Иван",
        "middle_name": "Сергеевич",
        "birth_date": "1985-04-12",
        "email": EMAIL,
        "email_confirmed": False,
        "email_notifications": True,
        "account_number": ACCOUNT,
        "period": "2025-12",
        "amount_due": "1234.56",
        "amount_due_kopecks": 123456,
        "address": ADDRESS,
        "personal_data_consent_at": consent_times[0],
        "terms_version": container.settings.terms_version,
        "terms_accepted_at": consent_times[1],
    }
    assert PASSWORD not in str(crm.payload)


async def test_flow_query(gql, container, clock):
    await seed_billing(container)
    flow_id = await to_account_step(gql, container)
    flow = (await gql(FLOW, {"id": flow_id}))["flow"]
    assert flow["step"] == "ACCOUNT" and flow["phone"] == PHONE
    assert (await gql(FLOW, {"id": "x" * 43}))["flow"] is None
    assert (await gql(FLOW, {"id": ""}))["flow"] is None
    clock.advance(3600)
    assert (await gql(FLOW, {"id": flow_id}))["flow"] is None


async def test_steps_cannot_be_skipped_or_replayed(gql, container):
    await seed_billing(container)
    flow_id = (await start(gql))["flow"]["id"]
    wrong_step = [("WRONG_STEP", None)]
    assert errors_of(await prove(gql, flow_id)) == wrong_step
    answer = (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]
    assert errors_of(answer) == wrong_step
    assert answer["errors"][0]["message"] == texts.ERROR_TEXTS[answer["errors"][0]["code"]]
    assert answer["flow"]["step"] == "CODE"  # the flow as it stands comes back with the error
    answer = (await gql(PERSONAL, {"id": flow_id, **PERSONAL_DEFAULTS}))["setPersonalData"]
    assert errors_of(answer) == wrong_step
    assert (
        errors_of((await gql(SET_PASSWORD, {"id": flow_id, "password": PASSWORD}))["setPassword"])
        == wrong_step
    )

    code = await last_code(container)
    assert (await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"]["errors"] == []
    # Replaying the code step, or jumping ahead from ACCOUNT, is refused.
    assert errors_of((await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"]) == wrong_step
    assert errors_of((await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]) == wrong_step
    assert (await prove(gql, flow_id))["errors"] == []
    assert errors_of(await prove(gql, flow_id)) == wrong_step  # already proved: the flow is at ADDRESS

    async with container.uow() as tx:
        assert (await tx.session.execute(select(func.count()).select_from(User))).scalar() == 0


async def test_a_finished_flow_accepts_nothing(gql, container):
    await seed_billing(container)
    flow_id = await to_password_step(gql, container)
    assert (await gql(SET_PASSWORD, {"id": flow_id, "password": PASSWORD}))["setPassword"]["errors"] == []
    for doc, key in ((SET_PASSWORD, "setPassword"), (GO_BACK, "goBack"), (CANCEL, "cancelFlow")):
        answer = (await gql(doc, {"id": flow_id, "password": PASSWORD}))[key]
        assert errors_of(answer) == [("WRONG_STEP", None)]
    assert (await gql(FLOW, {"id": flow_id}))["flow"]["step"] == "DONE"


async def test_unknown_and_malformed_flow_ids(gql, container):
    for flow_id in ("unknown-flow-id", "", "ы" * 100, "'; DROP TABLE flow; --"):
        answer = (await gql(CONFIRM_CODE, {"id": flow_id, "code": "1234"}))["confirmCode"]
        assert errors_of(answer) == [("FLOW_NOT_FOUND", None)]
        assert answer["errors"][0]["message"] == "Сеанс регистрации не найден. Начните, пожалуйста, заново"
        assert answer["flow"] is None
    answer = (await gql(GO_BACK, {"id": "z" * 129}))["goBack"]
    assert errors_of(answer) == [("TOO_LONG", None)]


async def test_an_expired_flow(gql, container, clock):
    await seed_billing(container)
    flow_id = await to_account_step(gql, container)
    clock.advance(container.settings.flow_ttl_seconds - 1)
    assert (await prove(gql, flow_id, amount="1"))["errors"][0]["code"] == "AMOUNT_MISMATCH"
    clock.advance(1)
    answer = await prove(gql, flow_id)
    assert errors_of(answer) == [("FLOW_EXPIRED", None)]
    assert answer["errors"][0]["message"] == "Время сеанса истекло. Начните, пожалуйста, заново"
    assert errors_of((await gql(GO_BACK, {"id": flow_id}))["goBack"]) == [("FLOW_EXPIRED", None)]


async def test_back_keeps_what_was_entered(gql, container):
    await seed_billing(container)
    flow_id = await to_password_step(gql, container, middle=None, birth=None)

    back = (await gql(GO_BACK, {"id": flow_id}))["goBack"]
    assert back["errors"] == [] and back["flow"]["step"] == "PERSONAL"
    assert back["flow"]["data"] == {
        "period": "2025-12",
        "accountNumber": ACCOUNT,
        "amountDue": "1 234,56",
        "lastName": "Петров",
        "firstName": "Иван",
        "middleName": None,
        "birthDate": None,
        "email": EMAIL,
        "emailNotifications": True,
    }
    assert (await gql(GO_BACK, {"id": flow_id}))["goBack"]["flow"]["step"] == "ADDRESS"
    back = (await gql(GO_BACK, {"id": flow_id}))["goBack"]["flow"]
    assert back["step"] == "ACCOUNT" and back["address"] is None
    assert back["data"]["accountNumber"] == ACCOUNT and back["data"]["lastName"] == "Петров"
    back = (await gql(GO_BACK, {"id": flow_id}))["goBack"]["flow"]
    assert back["step"] == "CODE" and back["phoneVerified"] and back["resendAvailableInSeconds"] == 0
    # Back at the first step: nothing before it (the phone screen is outside the flow).
    assert errors_of((await gql(GO_BACK, {"id": flow_id}))["goBack"]) == [("WRONG_STEP", None)]
    # The number stays confirmed: no new code, and «Отправить код повторно» sends nothing.
    sms_before = len(await deliveries(container, channel="sms"))
    assert errors_of((await gql(RESEND, {"id": flow_id}))["resendCode"]) == [("WRONG_STEP", None)]
    forward = (await gql(CONFIRM_CODE, {"id": flow_id, "code": ""}))["confirmCode"]
    assert forward["errors"] == [] and forward["flow"]["step"] == "ACCOUNT"
    assert len(await deliveries(container, channel="sms")) == sms_before

    # Forward again through the same screens, changing the e-mail on the way.
    assert (await prove(gql, flow_id))["errors"] == []
    assert (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]["errors"] == []
    answer = await gql(PERSONAL, {"id": flow_id, **PERSONAL_DEFAULTS, "email": "new@example.com"})
    assert answer["setPersonalData"]["flow"]["data"]["email"] == "new@example.com"
    done = (await gql(SET_PASSWORD, {"id": flow_id, "password": PASSWORD}))["setPassword"]
    assert done["errors"] == [] and done["profile"]["email"] == "new@example.com"


async def test_cancel(gql, container):
    await seed_billing(container)
    flow_id = await to_account_step(gql, container)
    cancelled = (await gql(CANCEL, {"id": flow_id}))["cancelFlow"]
    assert cancelled == {"flow": None, "errors": []}
    assert (await gql(FLOW, {"id": flow_id}))["flow"] is None
    assert errors_of(await prove(gql, flow_id)) == [("FLOW_NOT_FOUND", None)]
    assert errors_of((await gql(CANCEL, {"id": flow_id}))["cancelFlow"]) == [("FLOW_NOT_FOUND", None)]
    # The resident starts again from the phone screen.
    assert await to_account_step(gql, container) != flow_id


async def test_two_racing_completions_create_one_user(gql, container):
    await seed_billing(container)
    flow_id = await to_password_step(gql, container)
    answers = await asyncio.gather(
        *(gql(SET_PASSWORD, {"id": flow_id, "password": PASSWORD}) for _ in range(3))
    )
    payloads = [a["setPassword"] for a in answers]
    winners = [p for p in payloads if not p["errors"]]
    assert len(winners) == 1 and winners[0]["session"]
    assert all(errors_of(p) == [("WRONG_STEP", None)] for p in payloads if p["errors"])
    async with container.uow() as tx:
        assert (await tx.session.execute(select(func.count()).select_from(User))).scalar() == 1
    assert len(await deliveries(container, channel="crm")) == 1


async def test_two_flows_of_one_phone_register_it_once(gql, container):
    await seed_billing(container)
    first = await to_password_step(gql, container)
    second = await to_password_step(gql, container, email="other@example.com")
    assert (await gql(SET_PASSWORD, {"id": first, "password": PASSWORD}))["setPassword"]["errors"] == []
    answer = (await gql(SET_PASSWORD, {"id": second, "password": PASSWORD}))["setPassword"]
    assert errors_of(answer) == [("PHONE_TAKEN", "phone")] and answer["session"] is None
    # And the number now answers LOGIN on the phone screen.
    assert (await start(gql))["flow"]["kind"] == "LOGIN"


async def test_register_helper_twice_with_other_data(gql, container):
    await seed_billing(container)
    await register(gql, container)
    done = await register(gql, container, phone="+79031112233", email="second@example.com")
    assert done["profile"]["phone"] == "+79031112233"
