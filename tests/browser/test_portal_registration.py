"""The reference portal in real headless Chromium: registration as a person does it — typing and clicking — with
the SMS code read from a local SMS provider and billing data imported by `eirc billing import`; every error of
SPEC §1–§3 shown under its field with its exact text; «Назад» keeping what was typed; a reload resuming the
flow; the connection request; and nothing loaded from outside the gateway. On PostgreSQL (SQLite when the run
excludes it): the portal does not care, the gateway's second backend gets a browser too."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.portal_kit import (
    ACCOUNT_HINT,
    ACCOUNTS,
    AMOUNT_MISMATCH,
    INVALID_CODE,
    INVALID_EMAIL,
    INVALID_PHONE,
    PASSWORD,
    REQUIRED,
    RESEND_WAIT,
    UNKNOWN_ACCOUNT,
    WEAK_PASSWORD,
    at,
    database,
    enter_code,
    expect_error,
    expect_no_error,
    field,
    no_script_errors,  # noqa: F401 (an autouse fixture)
    press,
    running_world,
    session_token,
    start_phone,
)
from tests.conftest import BACKENDS

CONSENT = "Даю согласие на обработку персональных данных"
ACCOUNT, SECOND, OTHER = list(ACCOUNTS)[:3]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    kind = "postgresql" if "postgresql" in BACKENDS else "sqlite"
    tmp = tmp_path_factory.mktemp("portal-registration")
    with database(kind, tmp) as url, running_world(url, tmp, EIRC_CODE_RESEND_SECONDS="4") as w:
        yield w


@pytest.fixture(scope="module")
def gateway(world):
    return world.gateway


def rule_states(page) -> dict[str, str]:
    states = {}
    for item in page.locator(".rules li").all():
        classes = (item.get_attribute("class") or "").split()
        states[item.get_attribute("data-rule")] = (
            "ok" if "ok" in classes else "bad" if "bad" in classes else ""
        )
    return states


def test_a_resident_registers_by_typing_and_clicking_and_meets_every_error(page, world):
    world.gateway.outside.clear()
    page.goto(world.url + "/")
    at(page, "phone")
    expect(page.get_by_role("heading", level=1)).to_have_text("Введите тел номер")
    expect(page.get_by_text("Вход через портал Госуслуги")).to_have_count(0)  # Госуслуги is off here

    # SPEC §1: a number that is not one, and no consent.
    field(page, "Телефонный номер").press_sequentially("+7 916 123")
    press(page, "Далее")
    expect_error(page, "phone", "Телефонный номер", INVALID_PHONE)
    expect_error(
        page, "consent", CONSENT, "Чтобы продолжить, дайте согласие на обработку персональных данных"
    )
    expect(field(page, "Телефонный номер")).to_be_focused()  # the first field in error takes the focus

    # The number as people type it; the code screen shows it normalised.
    phone = "+79167001122"
    field(page, "Телефонный номер").fill("")
    field(page, "Телефонный номер").press_sequentially("8 (916) 700-11-22")
    page.get_by_label(CONSENT).check()
    press(page, "Далее")
    at(page, "code")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Введите код, который вам отправили по СМС, для подтверждения номера"
    )
    expect(
        page.get_by_text("Вы сможете входить в мобильное приложение и личный кабинет по номеру телефона.")
    ).to_be_visible()
    expect(field(page, "Телефонный номер")).to_have_value("+7 916 700-11-22")
    expect(page.locator("#resend-wait")).to_have_text(RESEND_WAIT)
    expect(page.get_by_role("button", name="Отправить код повторно")).to_be_disabled()

    # SPEC §2 step 2: empty, then wrong.
    press(page, "Подтвердить номер")
    expect_error(page, "code", "Код", REQUIRED)
    right = world.code(phone, 0)
    field(page, "Код").press_sequentially("0000" if right != "0000" else "1111")
    press(page, "Подтвердить номер")
    expect_error(page, "code", "Код", INVALID_CODE)
    field(page, "Код").fill("")
    field(page, "Код").press_sequentially(right)
    press(page, "Подтвердить номер")

    # Step 3, «Регистрация: лицевой счет»: the progress indicator, the periods offered.
    at(page, "account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация: лицевой счет")
    expect(page.locator(".progress")).to_have_attribute("title", "Лицевой счет — Имя, e-mail — Пароль")
    expect(page.locator(".progress li")).to_have_text(["Лицевой счет", "Имя, e-mail", "Пароль"])
    expect(page.locator('.progress li[aria-current="step"]')).to_have_text("Лицевой счет")
    assert (
        page.get_by_label("Лицевой счет").count() == 1
    )  # a field's words name one control, loosely matched too
    period = field(page, "Расчетный период")
    assert [o.get_attribute("value") for o in period.locator("option").all()] == world.periods
    expect(page.get_by_role("button", name="Заявка")).to_be_hidden()

    field(page, "Лицевой счет").press_sequentially("5099999999")
    field(page, "Сумма к оплате, ₽").press_sequentially("300")
    press(page, "Далее")
    expect_error(page, "accountNumber", "Лицевой счет", UNKNOWN_ACCOUNT)
    expect(page.locator('[data-field="accountNumber"] .field-error-hint')).to_have_text(ACCOUNT_HINT)
    expect(page.get_by_role("button", name="Заявка")).to_be_visible()

    period.select_option(world.periods[1])
    field(page, "Лицевой счет").fill(ACCOUNT)
    field(page, "Сумма к оплате, ₽").fill("300,00")
    press(page, "Далее")
    expect_error(page, "amountDue", "Сумма к оплате, ₽", AMOUNT_MISMATCH)
    expect(page.locator('[data-field="amountDue"] .field-error-hint')).to_have_text(ACCOUNT_HINT)
    expect_no_error(page, "accountNumber")

    # «Назад» to the code (the number stays verified), and forward again: what was typed is kept.
    press(page, "Назад")
    at(page, "code")
    expect(page.get_by_text("Номер подтвержден")).to_be_visible()
    press(page, "Подтвердить номер")
    at(page, "account")
    expect(field(page, "Лицевой счет")).to_have_value(ACCOUNT)
    expect(field(page, "Сумма к оплате, ₽")).to_have_value("300,00")
    expect(field(page, "Расчетный период")).to_have_value(world.periods[1])

    field(page, "Сумма к оплате, ₽").fill(world.amount(ACCOUNT, world.periods[1]))
    press(page, "Далее")
    at(page, "address")
    expect(page.get_by_role("heading", level=1)).to_have_text("Это ваш адрес?")
    expect(page.locator("#found-address")).to_have_text(ACCOUNTS[ACCOUNT])
    press(page, "Да")

    # Step 5: every required field empty, then an e-mail without «@».
    at(page, "personal")
    expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация: личные данные")
    expect(page.locator('.progress li[aria-current="step"]')).to_have_text("Имя, e-mail")
    expect(
        page.get_by_text("Нажимая на кнопку «Далее», вы соглашаетесь с условиями использования")
    ).to_be_visible()
    press(page, "Далее")
    expect_error(page, "lastName", "Фамилия", REQUIRED)
    expect_error(page, "firstName", "Имя", REQUIRED)
    expect_error(page, "email", "Электронная почта", REQUIRED)
    expect_no_error(page, "middleName")
    field(page, "Фамилия").press_sequentially("Федоров")
    field(page, "Имя").press_sequentially("Петр")
    field(page, "Отчество (обязательно, если есть)").press_sequentially("Иванович")
    field(page, "Дата рождения").fill("1985-04-12")
    field(page, "Электронная почта").press_sequentially("petr.fedorov.example.com")
    press(page, "Далее")
    expect_error(page, "email", "Электронная почта", INVALID_EMAIL)
    expect_no_error(page, "lastName")
    field(page, "Электронная почта").fill("petr.fedorov@example.com")
    page.get_by_label("Согласен получать уведомления по E-mail").check()
    press(page, "Далее")

    # Step 6: «Назад» keeps the personal data; the rules tick as the resident types; the eye shows it.
    at(page, "password")
    press(page, "Назад")
    at(page, "personal")
    expect(field(page, "Фамилия")).to_have_value("Федоров")
    expect(field(page, "Дата рождения")).to_have_value("1985-04-12")
    expect(field(page, "Электронная почта")).to_have_value("petr.fedorov@example.com")
    expect(page.get_by_label("Согласен получать уведомления по E-mail")).to_be_checked()
    press(page, "Далее")
    at(page, "password")
    expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация: установите пароль")
    expect(page.locator('.progress li[aria-current="step"]')).to_have_text("Пароль")
    expect(page.locator(".rules li")).to_have_text(
        ["Минимум 6 символов", "Только буквы и цифры", "Нет двух одинаковых цифр рядом"]
    )
    password = field(page, "Пароль")
    assert page.get_by_label("Пароль").count() == 1
    expect(password).to_have_attribute("type", "password")
    password.press_sequentially("67hk9")
    assert rule_states(page) == {
        "MIN_LENGTH": "bad",
        "LETTERS_AND_DIGITS_ONLY": "ok",
        "NO_REPEATED_ADJACENT_DIGITS": "ok",
    }
    password.press_sequentially("x")
    assert set(rule_states(page).values()) == {"ok"}
    eye = page.get_by_role("button", name="Показать пароль")
    eye.click()
    expect(password).to_have_attribute("type", "text")
    expect(page.get_by_role("button", name="Скрыть пароль")).to_have_attribute("aria-pressed", "true")
    password.fill("")
    password.press_sequentially("a 11")
    press(page, "Сохранить и зарегистрироваться")
    expect_error(page, "password", "Пароль", WEAK_PASSWORD)
    assert set(rule_states(page).values()) == {"bad"}  # the server's failedRules: all three
    password.fill("")
    password.press_sequentially(PASSWORD)
    press(page, "Сохранить и зарегистрироваться")

    # Registered and signed in: «Мой профиль», the proven account as «Адрес 1», «Основной».
    at(page, "profile")
    expect(page.get_by_role("heading", level=1)).to_have_text("Мой профиль")
    expect(page.locator("#person-name")).to_have_text("Федоров Петр Иванович")
    expect(page.locator("#profile-phone")).to_have_text("+7 916 700-11-22")
    expect(page.locator("#profile-email")).to_have_text("petr.fedorov@example.com")
    expect(page.locator("#email-status")).to_have_text("E-mail не подтвержден")
    first = page.locator("#addresses li").first
    expect(first.locator(".address-title")).to_have_text("Адрес 1")
    expect(first.locator(".address-text")).to_have_text(ACCOUNTS[ACCOUNT])
    expect(first.locator(".primary-mark")).to_have_text("Основной")
    token = session_token(page)
    assert token and world.me(token) == {"phone": phone}
    world.provider.wait_until(lambda: world.provider.crm_messages("registration"), timeout=20)
    [registration] = world.provider.crm_messages("registration")
    assert registration["data"]["phone"] == phone and PASSWORD not in str(registration)
    assert world.gateway.outside == []


def test_a_reload_resumes_the_flow_where_it_was(page, world):
    world.gateway.outside.clear()
    phone = "+79167002233"
    start_phone(page, world.url, "+7 916 700-22-33")
    at(page, "code")
    page.reload()
    at(page, "code")  # the same flow: no second SMS was needed
    expect(field(page, "Телефонный номер")).to_have_value("+7 916 700-22-33")
    enter_code(page, world, phone, 0)
    at(page, "account")
    field(page, "Лицевой счет").press_sequentially(SECOND)
    field(page, "Сумма к оплате, ₽").press_sequentially("1,00")
    press(page, "Далее")
    expect_error(page, "amountDue", "Сумма к оплате, ₽", AMOUNT_MISMATCH)
    page.reload()
    at(page, "account")  # resumed from flow(id): the step, and what was typed (flow.data)
    expect(field(page, "Лицевой счет")).to_have_value(SECOND)
    expect(field(page, "Сумма к оплате, ₽")).to_have_value("1,00")
    field(page, "Сумма к оплате, ₽").fill(world.amount(SECOND))
    press(page, "Далее")
    at(page, "address")
    page.reload()
    at(page, "address")
    expect(page.locator("#found-address")).to_have_text(ACCOUNTS[SECOND])
    assert world.sms_count(phone) == 1
    assert world.gateway.outside == []


def test_cancel_ends_the_flow_and_the_resend_countdown_runs_live(page, world):
    phone = "+79167003344"
    start_phone(page, world.url, "9167003344")
    at(page, "code")
    resend = page.get_by_role("button", name="Отправить код повторно")
    expect(resend).to_be_disabled()
    wait = page.locator("#resend-wait")
    first = int(RESEND_WAIT.match(wait.text_content()).group(1))
    expect(wait).not_to_have_text(f"Запросить повторную отправку можно через {first} сек.", timeout=3000)
    expect(resend).to_be_enabled(timeout=8000)  # EIRC_CODE_RESEND_SECONDS=4 in this module
    expect(wait).to_be_hidden()
    world.code(phone, 0)
    resend.click()
    world.code(phone, 1)  # a second SMS really went out
    expect(resend).to_be_disabled()
    expect(wait).to_have_text(RESEND_WAIT)

    flow_id = page.evaluate("() => sessionStorage.getItem('eirc.flow')")
    press(page, "Отмена")
    at(page, "phone")
    assert page.evaluate("() => sessionStorage.getItem('eirc.flow')") is None
    import httpx

    answer = httpx.post(
        f"{world.url}/graphql",
        json={"query": "query($id: ID!) { flow(id: $id) { step } }", "variables": {"id": flow_id}},
    ).json()
    assert answer["data"]["flow"] is None  # cancelled on the server, not only forgotten by the tab


def test_the_connection_request_from_the_account_step(page, world):
    world.gateway.outside.clear()
    phone = "+79167004455"
    start_phone(page, world.url, "+7 916 700 44 55")
    enter_code(page, world, phone, 0)
    at(page, "account")
    field(page, "Лицевой счет").press_sequentially("5000000001")
    field(page, "Сумма к оплате, ₽").press_sequentially("1 234,56")
    press(page, "Далее")
    expect_error(page, "accountNumber", "Лицевой счет", UNKNOWN_ACCOUNT)
    press(page, "Заявка")

    at(page, "invite")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "К сожалению, мы не смогли найти ваш адрес по номеру лицевого счета"
    )
    expect(
        page.get_by_text("Чтобы зарегистрироваться, отправьте заявку на подключение.", exact=False)
    ).to_be_visible()
    press(page, "Отмена")
    at(page, "account")  # the offer declined: the account step again, the flow alive
    press(page, "Далее")
    press(page, "Заявка")
    at(page, "invite")
    press(page, "Отправить заявку")

    at(page, "request")
    expect(page.get_by_role("heading", level=1)).to_have_text("Заявка на подключение")
    expect(field(page, "Ваш адрес")).to_have_attribute("placeholder", "Город, улица, корпус, дом")
    press(page, "Отправить заявку")
    expect_error(page, "lastName", "Фамилия", REQUIRED)
    expect_error(page, "firstName", "Имя", REQUIRED)
    expect_error(page, "address", "Ваш адрес", REQUIRED)
    expect_error(page, "email", "Электронная почта", REQUIRED)
    expect_no_error(page, "flat")
    field(page, "Фамилия").press_sequentially("Смирнова")
    field(page, "Имя").press_sequentially("Анна")
    field(page, "Ваш адрес").press_sequentially("г. Реутов, Лесная ул., д. 5")
    field(page, "Квартира (обязательно, если есть)").press_sequentially("17")
    field(page, "Электронная почта").press_sequentially("anna@")
    press(page, "Отправить заявку")
    expect_error(page, "email", "Электронная почта", INVALID_EMAIL)
    field(page, "Электронная почта").fill("anna.smirnova@example.com")
    press(page, "Отправить заявку")

    at(page, "accepted")
    expect(page.get_by_role("heading", level=1)).to_have_text("Заявка принята")
    expect(
        page.get_by_text(
            "Как только ваш адрес будет добавлен в систему, мы свяжемся с вами по указанному номеру телефона "
            "или электронной почте."
        )
    ).to_be_visible()
    world.provider.wait_until(lambda: world.provider.crm_messages("connection_request"), timeout=20)
    [request] = world.provider.crm_messages("connection_request")
    assert request["data"]["phone"] == phone
    assert request["data"]["last_name"] == "Смирнова"
    page.reload()
    at(page, "accepted")
    press(page, "Назад")
    at(page, "phone")
    assert world.gateway.outside == []


def test_a_flow_the_gateway_no_longer_knows_starts_again_with_a_message(page, world):
    page.goto(world.url + "/")
    at(page, "phone")
    page.evaluate("() => sessionStorage.setItem('eirc.flow', 'a-flow-that-expired-long-ago')")
    page.reload()
    at(page, "phone")  # field null: the screen's own message
    expect(page.locator("main .alert")).to_have_text("Время сеанса истекло. Начните, пожалуйста, заново")
    assert page.evaluate("() => sessionStorage.getItem('eirc.flow')") is None
