"""Browser tests: real headless Chromium (Debian's `chromium`, driven by Playwright) against a real
`eirc serve`. A missing browser FAILS the run — it is never skipped (`make test` installs it: scripts/
system_deps.sh). Every page is watched: any request to a host other than the gateway is refused and recorded,
so a test can assert that nothing was loaded from outside."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from eirc.storage.migrate import upgrade
from tests.e2e.gateways import wait_healthy
from tests.providers import free_port

EIRC = str(Path(sys.executable).parent / "eirc")
CHROMIUM = os.environ.get("EIRC_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        pytest.fail(
            "Chromium is required for the browser tests and was not found (install Debian's `chromium`: "
            "`make test` does it as root through scripts/system_deps.sh)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str):
    """Per module: Playwright's sync API runs an event loop of its own in this thread while it is open, and
    the async tests of other modules need the thread without one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen
    database_url: str
    env: dict[str, str]
    outside: list[str] = field(default_factory=list)  # requests refused because they left the gateway


def gateway_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(
        EIRC_ENV="test",
        EIRC_DATABASE_URL=database_url,
        EIRC_SECRET_KEY="browser-secret-" + "b" * 32,
        EIRC_LOG_LEVEL="WARNING",
        EIRC_START_PHONE_PER_CLIENT_PER_HOUR="1000",
        EIRC_LOGIN_PER_CLIENT_PER_MINUTE="1000",
        EIRC_SMS_PER_CLIENT_PER_HOUR="1000",
        EIRC_PROVE_ACCOUNT_PER_CLIENT_PER_HOUR="1000",
        **extra,
    )
    return env


def start_gateway(database_url: str, *, port: int | None = None, **extra: str) -> Gateway:
    """`eirc serve` on `port` (a free one by default) over a migrated `database_url`, `extra` in its env."""
    upgrade(database_url)
    port = port or free_port()
    env = gateway_env(database_url, **extra)
    process = subprocess.Popen(
        [EIRC, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    gateway = Gateway(url=f"http://127.0.0.1:{port}", process=process, database_url=database_url, env=env)
    wait_healthy(gateway.url, process)
    return gateway


def stop_gateway(gateway: Gateway) -> None:
    gateway.process.terminate()
    try:
        gateway.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        gateway.process.kill()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'eirc.db'}"
    started = start_gateway(url)
    try:
        yield started
    finally:
        stop_gateway(started)


@pytest.fixture
def page(browser, gateway: Gateway):
    """A fresh browser context whose every request outside the gateway is refused and recorded."""
    context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    origin = gateway.url

    def guard(route) -> None:
        if route.request.url.startswith(origin + "/") or route.request.url == origin:
            route.continue_()
        elif route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            gateway.outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
