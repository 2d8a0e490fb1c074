"""A frontend team builds every screen from the API alone (issue 21): the texts, what a screen must know in
advance, the confirmation letter again, errors placed on screen fields, honest flow state, no personal data
without a session, CORS a real frontend can use."""

from __future__ import annotations

import httpx
import pytest

from eirc.bootstrap import build_container
from eirc.domain import texts
from eirc.web.app import create_app
from tests.conftest import make_settings
from tests.profile_kit import CONFIRM_EMAIL, PAYLOAD, two_residents
from tests.registration_kit import (
    ACCOUNT,
    CONFIRM_ADDRESS,
    CONFIRM_CODE,
    PERSONAL,
    PERSONAL_DEFAULTS,
    PROVE,
    RESEND,
    deliveries,
    errors_of,
    last_email_token,
    prove,
    register,
    seed_billing,
    start,
    to_account_step,
)

# SPEC's texts, as a screen shows them (the countdown's number is the screen's: `{seconds}`).
SPEC_TEXTS = [
    "Даю согласие на обработку персональных данных",
    "Далее",
    "Вход через портал Госуслуги",
    "Введен некорректный номер. Исправьте номер и попробуйте еще раз",
    "Введите код, который вам отправили по СМС, для подтверждения номера",
    "Вы сможете входить в мобильное приложение и личный кабинет по номеру телефона.",
    "Отправить код повторно",
    "Запросить повторную отправку можно через {seconds} сек.",
    "Подтвердить номер",
    "Отмена",
    "Назад",
    "Пожалуйста, заполните обязательное поле",
    "Убедитесь в верности введенного кода. Вы также можете запросить повторную отправку кода",
    "Регистрация: лицевой счет",
    "Укажите расчетный период, номер лицевого счета и сумму к оплате из одной из квитанций за последние три "
    "месяца.",
    "Расчетный период",
    "Лицевой счет",
    "Сумма к оплате, ₽",
    "Вы ввели неправильный номер лицевого счета. Пожалуйста, введите правильные данные и попробуйте еще раз",
    "Введенная сумма не соответствует расчетному периоду. Убедитесь в ее верности и соответствии указанному "
    "периоду и попробуйте еще раз",
    "В случае ошибки вы можете оставить заявку на подключение, мы ее обязательно рассмотрим",
    "Заявка",
    "Это ваш адрес?",
    "Да",
    "Регистрация: личные данные",
    "Пожалуйста, введите ваше имя, дату рождения (по желанию) и электронную почту (обязательно).",
    "Фамилия",
    "Имя",
    "Отчество (обязательно, если есть)",
    "Дата рождения",
    "Электронная почта",
    "Согласен получать уведомления по E-mail",
    "На указанную почту Вам будет направлена ссылка для подтверждения электронного адреса. Подтверждение "
    "требуется для направления фискальных чеков при проведении оплат через ЛКК «МосОблЕИРЦ Онлайн» и для входа "
    "в систему",
    "Нажимая на кнопку «Далее», вы соглашаетесь с условиями использования",
    "Это не похоже на e-mail. Убедитесь, что вы используете символ «@»",
    "Регистрация: установите пароль",
    "Установление пароля для вашего логина обеспечит безопасность данных.",
    "Минимум 6 символов",
    "Только буквы и цифры",
    "Нет двух одинаковых цифр рядом",
    "Не все необходимые условия выполнены. Убедитесь, что пароль полностью соответствует перечисленным ниже "
    "условиям",
    "Сохранить и зарегистрироваться",
    "Лицевой счет — Имя, e-mail — Пароль",
    "К сожалению, мы не смогли найти ваш адрес по номеру лицевого счета",
    "Чтобы зарегистрироваться, отправьте заявку на подключение. Мы добавим ваш адрес в систему и сообщим вам по "
    "указанному вами телефону.",
    "Отправить заявку",
    "Заявка на подключение",
    "Пожалуйста, введите ваше имя, адрес и электронную почту (обязательно).",
    "Ваш адрес",
    "Город, улица, корпус, дом",
    "Квартира (обязательно, если есть)",
    "Заявка принята",
    "Как только ваш адрес будет добавлен в систему, мы свяжемся с вами по указанному номеру телефона или "
    "электронной почте.",
    "Вход: логин и пароль",
    "Введите, пожалуйста, ваш телефонный номер или e-mail и пароль, чтобы мы убедились, что вы "
    "зарегистрированы.",
    "Телефонный номер или e-mail (логин)*",
    "Пароль*",
    "Я забыл пароль",
    "Вход в личный кабинет",
    "Ошибка в логине или пароле. Проверьте правильность введенных данных и попробуйте еще раз",
    "Подтвердите e-mail, чтобы использовать его как логин: мы отправили повторное письмо вам на почту. Или "
    "используйте телефон для входа",
    "Превышено число попыток входа по логину и паролю. Проверьте правильность введенных данных и попробуйте еще "
    "раз через 5 минут",
    "Сохранить и перейти ко входу",
    "Мой профиль",
    "Получать на почту уведомления о статусе заявок, платежные документы",
    "Профиль привязан",
    "Адреса",
    "Адрес {number}",
    "Основной",
    "Регистрация нового адреса",
    "Укажите расчетный период, номер лицевого счета и сумму к оплате из квитанции ЖКУ.",
    "Добавить",
    "Электронная платежка",
    "Вся введенная информация при регистрации личного кабинета автоматически отправляется сотрудникам «Домопульт»",
]
NOT_SCREEN_FIELDS = {"flowId", "id", "addressId", "token", "state"}


async def test_every_spec_text_is_among_ui_texts(gql):
    answer = await gql("{ uiTexts { key text } }")
    found = {t["text"] for t in answer["uiTexts"]}
    keys = [t["key"] for t in answer["uiTexts"]]
    assert len(keys) == len(set(keys))  # keys are unique
    assert [text for text in SPEC_TEXTS if text not in found] == []
    by_key = {t["key"]: t["text"] for t in answer["uiTexts"]}
    assert by_key["code.resend_wait"].format(seconds=45) == "Запросить повторную отправку можно через 45 сек."
    assert by_key["profile.address_n"].format(number=2) == "Адрес 2"
    assert by_key["error.INVALID_CODE"] == texts.INVALID_CODE


@pytest.fixture
def settings_overrides():
    return {
        "terms_url": "https://eirc.example/terms.pdf",
        "personal_data_policy_url": "https://eirc.example/pd.pdf",
        "code_length": 6,
        "cors_origins": "https://lk.eirc.example",
        "cors_headers": "X-Trace-Id, X-Client-Version",
    }


async def test_client_config(gql, container):
    config = (
        await gql(
            "{ clientConfig { codeLength resendSeconds passwordMinLength gosuslugiEnabled termsVersion termsUrl "
            "personalDataPolicyUrl } }"
        )
    )["clientConfig"]
    assert config == {
        "codeLength": 6,
        "resendSeconds": container.settings.code_resend_seconds,
        "passwordMinLength": 6,
        "gosuslugiEnabled": False,
        "termsVersion": container.settings.terms_version,
        "termsUrl": "https://eirc.example/terms.pdf",
        "personalDataPolicyUrl": "https://eirc.example/pd.pdf",
    }


async def test_cors_preflight_allows_the_configured_headers(http):
    preflight = await http.options(
        "/graphql",
        headers={
            "Origin": "https://lk.eirc.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-trace-id",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == "https://lk.eirc.example"
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-trace-id"} <= allowed
    stranger = await http.options(
        "/graphql",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in stranger.headers


RESEND_LETTER = f"mutation {{ resendConfirmationEmail {PAYLOAD} }}"
WAIT = "{ me { emailConfirmed confirmationLetterAvailableInSeconds } }"


async def test_a_new_confirmation_letter_on_request_throttled(gql, container, clock):
    await seed_billing(container)
    token = (await register(gql, container))["session"]["token"]
    letters = len(await deliveries(container, channel="email"))
    # the registration's letter went out just now: the next one in a few minutes
    soon = (await gql(RESEND_LETTER, token=token))["resendConfirmationEmail"]
    assert errors_of(soon) == [("RATE_LIMITED", "email")] and "сек." in soon["errors"][0]["message"]
    wait = (await gql(WAIT, token=token))["me"]["confirmationLetterAvailableInSeconds"]
    assert 0 < wait <= 300
    clock.advance(wait)
    sent = (await gql(RESEND_LETTER, token=token))["resendConfirmationEmail"]
    assert sent["errors"] == [] and sent["profile"]["emailConfirmed"] is False
    assert len(await deliveries(container, channel="email")) == letters + 1
    again = (await gql(RESEND_LETTER, token=token))["resendConfirmationEmail"]
    assert errors_of(again) == [("RATE_LIMITED", "email")]
    # the new letter's link works; then no letter is needed
    confirmed = (await gql(CONFIRM_EMAIL, {"token": await last_email_token(container)}, token=token))
    assert confirmed["confirmEmail"]["errors"] == []
    clock.advance(600)
    done = (await gql(RESEND_LETTER, token=token))["resendConfirmationEmail"]
    assert errors_of(done) == [("EMAIL_ALREADY_CONFIRMED", "email")]
    nobody = (await gql(RESEND_LETTER))["resendConfirmationEmail"]
    assert errors_of(nobody) == [("NOT_AUTHENTICATED", None)] and nobody["profile"] is None


async def test_login_by_an_unconfirmed_email_says_truthfully_whether_a_letter_went_out(gql, container, clock):
    await seed_billing(container)
    await register(gql, container)
    login = "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { errors { code field message } } }"
    variables = {"l": PERSONAL_DEFAULTS["email"], "p": "Parol2024a"}
    first = (await gql(login, variables))["login"]["errors"]
    assert [(e["code"], e["field"]) for e in first] == [("EMAIL_NOT_CONFIRMED", "login")]
    assert first[0]["message"] == texts.EMAIL_NOT_CONFIRMED_LETTER_PENDING  # the registration's letter is minutes old
    clock.advance(301)
    second = (await gql(login, variables))["login"]["errors"]
    assert second[0]["message"] == texts.EMAIL_NOT_CONFIRMED  # «мы отправили повторное письмо»: and it did


async def test_a_confirmation_link_opened_without_the_session_shows_nobody(gql, container):
    await seed_billing(container)
    await register(gql, container)
    answer = (await gql(CONFIRM_EMAIL, {"token": await last_email_token(container)}))["confirmEmail"]
    assert answer["errors"] == [] and answer["profile"] is None


async def test_a_birth_date_that_is_not_one_is_invalid_date_on_its_field(gql, container):
    await seed_billing(container)
    flow_id = await to_account_step(gql, container)
    assert (await prove(gql, flow_id))["errors"] == []
    assert (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]["errors"] == []
    for typed in ("31.12.1990", "1990-13-01", "вчера"):
        answer = (await gql(PERSONAL, {"id": flow_id, **PERSONAL_DEFAULTS, "birth": typed}))["setPersonalData"]
        assert errors_of(answer) == [("INVALID_DATE", "birthDate")], typed
        assert answer["errors"][0]["message"] == texts.ERROR_TEXTS[texts.ErrorCode.INVALID_DATE]
    literal = await gql(
        'mutation($id: ID!) { setPersonalData(flowId: $id, lastName: "П", firstName: "И", birthDate: "31.12.1990", '
        'email: "a@b.ru", emailNotifications: false) { errors { code field } } }',
        {"id": flow_id},
    )
    assert literal["setPersonalData"]["errors"] == [{"code": "INVALID_DATE", "field": "birthDate"}]


async def test_update_profile_birth_date_that_is_not_one(gql, container):
    ivan, _ = await two_residents(gql, container)
    answer = (
        await gql('mutation { updateProfile(birthDate: "31.12.1990") ' + PAYLOAD + " }", token=ivan.token)
    )["updateProfile"]
    assert errors_of(answer) == [("INVALID_DATE", "birthDate")]


async def test_no_error_names_an_internal_argument(gql, container, clock):
    """Errors of every step, provoked: each is on a screen field or null — never `flowId`."""
    await seed_billing(container)
    seen: list[tuple[str, str | None]] = []
    flow_id = await to_account_step(gql, container)
    seen += errors_of(await prove(gql, flow_id, account="0000000000"))
    seen += errors_of(await prove(gql, flow_id, amount="1"))
    seen += errors_of((await gql(CONFIRM_CODE, {"id": flow_id, "code": "1111"}))["confirmCode"])  # wrong step
    seen += errors_of((await gql(CONFIRM_CODE, {"id": "no-such-flow", "code": "1111"}))["confirmCode"])
    seen += errors_of((await gql(RESEND, {"id": flow_id}))["resendCode"])
    other = (await start(gql, "+79031112233"))["flow"]["id"]
    seen += errors_of((await gql(RESEND, {"id": other}))["resendCode"])  # too early
    seen += errors_of((await gql(CONFIRM_CODE, {"id": other, "code": ""}))["confirmCode"])
    seen += errors_of(await start(gql, "+7 916 123", consent=False))
    clock.advance(7200)
    seen += errors_of((await gql(CONFIRM_CODE, {"id": other, "code": "1234"}))["confirmCode"])  # expired flow
    assert seen and not [s for s in seen if s[1] in NOT_SCREEN_FIELDS], seen
    assert {field for _code, field in seen} <= {None, "accountNumber", "amountDue", "code", "phone", "consent"}


async def test_resend_countdown_counts_the_per_number_caps(gql, container, clock):
    container.settings.sms_per_hour = 2
    container.settings.flow_ttl_seconds = 3 * 3600  # the flow outlives the hour this test waits
    flow = (await start(gql))["flow"]
    assert flow["resendAvailableInSeconds"] == container.settings.code_resend_seconds
    clock.advance(container.settings.code_resend_seconds)
    resent = (await gql(RESEND, {"id": flow["id"]}))["resendCode"]
    assert resent["errors"] == []
    # two sends this hour: the next one is allowed when the hour's window ends, not in 45 seconds
    wait = resent["flow"]["resendAvailableInSeconds"]
    assert wait > container.settings.code_resend_seconds
    clock.advance(container.settings.code_resend_seconds)
    refused = (await gql(RESEND, {"id": flow["id"]}))["resendCode"]
    assert errors_of(refused) == [("SMS_LIMIT", "phone")]
    clock.advance(wait - container.settings.code_resend_seconds)
    assert (await gql(RESEND, {"id": flow["id"]}))["resendCode"]["errors"] == []


async def test_a_failed_proof_gives_back_what_was_typed_and_the_hint(gql, container):
    await seed_billing(container)
    flow_id = await to_account_step(gql, container)
    failed = await prove(gql, flow_id, period="2025-11", account=ACCOUNT, amount="1 234,00")
    assert errors_of(failed) == [("AMOUNT_MISMATCH", "amountDue")]
    data = failed["flow"]["data"]
    assert (data["period"], data["accountNumber"], data["amountDue"]) == ("2025-11", ACCOUNT, "1 234,00")
    last = None
    for _ in range(container.settings.account_max_attempts + 1):
        last = (await gql(PROVE, {"id": flow_id, "period": "2025-12", "account": ACCOUNT, "amount": "1"}))
    errors = last["proveAccount"]["errors"]
    assert [e["code"] for e in errors] == ["ACCOUNT_ATTEMPTS_EXCEEDED"]
    assert errors[0]["hint"] == texts.ACCOUNT_ERROR_HINT


async def test_with_graphiql_off_the_page_is_gone_but_the_api_answers(database_url):
    container = build_container(make_settings(database_url, env="production", graphiql=False))
    app = create_app(container)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
    await container.dispose()
