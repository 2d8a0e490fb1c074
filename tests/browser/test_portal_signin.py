"""The reference portal in real headless Chromium: sign-in by phone and by confirmed e-mail (SPEC §4), its errors
under their fields — empty password, wrong login or password, unconfirmed e-mail, the lockout — «Я забыл пароль»
and a resident without a password (§5), «Мой профиль» (§8): the numbered addresses, «+», «Основной», removal,
e-bill, the confirmation letter, «Профиль привязан», sign out (really ended on the server) and in again; a
keyboard alone; a phone-sized screen; the portal's headers. Nothing is loaded from outside the gateway."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.portal_kit import (
    ACCOUNTS,
    AMOUNT_MISMATCH,
    EMAIL_NOT_CONFIRMED,
    INVALID_CREDENTIALS,
    LOGIN_LOCKED,
    PASSWORD,
    REQUIRED,
    UNKNOWN_ACCOUNT,
    WEAK_PASSWORD,
    at,
    database,
    enter_code,
    expect_error,
    field,
    no_script_errors,  # noqa: F401 (an autouse fixture)
    press,
    running_world,
    session_token,
    start_phone,
    submit,
)

LOGIN = "Телефонный номер или e-mail (логин)"
A1, A2, A3, A4, A5, A6 = list(ACCOUNTS)
MARIA = ("+79261110001", "maria@example.com")  # confirmed e-mail
OLGA = ("+79261110002", "olga@example.com")  # e-mail not confirmed
NINA = ("+79261110003", "nina@example.com")  # forgets her password
LOCKED = ("+79261110004", "locked@example.com")
OLEG = ("+79261110005", "oleg@example.com")  # imported without a password
KEYS = ("+79261110006", "keys@example.com")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("portal-signin")
    with database("sqlite", tmp) as url, running_world(url, tmp, EIRC_LOGIN_MAX_FAILURES="3") as w:
        w.create_user(*MARIA, A1)
        w.create_user(*OLGA, A2, confirmed=False)
        w.create_user(*NINA, A3)
        w.create_user(*LOCKED, A4)
        w.create_user(*KEYS, A6)
        w.import_user_without_password(*OLEG, A5)
        yield w


@pytest.fixture(scope="module")
def gateway(world):
    return world.gateway


def sign_in(page, world, login: str, password: str = PASSWORD) -> None:
    page.goto(world.url + "/#login")
    at(page, "login")
    field(page, LOGIN).fill(login)
    field(page, "Пароль").fill(password)
    press(page, "Вход в личный кабинет")


def test_sign_in_by_phone_its_errors_sign_out_and_in_again(page, world):
    world.gateway.outside.clear()
    start_phone(page, world.url, "8 926 111 00 01")
    at(page, "login")  # a registered number: the login screen, the login prefilled
    assert page.get_by_label("Пароль").count() == 1
    expect(page.get_by_role("heading", level=1)).to_have_text("Вход: логин и пароль")
    expect(field(page, LOGIN)).to_have_value("+7 926 111-00-01")
    expect(field(page, "Пароль")).to_be_focused()
    press(page, "Вход в личный кабинет")
    expect_error(page, "password", "Пароль", REQUIRED)
    field(page, "Пароль").press_sequentially("wrong1")
    press(page, "Вход в личный кабинет")
    expect_error(page, "password", "Пароль", INVALID_CREDENTIALS)
    field(page, LOGIN).fill("+7 926 999-99-99")  # an unknown login: the same words
    field(page, "Пароль").fill(PASSWORD)
    press(page, "Вход в личный кабинет")
    expect_error(page, "password", "Пароль", INVALID_CREDENTIALS)
    field(page, LOGIN).fill("+7 926 111-00-01")
    field(page, "Пароль").fill(PASSWORD)
    press(page, "Вход в личный кабинет")

    at(page, "profile")
    expect(page.locator("#profile-phone")).to_have_text("+7 926 111-00-01")
    token = session_token(page)
    assert world.me(token) == {"phone": MARIA[0]}
    page.reload()
    at(page, "profile")  # the session is kept by the tab

    press(page, "Выйти")
    at(page, "phone")
    assert session_token(page) is None
    assert world.me(token) is None  # ended on the server, not only forgotten by the tab
    page.reload()
    at(page, "phone")

    sign_in(page, world, "+7 926 111-00-01")
    at(page, "profile")
    assert world.gateway.outside == []


def test_an_unconfirmed_email_is_no_login_until_its_letter_is_opened(page, world):
    world.gateway.outside.clear()
    phone, email = OLGA
    world.smtp.wait_until(lambda: world.smtp.messages_to(email), timeout=20)  # the letter of her creation
    sign_in(page, world, email)
    expect_error(
        page,
        "login",
        LOGIN,
        "Подтвердите e-mail, чтобы использовать его как логин: письмо для подтверждения уже отправлено вам на "
        "почту. Или используйте телефон для входа",
    )  # a letter went out minutes ago: none is sent now, and the words say so
    # Six minutes later (the throttle's clock moved behind the API's back): SPEC's words, and a letter.
    world.sql("UPDATE app_user SET email_letter_sent_at = NULL WHERE phone = ?", phone)
    field(page, "Пароль").fill(PASSWORD)
    press(page, "Вход в личный кабинет")
    expect_error(page, "login", LOGIN, EMAIL_NOT_CONFIRMED)
    world.smtp.wait_until(lambda: len(world.smtp.messages_to(email)) == 2, timeout=20)
    # The letter's link, opened in the browser.
    link = urlsplit(world.smtp.confirmation_link(email))
    page.goto(f"{world.url}{link.path}?{link.query}")
    expect(page.get_by_role("heading", level=1)).to_have_text("E-mail подтвержден")
    sign_in(page, world, email)
    at(page, "profile")
    expect(page.locator("#profile-phone")).to_have_text("+7 926 111-00-02")
    expect(page.locator("#email-status")).to_have_text("E-mail подтвержден")
    assert world.gateway.outside == []


def test_the_lockout_refuses_even_the_right_password(page, world):
    page.goto(world.url + "/#login")
    at(page, "login")
    field(page, LOGIN).fill("8 (926) 111-00-04")
    for _ in range(3):  # EIRC_LOGIN_MAX_FAILURES=3 in this module
        field(page, "Пароль").fill("wrong1")
        submit(page, "Вход в личный кабинет")
    field(page, "Пароль").fill("wrong1")
    submit(page, "Вход в личный кабинет")
    expect_error(page, "password", "Пароль", LOGIN_LOCKED)
    field(page, "Пароль").fill(PASSWORD)
    submit(page, "Вход в личный кабинет")
    expect_error(page, "password", "Пароль", LOGIN_LOCKED)
    expect(page.locator('body[data-screen="login"]')).to_have_count(1)


def test_forgot_password_by_sms_then_the_login_screen(page, world):
    world.gateway.outside.clear()
    phone, _email = NINA
    page.goto(world.url + "/#login")
    at(page, "login")
    page.get_by_role("button", name="Я забыл пароль").click()
    expect_error(page, "login", LOGIN, REQUIRED)
    field(page, LOGIN).fill("+7 926 111-00-03")
    seen = world.sms_count(phone)
    page.get_by_role("button", name="Я забыл пароль").click()
    at(page, "code")
    press(page, "Подтвердить номер")
    expect_error(page, "code", "Код", REQUIRED)
    enter_code(page, world, phone, seen)

    at(page, "password")
    expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация: установите пароль")
    expect(page.locator(".progress")).to_have_count(0)  # not a registration
    field(page, "Пароль").press_sequentially("short")
    press(page, "Сохранить и перейти ко входу")
    expect_error(page, "password", "Пароль", WEAK_PASSWORD)
    field(page, "Пароль").fill("Novyi2025b")
    press(page, "Сохранить и перейти ко входу")

    at(page, "login")
    expect(field(page, LOGIN)).to_have_value("+7 926 111-00-03")
    field(page, "Пароль").fill(PASSWORD)
    press(page, "Вход в личный кабинет")
    expect_error(page, "password", "Пароль", INVALID_CREDENTIALS)  # the old one no longer
    field(page, "Пароль").fill("Novyi2025b")
    press(page, "Вход в личный кабинет")
    at(page, "profile")
    assert world.gateway.outside == []


def test_a_resident_without_a_password_sets_one_from_the_phone_screen(page, world):
    phone, _email = OLEG
    start_phone(page, world.url, "+7 926 111-00-05")
    enter_code(page, world, phone, 0)  # PASSWORD_RESET: the code, then the new password
    at(page, "password")
    field(page, "Пароль").press_sequentially("Oleg2025x")
    press(page, "Сохранить и перейти ко входу")
    at(page, "login")
    expect(field(page, LOGIN)).to_have_value("+7 926 111-00-05")
    field(page, "Пароль").fill("Oleg2025x")
    press(page, "Вход в личный кабинет")
    at(page, "profile")
    expect(page.locator("#addresses li .address-text")).to_have_text([ACCOUNTS[A5]])


def test_the_profile_addresses_and_ebill(page, world):
    world.gateway.outside.clear()
    sign_in(page, world, MARIA[1])  # a confirmed e-mail is a login
    at(page, "profile")
    addresses = page.locator("#addresses li")
    expect(addresses).to_have_count(1)
    expect(addresses.first.get_by_role("button", name="Удалить адрес")).to_have_count(0)  # not the last one

    # «+» → «Регистрация нового адреса»: the same checks and texts as at registration, no connection hint.
    page.get_by_role("button", name="+", exact=True).click()
    dialog = page.locator("#add-address-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Регистрация нового адреса")
    expect(
        dialog.get_by_text(
            "Укажите расчетный период, номер лицевого счета и сумму к оплате из квитанции ЖКУ."
        )
    ).to_be_visible()
    assert page.get_by_role("button", name="Добавить").count() == 1  # «+» is named «+»
    assert page.get_by_role("button", name="Выйти").count() == 1
    press(page, "Добавить", within=dialog)
    expect_error(page, "accountNumber", "Номер лицевого счета", REQUIRED, within=dialog)
    dialog.get_by_label("Номер лицевого счета", exact=True).fill("5000000009")
    dialog.get_by_label("Сумма к оплате, ₽", exact=True).fill("100")
    press(page, "Добавить", within=dialog)
    expect_error(page, "accountNumber", "Номер лицевого счета", UNKNOWN_ACCOUNT, within=dialog)
    expect(dialog.locator(".field-error-hint", has_text=re.compile(r"\S"))).to_have_count(
        0
    )  # no «Заявка» here
    dialog.get_by_label("Номер лицевого счета", exact=True).fill(A2)
    press(page, "Добавить", within=dialog)
    expect_error(page, "amountDue", "Сумма к оплате, ₽", AMOUNT_MISMATCH, within=dialog)
    dialog.get_by_label("Расчетный период", exact=True).select_option(world.periods[2])
    dialog.get_by_label("Сумма к оплате, ₽", exact=True).fill(world.amount(A2, world.periods[2]))
    press(page, "Добавить", within=dialog)
    expect(dialog).to_be_hidden()

    expect(addresses).to_have_count(2)
    expect(addresses.locator(".address-title")).to_have_text(["Адрес 1", "Адрес 2"])
    expect(addresses.locator(".address-text")).to_have_text([ACCOUNTS[A1], ACCOUNTS[A2]])
    second = addresses.nth(1)
    expect(second.locator(".address-title")).to_be_focused()
    expect(addresses.first.locator(".primary-mark")).to_have_text("Основной")
    expect(second.locator(".primary-mark")).to_have_count(0)

    # «Основной» moves to the second one.
    second.get_by_role("button", name="Сделать основным").click()
    expect(second.locator(".primary-mark")).to_have_text("Основной")
    expect(addresses.first.locator(".primary-mark")).to_have_count(0)

    # E-bill per address (the e-mail is confirmed), kept after a reload.
    second.get_by_label("Электронная платежка").check()
    expect(addresses.nth(1).get_by_label("Электронная платежка")).to_be_checked()
    page.reload()
    at(page, "profile")
    expect(addresses.nth(1).get_by_label("Электронная платежка")).to_be_checked()
    expect(addresses.first.get_by_label("Электронная платежка")).not_to_be_checked()
    world.provider.wait_until(lambda: world.provider.crm_messages("ebill_subscription"), timeout=20)

    # Removal, confirmed in a dialog («Отмена» first: nothing happens).
    addresses.first.get_by_role("button", name="Удалить адрес").click()
    confirm = page.locator("#remove-address-dialog")
    expect(confirm).to_be_visible()
    expect(confirm.get_by_role("heading")).to_have_text("Удалить этот адрес из профиля?")
    press(page, "Отмена", within=confirm)
    expect(addresses).to_have_count(2)
    addresses.first.get_by_role("button", name="Удалить адрес").click()
    press(page, "Удалить адрес", within=confirm)
    expect(addresses).to_have_count(1)
    expect(addresses.locator(".address-title")).to_have_text(["Адрес 1"])  # the numbers close up
    expect(addresses.locator(".address-text")).to_have_text([ACCOUNTS[A2]])
    expect(addresses.first.locator(".primary-mark")).to_have_text("Основной")
    assert world.gateway.outside == []


def test_the_ebill_waits_for_a_confirmed_email_and_the_letter_can_be_sent_again(page, world):
    phone = "+79261110099"
    world.create_user(phone, "unconfirmed@example.com", A3, confirmed=False)
    sign_in(page, world, "+7 926 111-00-99")
    at(page, "profile")
    expect(page.locator("#email-status")).to_have_text("E-mail не подтвержден")
    resend = page.get_by_role("button", name="Отправить письмо ещё раз")
    expect(resend).to_be_disabled()  # a letter went out at creation: the countdown runs
    expect(page.locator("#resend-email-wait")).to_have_text(
        re.compile(r"^Письмо уже отправлено\. Запросить новое письмо можно через \d+ сек\.$")
    )
    box = page.locator("#addresses li").first
    box.get_by_label("Электронная платежка").check()
    expect_error(
        page,
        "ebill",
        "Электронная платежка",
        "Чтобы получать электронную платежку, подтвердите e-mail",
        within=box,
    )
    expect(page.locator("#addresses li").first.get_by_label("Электронная платежка")).not_to_be_checked()

    # Minutes later the letter may go again: «Отправить письмо ещё раз» sends it, and the countdown restarts.
    world.smtp.wait_until(lambda: world.smtp.messages_to("unconfirmed@example.com"), timeout=20)
    world.sql("UPDATE app_user SET email_letter_sent_at = NULL WHERE phone = ?", phone)
    page.reload()
    at(page, "profile")
    expect(resend).to_be_enabled()
    resend.click()
    expect(page.locator("#email-note")).to_have_text(
        "Мы отправили письмо для подтверждения на unconfirmed@example.com"
    )
    expect(page.get_by_role("button", name="Отправить письмо ещё раз")).to_be_disabled()
    world.smtp.wait_until(lambda: len(world.smtp.messages_to("unconfirmed@example.com")) == 2, timeout=20)


def test_gosuslugi_linked_shows_in_the_profile(page, world):
    world.sql("UPDATE app_user SET gosuslugi_sub = ? WHERE phone = ?", "esia-oid-1000404446", KEYS[0])
    sign_in(page, world, KEYS[1])
    at(page, "profile")
    expect(page.locator("#gosuslugi-status")).to_contain_text("Профиль привязан")


def test_a_keyboard_alone_signs_in_and_out(page, world):
    world.gateway.outside.clear()
    page.goto(world.url + "/")
    at(page, "phone")
    page.keyboard.press("Tab")  # the logo, then the phone field
    page.keyboard.press("Tab")
    expect(field(page, "Телефонный номер")).to_be_focused()
    page.keyboard.type("+7 926 111-00-06")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Даю согласие на обработку персональных данных")).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    at(page, "login")
    expect(field(page, "Пароль")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Показать пароль")).to_be_focused()
    page.keyboard.press("Enter")
    expect(field(page, "Пароль")).to_have_attribute("type", "text")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    at(page, "profile")
    expect(page.get_by_role("heading", level=1)).to_be_focused()  # a new screen is announced by its title
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Выйти", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    at(page, "phone")
    assert world.gateway.outside == []


def test_on_a_phone_sized_screen_nothing_leaves_the_screen(browser, world):
    context = browser.new_context(
        locale="ru-RU", viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        for path, view in (("/", "phone"), ("/#login", "login")):
            page.goto(world.url + path)
            at(page, view)
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
            for button in page.locator("main .actions .btn").all():
                box = button.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["height"] >= 44
    finally:
        context.close()


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.inline_styles = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        if "style" in attrs or tag == "style":
            self.inline_styles += 1


def test_the_portal_is_static_files_with_a_strict_content_security_policy(world):
    index = httpx.get(world.url + "/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    policy = index.headers["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert index.headers["x-content-type-options"] == "nosniff"
    parsed = _Scripts()
    parsed.feed(index.text)
    assert parsed.scripts and all(
        s.get("src", "").startswith("/") for s in parsed.scripts
    )  # no inline script
    assert parsed.inline_styles == 0
    module = httpx.get(world.url + "/js/app.js")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]
    assert module.headers["content-security-policy"] == policy
    # The other routes are untouched by the mount.
    assert httpx.get(world.url + "/healthz").status_code == 200
    assert httpx.get(world.url + "/no-such-file.js").status_code == 404
    assert httpx.post(world.url + "/graphql", json={"query": "{ passwordRules }"}).status_code == 200
