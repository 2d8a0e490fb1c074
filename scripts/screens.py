"""`make screens`: every screen of the reference portal, one PNG each, in var/screens/ for review.

Starts a gateway of its own (`eirc serve --demo` on a fresh SQLite database in a temporary directory, so the demo
billing data and the demo resident are there), with a local SMS relay in this process (the codes are read from
what it receives, as a resident reads their phone), then drives headless Chromium through the screens as a
person would — typing, ticking, clicking — and photographs each one. Nothing of the repository's own
var/eirc.db is touched.

Two things are set up only so that they can be seen: Госуслуги is "configured" with an issuer that is not
there (`clientConfig.gosuslugiEnabled` is true, so the phone screen shows its button; pressing it would answer
«Вход через портал Госуслуги сейчас недоступен»), and one resident is marked as linked to Госуслуги directly in
the database (the profile's «Профиль привязан»).

    .venv/bin/python scripts/screens.py [--out var/screens] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from eirc.demo import DEMO_ACCOUNTS, demo_amount
from eirc.demo.user import DEMO_PASSWORD, DEMO_PHONE
from eirc.domain.periods import Period

ROOT = Path(__file__).resolve().parents[1]
EIRC = str(Path(sys.executable).parent / "eirc")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "Parol2024a"


# --- a local SMS relay (CONTRACT §5) -------------------------------------------------------------------------
class SmsRelay:
    """`POST /sms` {"id", "phone", "text"} → 200 {"id", "status": "accepted"}; keeps the texts per phone."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with relay.lock:
                    relay.texts.setdefault(body.get("phone", ""), []).append(body.get("text", ""))
                data = json.dumps({"id": body.get("id"), "status": "accepted"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def count(self, phone: str) -> int:
        with self.lock:
            return len(self.texts.get(phone, []))

    def code_after(self, phone: str, seen: int, length: int = 4, timeout: float = 15) -> str:
        """The code of the first SMS to `phone` after the `seen` ones already there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                texts = self.texts.get(phone, [])[seen:]
            for text in texts:
                runs = [r for r in re.findall(r"\d+", text) if len(r) == length]
                if runs:
                    return runs[0]
            time.sleep(0.1)
        raise SystemExit(f"screens: no SMS reached {phone} within {timeout}s")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"screens: the gateway exited ({process.returncode}):\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("screens: the gateway did not become healthy")


def amount_text(kopecks: int) -> str:
    return f"{kopecks // 100},{kopecks % 100:02d}"


# --- the walk ---------------------------------------------------------------------------------------------------
class Walk:
    def __init__(self, page, url: str, out: Path, relay: SmsRelay, periods: list[str]) -> None:
        self.page, self.url, self.out, self.relay, self.periods = page, url, out, relay, periods
        self.n = 0
        self.taken: list[str] = []

    def shot(self, name: str) -> None:
        self.n += 1
        self.page.wait_for_timeout(150)  # the focus ring and the live regions settle
        path = self.out / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path.name)
        print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)

    def at(self, view: str) -> None:
        self.page.wait_for_selector(f'body[data-screen="{view}"]', timeout=15_000)

    def label(self, text: str):
        return self.page.get_by_label(text, exact=True)

    def press(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    def bill(self, account: str, period: str) -> str:
        base = next(b for number, _address, b in DEMO_ACCOUNTS if number == account)
        return amount_text(demo_amount(account, base, Period.parse(period)))

    def start(self, phone: str) -> None:
        self.page.goto(self.url + "/")
        self.at("phone")
        self.label("Телефонный номер").fill(phone)
        self.page.get_by_label("Даю согласие на обработку персональных данных").check()

    def code(self, e164: str, seen: int) -> None:
        self.at("code")
        self.label("Код").fill(self.relay.code_after(e164, seen))
        self.press("Подтвердить номер")


def walk(browser, url: str, out: Path, relay: SmsRelay, database: Path) -> list[str]:
    periods = [
        p["value"]
        for p in httpx.post(f"{url}/graphql", json={"query": "{ billingPeriods { value } }"}).json()["data"][
            "billingPeriods"
        ]
    ]
    context = browser.new_context(locale="ru-RU", viewport=DESKTOP, device_scale_factor=1)
    page = context.new_page()
    w = Walk(page, url, out, relay, periods)
    newest, older = periods[0], periods[1]
    first, second, third = DEMO_ACCOUNTS[1][0], DEMO_ACCOUNTS[2][0], DEMO_ACCOUNTS[3][0]

    # I. Registration
    page.goto(url + "/")
    w.at("phone")
    w.shot("phone")
    w.label("Телефонный номер").fill("+7 916 123")
    w.press("Далее")
    page.wait_for_selector(".field-phone.has-error")
    w.shot("phone-errors")
    resident = "+79165550101"
    seen = relay.count(resident)
    w.label("Телефонный номер").fill("+7 916 555-01-01")
    page.get_by_label("Даю согласие на обработку персональных данных").check()
    w.press("Далее")
    w.at("code")
    w.shot("code")
    right = relay.code_after(resident, seen)
    w.label("Код").fill("0000" if right != "0000" else "1111")
    w.press("Подтвердить номер")
    page.wait_for_selector(".field-code.has-error")
    w.shot("code-wrong")
    w.label("Код").fill("")
    w.press("Подтвердить номер")
    page.wait_for_selector(".field-code.has-error")
    w.shot("code-empty")
    w.label("Код").fill(right)
    w.press("Подтвердить номер")
    w.at("account")
    w.shot("account")
    w.label("Лицевой счет").fill("5099999999")
    w.label("Сумма к оплате, ₽").fill("300")
    w.press("Далее")
    page.wait_for_selector(".field-accountNumber.has-error")
    w.shot("account-unknown")
    w.label("Расчетный период").select_option(older)
    w.label("Лицевой счет").fill(first)
    w.label("Сумма к оплате, ₽").fill("300,00")
    w.press("Далее")
    page.wait_for_selector(".field-amountDue.has-error")
    w.shot("account-amount-mismatch")
    w.press("Заявка")
    w.at("invite")
    w.shot("request-invite")
    w.press("Отмена")
    w.at("account")
    w.label("Сумма к оплате, ₽").fill(w.bill(first, older))
    w.press("Далее")
    w.at("address")
    w.shot("address")
    w.press("Да")
    w.at("personal")
    w.shot("personal")
    w.press("Далее")
    page.wait_for_selector(".field-lastName.has-error")
    w.shot("personal-required")
    w.label("Фамилия").fill("Федоров")
    w.label("Имя").fill("Петр")
    w.label("Отчество (обязательно, если есть)").fill("Иванович")
    w.label("Дата рождения").fill("1985-04-12")
    w.label("Электронная почта").fill("petr.fedorov.gmail.com")
    w.press("Далее")
    page.wait_for_selector(".field-email.has-error")
    w.shot("personal-bad-email")
    w.label("Электронная почта").fill("petr.fedorov@example.com")
    page.get_by_label("Согласен получать уведомления по E-mail").check()
    w.press("Далее")
    w.at("password")
    w.shot("password")
    w.label("Пароль").press_sequentially("67hk9")
    w.shot("password-typing")
    page.get_by_role("button", name="Показать пароль").click()
    w.shot("password-shown")
    w.label("Пароль").fill("")
    w.label("Пароль").press_sequentially("a 11")
    w.press("Сохранить и зарегистрироваться")
    page.wait_for_selector(".field-password.has-error")
    w.shot("password-weak")
    w.label("Пароль").fill(PASSWORD)
    w.press("Сохранить и зарегистрироваться")
    w.at("profile")
    w.shot("profile-registered")
    page.get_by_role("button", name="+", exact=True).click()
    page.wait_for_selector("#add-address-dialog[open]")
    w.shot("add-address")
    dialog = page.locator("#add-address-dialog")
    dialog.get_by_label("Номер лицевого счета").fill(second)
    dialog.get_by_label("Сумма к оплате, ₽").fill("1")
    dialog.get_by_role("button", name="Добавить").click()
    page.wait_for_selector("#add-address-dialog .field-amountDue.has-error")
    w.shot("add-address-error")
    dialog.get_by_label("Сумма к оплате, ₽").fill(w.bill(second, newest))
    dialog.get_by_role("button", name="Добавить").click()
    page.wait_for_selector("#addresses li:nth-child(2)")
    w.shot("profile-two-addresses")
    page.locator("#addresses li").nth(0).get_by_label("Электронная платежка").check()
    page.wait_for_selector("#addresses .field-ebill.has-error")
    w.shot("profile-ebill-needs-email")
    page.locator("#addresses li").nth(1).get_by_role("button", name="Удалить адрес").click()
    page.wait_for_selector("#remove-address-dialog[open]")
    w.shot("remove-address")
    page.locator("#remove-address-dialog").get_by_role("button", name="Отмена").click()
    w.press("Выйти")
    w.at("phone")

    # II. Sign-in
    w.start("+7 999 000-00-01")
    w.press("Далее")
    w.at("login")
    w.shot("login")
    w.press("Вход в личный кабинет")
    page.wait_for_selector(".field-password.has-error")
    w.shot("login-empty-password")
    w.label("Пароль").fill("wrong1")
    w.press("Вход в личный кабинет")
    page.locator(".field-password .field-error", has_text="Ошибка в логине").wait_for()
    w.shot("login-wrong")
    w.label("Пароль").fill(DEMO_PASSWORD)
    w.press("Вход в личный кабинет")
    w.at("profile")
    page.locator("#addresses li").nth(0).get_by_label("Электронная платежка").check()
    page.wait_for_selector("#addresses li .field-ebill input:checked")
    # Only for the picture: the demo resident linked to Госуслуги (no provider runs here).
    with sqlite3.connect(database) as db:
        db.execute("UPDATE app_user SET gosuslugi_sub = 'screens-demo' WHERE phone = ?", (DEMO_PHONE,))
    page.reload()
    w.at("profile")
    w.shot("profile-confirmed-linked")
    w.press("Выйти")
    w.at("phone")

    page.goto(url + "/#login")
    w.at("login")
    w.label("Телефонный номер или e-mail (логин)").fill("petr.fedorov@example.com")
    w.label("Пароль").fill(PASSWORD)
    w.press("Вход в личный кабинет")
    page.wait_for_selector(".field-login.has-error")
    w.shot("login-email-not-confirmed")

    # III. Forgot password
    w.label("Телефонный номер или e-mail (логин)").fill("+7 916 555-01-01")
    seen = relay.count(resident)
    page.get_by_role("button", name="Я забыл пароль").click()
    w.at("code")
    w.shot("reset-code")
    w.code(resident, seen)
    w.at("password")
    w.label("Пароль").press_sequentially("Novyi2025b")
    w.shot("reset-password")
    w.press("Сохранить и перейти ко входу")
    w.at("login")
    w.shot("reset-login")

    # IV. The connection request
    stranger = "+79165550202"
    seen = relay.count(stranger)
    w.start("8 (916) 555-02-02")
    w.press("Далее")
    w.code(stranger, seen)
    w.at("account")
    w.label("Лицевой счет").fill("5099999998")
    w.label("Сумма к оплате, ₽").fill("1 234,56")
    w.press("Далее")
    page.wait_for_selector("#open-request:not([hidden])")
    w.press("Заявка")
    w.at("invite")
    w.press("Отправить заявку")
    w.at("request")
    w.shot("request-form")
    w.press("Отправить заявку")
    page.wait_for_selector(".field-lastName.has-error")
    w.shot("request-required")
    w.label("Фамилия").fill("Смирнова")
    w.label("Имя").fill("Анна")
    w.label("Ваш адрес").fill("г. Реутов, Лесная ул., д. 5")
    w.label("Квартира (обязательно, если есть)").fill("17")
    w.label("Электронная почта").fill("anna.smirnova@example.com")
    w.press("Отправить заявку")
    w.at("accepted")
    w.shot("request-accepted")

    # V. A phone-sized screen
    context.close()
    context = browser.new_context(
        locale="ru-RU", viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    w.page = page
    page.goto(url + "/")
    w.at("phone")
    w.shot("mobile-phone")
    w.start("+7 999 000-00-01")
    w.press("Далее")
    w.at("login")
    w.label("Пароль").fill(DEMO_PASSWORD)
    w.press("Вход в личный кабинет")
    w.at("profile")
    w.shot("mobile-profile")
    w.press("Выйти")
    w.at("phone")
    newcomer = "+79165550303"
    seen = relay.count(newcomer)
    w.start("+7 916 555 03 03")
    w.press("Далее")
    w.code(newcomer, seen)
    w.at("account")
    w.shot("mobile-account")
    w.label("Лицевой счет").fill(third)
    w.label("Сумма к оплате, ₽").fill(w.bill(third, newest))
    w.press("Далее")
    w.at("address")
    w.press("Да")
    w.at("personal")
    w.label("Электронная почта").fill("no-at-sign")
    w.press("Далее")
    page.wait_for_selector(".field-email.has-error")
    w.shot("mobile-personal-errors")

    # VI. The lockout (last: the demo resident stays locked for 5 minutes), in a tab of its own
    context.close()
    context = browser.new_context(locale="ru-RU", viewport=DESKTOP, device_scale_factor=1)
    page = context.new_page()
    w.page = page
    page.goto(url + "/#login")
    w.at("login")
    w.label("Телефонный номер или e-mail (логин)").fill("+7 999 000-00-01")
    for _ in range(8):
        w.label("Пароль").fill("wrong1")
        w.press("Вход в личный кабинет")
        page.wait_for_selector(".field-password.has-error")
        if "Превышено" in page.locator(".field-password .field-error").text_content():
            break
    w.shot("login-locked")
    context.close()
    return w.taken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "var" / "screens"))
    parser.add_argument("--chromium", default=os.environ.get("EIRC_TEST_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    chromium = args.chromium if os.path.exists(args.chromium) else shutil.which("chromium")
    if not chromium:
        print("screens: Chromium not found (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()

    work = Path(tempfile.mkdtemp(prefix="eirc-screens-"))
    database = work / "eirc.db"
    relay = SmsRelay()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(
        EIRC_ENV="development",
        EIRC_DATABASE_URL=f"sqlite:///{database}",
        EIRC_PUBLIC_URL=url,
        EIRC_SMS_PROVIDER="relay",
        EIRC_SMS_URL=relay.url,
        EIRC_SMS_TOKEN="screens",
        EIRC_LOG_LEVEL="WARNING",
        EIRC_TERMS_URL="https://example.org/eirc/terms",
        EIRC_PERSONAL_DATA_POLICY_URL="https://example.org/eirc/personal-data",
        # Only so that «Вход через портал Госуслуги» is shown: no provider answers at this address.
        EIRC_OIDC_ISSUER="http://127.0.0.1:9",
        EIRC_OIDC_CLIENT_ID="screens",
        EIRC_OIDC_CLIENT_SECRET="screens",
        EIRC_DELIVERY_BACKOFF_SECONDS="0.2",
        EIRC_DELIVERY_MAX_BACKOFF_SECONDS="0.5",
    )
    log = work / "gateway.log"
    with log.open("wb") as log_file:
        gateway = subprocess.Popen(
            [EIRC, "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
            cwd=work,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(url, gateway, log)
        from playwright.sync_api import sync_playwright

        print(f"screens: gateway {url}, writing {out}", flush=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=ru-RU"],
            )
            try:
                taken = walk(browser, url, out, relay, database)
            finally:
                browser.close()
        print(f"screens: {len(taken)} PNGs in {out}")
        return 0
    finally:
        gateway.terminate()
        try:
            gateway.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gateway.kill()
        relay.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
