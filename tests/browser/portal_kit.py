"""What the reference portal's browser tests share: a gateway with real local peers and billing data, and the
moves of a person at the screens.

`start_world(database_url, tmp)` starts a `FakeProvider` (the SMS relay and «Домопульт»), an `SmtpSink`, and an
`eirc serve` subprocess pointed at them, and imports billing data through `eirc billing import` (the last three
months before today, so `billingPeriods` offers them). A test module makes it its `gateway` fixture, so the
`page` fixture (tests/browser/conftest.py) watches that gateway:

    @pytest.fixture(scope="module")
    def world(tmp_path_factory):
        with running_world(sqlite_url(tmp_path_factory)) as w:
            yield w

    @pytest.fixture(scope="module")
    def gateway(world):
        return world.gateway
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import EIRC, Gateway, start_gateway, stop_gateway
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.providers import CRM_TOKEN, MAIL_FROM, SMS_TOKEN, FakeProvider, SmtpSink

# The machine running the suite may be busy (password hashing is CPU-bound): answers get 15 s, not 5.
expect.set_options(timeout=15_000)

# (account, address, kopecks of the newest bill; older bills differ by a few rubles)
ACCOUNTS = {
    "5012345678": "г.Москва, ул.Вяземская, д.34, к.2, кв.90",
    "5087654321": "Г.О. ХИМКИ Р-Н., Г. ХИМКИ, МЕЛЬНИКОВА. ПР-Т., Д.2, КВ.15",
    "5011112222": "РЕУТОВ Р-Н., Г. РЕУТОВ, ЛЕСНАЯ УЛ., Д.7, КВ.3",
    "5033334444": "Г.О. ПОДОЛЬСК Р-Н., Г. ПОДОЛЬСК, 43-И АРМИИ УЛ, Д.11, КВ.40",
    "5055556666": "Г.О. МЫТИЩИ, Г. МЫТИЩИ, ОЛИМПИЙСКИЙ. ПР-Т., Д.12, К.1, КВ.48",
    "5077778888": "г.Москва, ул.Профсоюзная, д.56, кв.214",
}
BASE_KOPECKS = 123_456  # 1 234,56 ₽ for the newest bill of the first account

# SPEC's texts, exactly.
REQUIRED = "Пожалуйста, заполните обязательное поле"
INVALID_PHONE = "Введен некорректный номер. Исправьте номер и попробуйте еще раз"
INVALID_CODE = "Убедитесь в верности введенного кода. Вы также можете запросить повторную отправку кода"
UNKNOWN_ACCOUNT = (
    "Вы ввели неправильный номер лицевого счета. Пожалуйста, введите правильные данные и попробуйте еще раз"
)
AMOUNT_MISMATCH = (
    "Введенная сумма не соответствует расчетному периоду. Убедитесь в ее верности и соответствии "
    "указанному периоду и попробуйте еще раз"
)
ACCOUNT_HINT = "В случае ошибки вы можете оставить заявку на подключение, мы ее обязательно рассмотрим"
INVALID_EMAIL = "Это не похоже на e-mail. Убедитесь, что вы используете символ «@»"
WEAK_PASSWORD = (
    "Не все необходимые условия выполнены. Убедитесь, что пароль полностью соответствует "
    "перечисленным ниже условиям"
)
INVALID_CREDENTIALS = (
    "Ошибка в логине или пароле. Проверьте правильность введенных данных и попробуйте еще раз"
)
EMAIL_NOT_CONFIRMED = (
    "Подтвердите e-mail, чтобы использовать его как логин: мы отправили повторное письмо вам на почту. "
    "Или используйте телефон для входа"
)
LOGIN_LOCKED = (
    "Превышено число попыток входа по логину и паролю. Проверьте правильность введенных данных "
    "и попробуйте еще раз через 5 минут"
)
RESEND_WAIT = re.compile(r"^Запросить повторную отправку можно через (\d+) сек\.$")

PASSWORD = "Parol2024a"


def last_periods(today: date | None = None) -> list[str]:
    """The three months before this one, newest first (what `billingPeriods` offers with these bills)."""
    today = today or date.today()
    year, month = today.year, today.month
    out = []
    for _ in range(3):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        out.append(f"{year:04d}-{month:02d}")
    return out


def kopecks(account: str, period_index: int) -> int:
    return BASE_KOPECKS + list(ACCOUNTS).index(account) * 10_007 + period_index * 1_150


def amount_text(value: int) -> str:
    """As a resident types it from the bill: «1 234,56»."""
    rubles = f"{value // 100:,}".replace(",", " ")
    return f"{rubles},{value % 100:02d}"


@dataclass
class World:
    gateway: Gateway
    provider: FakeProvider
    smtp: SmtpSink
    periods: list[str]
    database_url: str
    tmp: Path
    users: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.gateway.url

    def amount(self, account: str, period: str | None = None) -> str:
        period = period or self.periods[0]
        return amount_text(kopecks(account, self.periods.index(period)))

    def sms_count(self, phone: str) -> int:
        return len(self.provider.sms_messages(phone))

    def code(self, phone: str, seen: int) -> str:
        """The code of the SMS that reaches `phone` after the `seen` ones (as the resident reads their phone)."""
        self.provider.wait_until(lambda: self.sms_count(phone) > seen, timeout=20)
        return self.provider.last_code(phone, 4)

    def eirc(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [EIRC, *args], env=self.gateway.env, input=stdin, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def create_user(
        self, phone: str, email: str, account: str, *, confirmed: bool = True, password: str = PASSWORD
    ) -> None:
        """A resident with a password (`eirc users create`, by registration's rules)."""
        args = [
            "users", "create", "--phone", phone, "--password", password, "--last-name", "Иванова",
            "--first-name", "Мария", "--email", email, "--account", account, "--period", self.periods[0],
            "--amount", str(kopecks(account, 0) / 100),
        ]  # fmt: skip
        if confirmed:
            args.append("--email-confirmed")
        self.eirc(*args)

    def import_user_without_password(self, phone: str, email: str, account: str) -> None:
        path = self.tmp / f"users-{phone[-4:]}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["phone", "last_name", "first_name", "middle_name", "email", "account_number"])
            out.writerow([phone, "Сидоров", "Олег", "", email, account])
        self.eirc("users", "import", str(path))

    def sql(self, statement: str, *params: object) -> None:
        """A change made behind the API's back (what only support or another system could do)."""
        if self.database_url.startswith("sqlite:///"):
            with contextlib.closing(sqlite3.connect(self.database_url.removeprefix("sqlite:///"))) as db:
                db.execute(statement, params)
                db.commit()
            return
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as db:
            db.execute(statement.replace("?", "%s"), params)

    def me(self, token: str) -> dict | None:
        body = httpx.post(
            f"{self.url}/graphql",
            json={"query": "{ me { phone } }"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        return body["data"]["me"]


def write_billing(path: Path, periods: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["account_number", "period", "amount_due", "address"])
        for account, address in ACCOUNTS.items():
            for index, period in enumerate(periods):
                value = kopecks(account, index)
                out.writerow([account, period, f"{value // 100}.{value % 100:02d}", address])


@contextlib.contextmanager
def running_world(
    database_url: str, tmp: Path, *, port: int | None = None, **extra_env: str
) -> Iterator[World]:
    provider = FakeProvider()
    smtp = SmtpSink()
    gateway = None
    try:
        gateway = start_gateway(
            database_url,
            port=port,
            EIRC_SMS_PROVIDER="relay",
            EIRC_SMS_URL=provider.sms_url,
            EIRC_SMS_TOKEN=SMS_TOKEN,
            EIRC_CRM_URL=provider.crm_url,
            EIRC_CRM_TOKEN=CRM_TOKEN,
            EIRC_SMTP_HOST=smtp.host,
            EIRC_SMTP_PORT=str(smtp.port),
            EIRC_MAIL_FROM=MAIL_FROM,
            EIRC_DELIVERY_BACKOFF_SECONDS="0.2",
            EIRC_DELIVERY_MAX_BACKOFF_SECONDS="0.5",
            EIRC_DELIVERY_TIMEOUT_SECONDS="2",
            **extra_env,
        )
        periods = last_periods()
        world = World(gateway, provider, smtp, periods, database_url, tmp)
        billing = tmp / "billing.csv"
        write_billing(billing, periods)
        world.eirc("billing", "import", str(billing))
        yield world
    finally:
        if gateway is not None:
            stop_gateway(gateway)
        smtp.close()
        provider.close()


@contextlib.contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'eirc.db'}"
        return
    name, url = _create_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture(autouse=True)
def no_script_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Imported by the portal's test modules: a test that used `page` fails on any uncaught error or
    console error of the portal's scripts (a CSP refusal included)."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield
    assert errors == []


# --- a person at the screens -----------------------------------------------------------------------------------
def at(page: Page, view: str) -> None:
    """Waits until the portal shows the screen `view` (body[data-screen])."""
    page.wait_for_selector(f'body[data-screen="{view}"]', timeout=20_000)


def field(page: Page, label: str):
    return page.get_by_label(label, exact=True)


def press(page: Page, name: str, *, within=None) -> None:
    (within or page).get_by_role("button", name=name, exact=True).click()


def submit(page: Page, name: str, *, within=None) -> None:
    """Presses `name` and waits for the answer: a form is `aria-busy` from the press until it is answered."""
    press(page, name, within=within)
    page.wait_for_selector("form[aria-busy]", state="detached", timeout=20_000)


def expect_error(page: Page, name: str, label: str, text: str, *, within=None) -> None:
    """`text`, exactly, under the field `name` labelled `label` — in its error area, named by the control's
    aria-describedby, the control aria-invalid."""
    scope = within or page
    box = scope.locator(f'[data-field="{name}"]')
    control = box.get_by_label(label, exact=True)
    message = box.locator(".field-error")
    expect(message).to_have_text(text)
    expect(control).to_have_attribute("aria-invalid", "true")
    error_id = message.get_attribute("id")
    assert error_id in (control.get_attribute("aria-describedby") or "").split()
    assert message.get_attribute("aria-live") == "polite"


def expect_no_error(page: Page, name: str, *, within=None) -> None:
    expect((within or page).locator(f'[data-field="{name}"] .field-error')).to_have_text("")


def start_phone(page: Page, url: str, phone: str) -> None:
    """The phone screen: the number typed, the consent ticked, «Далее»."""
    page.goto(url + "/")
    at(page, "phone")
    field(page, "Телефонный номер").press_sequentially(phone)
    page.get_by_label("Даю согласие на обработку персональных данных").check()
    press(page, "Далее")


def enter_code(page: Page, world: World, phone: str, seen: int) -> None:
    at(page, "code")
    field(page, "Код").press_sequentially(world.code(phone, seen))
    press(page, "Подтвердить номер")


def session_token(page: Page) -> str | None:
    """The session token the tab keeps (sessionStorage `eirc.session`), as a script of the page reads it."""
    raw = page.evaluate("() => sessionStorage.getItem('eirc.session')")
    return json.loads(raw)["token"] if raw else None
