"""Registration as a resident meets it, on both backends: GraphQL over HTTP, the code read from the local SMS
provider, «Домопульт» receiving the registration once, the letter's link confirming the e-mail."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest

from tests.registration_kit import (
    ACCOUNT,
    ADDRESS,
    CONFIRM_ADDRESS,
    CONFIRM_CODE,
    CONFIRM_EMAIL,
    EMAIL,
    ME,
    PERSONAL,
    PERSONAL_DEFAULTS,
    PHONE,
    SET_PASSWORD,
    errors_of,
    prove,
    seed_billing,
    start,
)

PASSWORD = "Zaregistr1rovan"


@pytest.fixture
def settings_overrides(provider_settings):
    return provider_settings


async def test_register_with_real_providers(gql, http, container, provider, smtp_sink, deliver, caplog):
    caplog.set_level(logging.DEBUG)
    await seed_billing(container)

    flow_id = (await start(gql, "+7 916 123 45 67"))["flow"]["id"]
    await deliver()
    [sms] = provider.sms_messages(PHONE)
    code = provider.last_code(PHONE, 4)
    assert code in sms["text"] and sms["phone"] == PHONE

    wrong = "0000" if code != "0000" else "1111"
    assert errors_of((await gql(CONFIRM_CODE, {"id": flow_id, "code": wrong}))["confirmCode"]) == [
        ("INVALID_CODE", "code")
    ]
    assert (await gql(CONFIRM_CODE, {"id": flow_id, "code": code}))["confirmCode"]["flow"][
        "step"
    ] == "ACCOUNT"
    assert (await prove(gql, flow_id, amount="1 234,56"))["flow"]["address"] == ADDRESS
    assert (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]["flow"]["step"] == "PERSONAL"
    assert (await gql(PERSONAL, {"id": flow_id, **PERSONAL_DEFAULTS}))["setPersonalData"]["errors"] == []
    done = (await gql(SET_PASSWORD, {"id": flow_id, "password": PASSWORD}))["setPassword"]
    assert done["errors"] == [] and done["profile"]["addresses"][0]["accountNumber"] == ACCOUNT

    await deliver()
    await deliver()  # a second pass sends nothing again
    [crm] = provider.crm_messages("registration")
    data = crm["data"]
    assert data["phone"] == PHONE and data["email"] == EMAIL and data["account_number"] == ACCOUNT
    assert data["amount_due"] == "1 234,56" and data["amount_due_kopecks"] == 123456
    assert data["address"] == ADDRESS and data["period"] == "2025-12" and data["birth_date"] == "1985-04-12"
    assert (
        data["last_name"] == "Петров" and data["first_name"] == "Иван" and data["middle_name"] == "Сергеевич"
    )
    assert data["email_notifications"] is True and data["terms_version"] and data["personal_data_consent_at"]
    assert PASSWORD not in str(crm)
    assert len([r for r in provider.accepted("/crm") if not r.duplicate]) == 1

    # The letter's link, opened in a browser, confirms the e-mail — once.
    smtp_sink.wait_until(lambda: smtp_sink.messages_to(EMAIL))
    link = smtp_sink.confirmation_link(EMAIL)
    assert link.startswith("http://testserver/confirm-email?token=")
    url = urlsplit(link)
    page = await http.get(f"{url.path}?{url.query}")
    assert page.status_code == 200 and "E-mail подтвержден" in page.text
    assert (await gql(ME, token=done["session"]["token"]))["me"]["emailConfirmed"] is True
    token = smtp_sink.confirmation_token(EMAIL)
    assert errors_of((await gql(CONFIRM_EMAIL, {"token": token}))["confirmEmail"]) == [
        ("INVALID_TOKEN", None)
    ]
    assert (await http.get(f"{url.path}?{url.query}")).status_code == 400

    # The server's logs (the test's own HTTP client logs the URLs it opens, token included: left out).
    server_logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "confirm" in server_logs
    for secret in (
        PASSWORD,
        done["session"]["token"],
        token,
        flow_id,
    ):  # the 4-digit code: see test_registration_secrets
        assert secret not in server_logs
