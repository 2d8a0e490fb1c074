"""«Вход через портал Госуслуги» on the reference portal's phone screen, against a local OpenID Connect provider
(tests/oidc_provider.py): shown when `clientConfig.gosuslugiEnabled`, let through only with the consent ticked,
and a real round trip — the gateway's /auth/gosuslugi/login, the provider, the gateway's callback page.
(Hidden when Госуслуги is off: tests/browser/test_portal_registration.py.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.portal_kit import at, database, expect_error, no_script_errors, running_world  # noqa: F401
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, LocalOidcProvider
from tests.providers import free_port

CONSENT = "Даю согласие на обработку персональных данных"


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


def test_the_gosuslugi_button_needs_the_consent_and_goes_to_the_provider_and_back(browser, world, oidc):
    context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    elsewhere: list[str] = []

    def guard(route) -> None:
        url = route.request.url
        if url.startswith((world.url + "/", oidc.issuer + "/")):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    context.route("**/*", guard)
    try:
        page = context.new_page()
        page.goto(world.url + "/")
        at(page, "phone")
        button = page.get_by_role("link", name="Вход через портал Госуслуги")
        expect(button).to_be_visible()
        button.click()
        expect_error(
            page, "consent", CONSENT, "Чтобы продолжить, дайте согласие на обработку персональных данных"
        )
        at(page, "phone")
        page.get_by_label(CONSENT).check()
        with page.expect_navigation():
            button.click()
        # The provider vouched for a number nobody registered yet: the gateway's page says to go on.
        expect(page.get_by_role("heading", level=1)).to_have_text("Продолжите регистрацию")
        assert page.url.startswith(world.url + "/auth/gosuslugi/callback?")
        assert any(r.path == "/authorize" for r in oidc.requests)
        assert elsewhere == []
    finally:
        context.close()
