"""«Вход через портал Госуслуги» on the reference portal, against a local OpenID Connect provider
(tests/oidc_provider.py: `oidc.person` is who signs in there, None a resident who declines): shown when
`clientConfig.gosuslugiEnabled`, let through only with the consent ticked, and real round trips — the gateway's
`/auth/gosuslugi/login?portal=<tab>`, the provider, the gateway's callback handing the answer to the portal
(`/#gosuslugi?code&state&tab`), `gosuslugiComplete` from the tab that started it (docs/portal.md, «Госуслуги»).
(Hidden when Госуслуги is off: tests/browser/test_portal_registration.py.)"""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.portal_kit import (
    ACCOUNTS,
    PASSWORD,
    at,
    database,
    expect_error,
    field,
    no_script_errors,  # noqa: F401 (an autouse fixture)
    press,
    running_world,
    session_token,
)
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, LocalOidcProvider, Person, follow_authorize
from tests.providers import free_port

CONSENT = "Даю согласие на обработку персональных данных"
BUTTON = "Вход через портал Госуслуги"
STATE_INVALID = "Сеанс входа через портал Госуслуги устарел или уже завершен. Начните вход заново"
CANCELLED = "Вход через портал Госуслуги не выполнен. Попробуйте еще раз или войдите по номеру телефона"
PHONE_TAKEN = (
    "Этот номер телефона уже зарегистрирован. Войдите по номеру телефона и паролю, "
    "а затем привяжите Госуслуги в профиле"
)
COMPLETE = """mutation($code: String!, $state: String!) {
  gosuslugiComplete(code: $code, state: $state) { flow { id step } errors { code message } } }"""


@pytest.fixture(scope="module")
def oidc():
    provider = LocalOidcProvider()
    try:
        yield provider
    finally:
        provider.down()


@pytest.fixture(scope="module")
def world(tmp_path_factory, oidc):
    tmp = tmp_path_factory.mktemp("portal-gosuslugi")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    oidc.add_client(CLIENT_ID, CLIENT_SECRET, [f"{url}/auth/gosuslugi/callback"])
    env = {
        "EIRC_PUBLIC_URL": url,
        "EIRC_OIDC_ISSUER": oidc.issuer,
        "EIRC_OIDC_CLIENT_ID": CLIENT_ID,
        "EIRC_OIDC_CLIENT_SECRET": CLIENT_SECRET,
    }
    with database("sqlite", tmp) as db, running_world(db, tmp, port=port, **env) as w:
        yield w


@pytest.fixture(scope="module")
def gateway(world):
    return world.gateway


@pytest.fixture(autouse=True)
def someone_at_the_provider(oidc):
    """Each test says who signs in at the provider; by default a person nobody registered yet."""
    oidc.person = Person()
    yield
    oidc.person = Person()


@pytest.fixture
def elsewhere() -> list[str]:
    return []


@pytest.fixture
def page(browser, world, oidc, elsewhere):
    """A fresh context: the gateway, and the provider's authorize redirect (a top-level navigation); any other
    request is refused and recorded in `elsewhere`. Script and console errors fail the test (no_script_errors)."""
    context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})

    def guard(route) -> None:
        url = route.request.url
        if url.startswith((world.url + "/", oidc.issuer + "/authorize?", "data:", "blob:")):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    context.route("**/*", guard)
    try:
        yield context.new_page()
    finally:
        context.close()


def completions(page) -> list[str]:
    """The gosuslugiComplete requests the page sends (filled as they go)."""
    sent: list[str] = []

    def seen(request) -> None:
        if request.url.endswith("/graphql") and "gosuslugiComplete" in (request.post_data or ""):
            sent.append(request.post_data or "")

    page.on("request", seen)
    return sent


def sign_in_with_gosuslugi(page, world) -> None:
    """The phone screen: the consent ticked, «Вход через портал Госуслуги»; back from the provider."""
    page.goto(world.url + "/")
    at(page, "phone")
    page.get_by_label(CONSENT).check()
    with page.expect_navigation():
        page.get_by_role("link", name=BUTTON).click()


def tab_value(page) -> str | None:
    return page.evaluate("() => sessionStorage.getItem('eirc.gosuslugi')")


def assert_address_clean(page, world, view: str) -> None:
    """The answer is out of the address bar (and so out of the history): the screen's own hash only."""
    assert page.url == f"{world.url}/#{view}"


def foreign_answer(world, tab: str) -> dict[str, str]:
    """What someone else's browser brings back from a sign-in of their own: the fragment's parameters."""
    with httpx.Client(base_url=world.url, timeout=10) as theirs:
        started = theirs.get("/auth/gosuslugi/login", params={"portal": tab})
        assert started.status_code == 302
        callback = follow_authorize(started.headers["location"])
        handed = theirs.get(callback.url)
    assert handed.status_code == 303
    fragment = urlsplit(handed.headers["location"]).fragment
    return {k: v[0] for k, v in parse_qs(fragment.partition("?")[2]).items()}


def test_the_button_needs_the_consent_and_an_unknown_person_registers_in_the_portal(
    page, world, oidc, elsewhere
):
    sent = completions(page)
    page.goto(world.url + "/")
    at(page, "phone")
    button = page.get_by_role("link", name=BUTTON)
    expect(button).to_be_visible()
    button.click()
    expect_error(
        page, "consent", CONSENT, "Чтобы продолжить, дайте согласие на обработку персональных данных"
    )
    at(page, "phone")
    assert tab_value(page) is None and oidc.received("/authorize") == []

    page.get_by_label(CONSENT).check()
    with page.expect_navigation():
        button.click()
    [authorize] = oidc.received("/authorize")
    assert authorize.params["redirect_uri"] == world.url + "/auth/gosuslugi/callback"

    # The provider vouched for a number nobody registered yet: the portal's own account step, no SMS.
    at(page, "account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация: лицевой счет")
    assert len(sent) == 1
    assert_address_clean(page, world, "account")
    assert tab_value(page) is None  # one sign-in, one handoff
    assert page.evaluate("() => sessionStorage.getItem('eirc.flow')")
    phone = "+79167654321"
    account = next(iter(ACCOUNTS))
    field(page, "Лицевой счет").press_sequentially(account)
    field(page, "Сумма к оплате, ₽").press_sequentially(world.amount(account))
    press(page, "Далее")
    at(page, "address")
    expect(page.locator("#found-address")).to_have_text(ACCOUNTS[account])
    press(page, "Да")

    # «Регистрация: личные данные» prefilled with what the provider gave (flow.data).
    at(page, "personal")
    expect(field(page, "Фамилия")).to_have_value("Петров")
    expect(field(page, "Имя")).to_have_value("Иван")
    expect(field(page, "Отчество (обязательно, если есть)")).to_have_value("Сергеевич")
    expect(field(page, "Дата рождения")).to_have_value("1985-04-12")
    expect(field(page, "Электронная почта")).to_have_value("ivan.petrov@gosuslugi.example")
    press(page, "Далее")
    at(page, "password")
    field(page, "Пароль").press_sequentially(PASSWORD)
    press(page, "Сохранить и зарегистрироваться")

    at(page, "profile")
    expect(page.locator("#person-name")).to_have_text("Петров Иван Сергеевич")
    expect(page.locator("#gosuslugi-status")).to_contain_text("Профиль привязан")
    token = session_token(page)
    assert token and world.me(token) == {"phone": phone}
    assert world.sms_count(phone) == 0  # the provider verified the number
    assert elsewhere == []


def test_a_linked_person_lands_on_the_profile_signed_in(page, world, oidc, elsewhere):
    phone = "+79160001111"
    world.create_user(phone, "linked@example.com", list(ACCOUNTS)[1])
    world.sql("UPDATE app_user SET gosuslugi_sub = ? WHERE phone = ?", "esia-linked-2", phone)
    oidc.person = dataclasses.replace(Person(), sub="esia-linked-2", phone_number=phone)
    sent = completions(page)

    sign_in_with_gosuslugi(page, world)
    at(page, "profile")
    expect(page.get_by_role("heading", level=1)).to_have_text("Мой профиль")
    expect(page.locator("#person-name")).to_have_text("Иванова Мария")
    expect(page.locator("#gosuslugi-status")).to_contain_text("Профиль привязан")
    assert_address_clean(page, world, "profile")
    token = session_token(page)
    assert token and world.me(token) == {"phone": phone}  # a session the gateway accepts
    assert len(sent) == 1

    page.reload()  # nothing left to hand over: the same tab, still signed in
    at(page, "profile")
    assert len(sent) == 1 and session_token(page) == token
    assert elsewhere == []


def test_a_link_crafted_by_someone_else_is_refused_without_a_call(page, world, oidc, elsewhere):
    """Login CSRF: someone sends a resident their own (valid) answer. This tab never started it."""
    oidc.person = dataclasses.replace(Person(), sub="esia-someone-else-4", phone_number="+79160004444")
    sent = completions(page)
    theirs = foreign_answer(world, "their-tab-value-0123456789")
    assert set(theirs) == {"code", "state", "tab"}

    # A fresh tab (nothing kept), the link with their tab value; then with a made-up one.
    for tab in (theirs["tab"], "wrong"):
        page.goto(f"{world.url}/#gosuslugi?{urlencode({**theirs, 'tab': tab})}")
        at(page, "phone")
        expect(page.locator(".screen-phone [role=alert]")).to_have_text(STATE_INVALID)
        assert_address_clean(page, world, "phone")
        page.goto("about:blank")

    # A tab that started a sign-in of its own, and the link arrives on the page already open (a hash change).
    page.goto(world.url + "/")
    at(page, "phone")
    page.evaluate("() => sessionStorage.setItem('eirc.gosuslugi', 'this-tabs-own-value-0123456789')")
    page.evaluate(f"() => {{ location.hash = {('#gosuslugi?' + urlencode(theirs))!r}; }}")
    expect(page.locator(".screen-phone [role=alert]")).to_have_text(STATE_INVALID)
    assert "code=" not in page.url
    assert tab_value(page) is None

    assert sent == []  # gosuslugiComplete was never called ...
    done = httpx.post(
        f"{world.url}/graphql",
        json={"query": COMPLETE, "variables": {"code": theirs["code"], "state": theirs["state"]}},
        timeout=10,
    ).json()["data"]["gosuslugiComplete"]
    assert done["errors"] == [] and done["flow"]["step"] == "ACCOUNT"  # ... so their state was still unspent
    assert session_token(page) is None and page.evaluate("() => sessionStorage.getItem('eirc.flow')") is None
    assert elsewhere == []


def test_a_sign_in_declined_at_the_provider_shows_the_phone_screen_cancelled(page, world, oidc, elsewhere):
    oidc.person = None  # the resident presses «Отмена» at the provider
    sent = completions(page)
    sign_in_with_gosuslugi(page, world)
    at(page, "phone")
    expect(page.locator(".screen-phone [role=alert]")).to_have_text(CANCELLED)
    assert_address_clean(page, world, "phone")
    assert sent == [] and tab_value(page) is None
    expect(page.get_by_role("link", name=BUTTON)).to_be_visible()  # and can try again
    assert elsewhere == []


def test_a_refusal_of_gosuslugi_complete_is_shown_on_the_phone_screen(page, world, oidc, elsewhere):
    """The provider's phone belongs to a resident who has not linked Госуслуги: PHONE_TAKEN (field null)."""
    phone = "+79160002222"
    world.create_user(phone, "unlinked@example.com", list(ACCOUNTS)[2])
    oidc.person = dataclasses.replace(Person(), sub="esia-unlinked-3", phone_number=phone)
    sent = completions(page)
    sign_in_with_gosuslugi(page, world)
    at(page, "phone")
    expect(page.locator(".screen-phone [role=alert]")).to_have_text(PHONE_TAKEN)
    assert len(sent) == 1 and session_token(page) is None
    assert_address_clean(page, world, "phone")
    assert elsewhere == []
