"""Local fakes of the SMS gateways eirc speaks, each playing its documented HTTP protocol (docs/deliveries.md,
INTEGRATIONS.md §2): what it reads (query and form parameters, or JSON), how it authenticates, and how it
answers — most of them HTTP 200 with the verdict in the body.

- `FakeSmsc` — SMSC.ru: `/sys/send.php` (`login`+`psw` or `apikey`, `phones`, `mes`, `id`, `sender`, `fmt`,
  `charset`; `fmt=3` answers JSON `{"id", "cnt"}` or `{"error", "error_code"[, "id"]}`, any other `fmt` a text
  line) and `/sys/status.php` (`{"status": …}`, -3 when it has no such message).
- `FakeSmsRu` — SMS.ru: `/sms/send` (`api_id`, `to`, `msg`, `from`, `json=1`), the two-level JSON answer
  (the request's `status`/`status_code`, then one entry per number under `sms`).
- `FakeSmsAero` — SMS Aero v2: `POST /v2/sms/send`, HTTP Basic (e-mail, API key), JSON `number`/`text`/`sign`;
  `{"success": true, "data": {"id", …}}` or `{"success": false, "message": …}`.
- `FakeExolve` — MTS Exolve: `POST /messaging/v1/SendSMS`, Bearer API key, JSON `number` (sender) /
  `destination` / `text`; `{"message_id": …}` or an HTTP error with `{"error": {"code", "message"}}`.

Each checks the credentials it was given, refuses what the real gateway refuses (a malformed number, a
missing parameter, a sender it does not know), and can be told to misbehave on the next send requests:
`refuse_next(n, code)` (the gateway's own refusal, in the body — an SMSC error code, an SMS.ru status code, a
named SMS Aero / Exolve refusal), `fail_next(n, http_status)`, `hang_next(n, accept=…)` (no answer before the
client gives up, having taken the message first or not), `echo_text=True` (refusals quote the message's
text, as careless gateways do: the code must still never reach eirc's logs or stored errors). It records
every call and every accepted message: `accepted(phone)`, `codes(phone, length)`, `calls(path)`.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.peers import ThreadedHttpPeer

PHONE_DIGITS = re.compile(r"7[0-9]{10}")


@dataclass
class Call:
    """One request as the gateway saw it."""

    method: str
    path: str
    params: dict[str, str]  # query string and form fields (the form's value wins)
    body: Any  # the parsed JSON body, if any
    headers: dict[str, str]  # lower-case names
    query: str = ""  # the URL's query string as sent (credentials and texts belong in the body)
    status: int = 0  # what the fake answered (0: no answer, see `hang_next`)
    answer: Any = None


@dataclass
class Accepted:
    """A message the gateway took: what a resident's phone would show."""

    phone: str  # digits, as the gateway got them
    text: str
    message_id: str
    client_id: str | None = None
    sender: str | None = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Step:
    remaining: int
    kind: str  # refuse | http | hang
    value: Any = None  # the refusal code, the HTTP status, or whether a hung request was accepted


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    provider: FakeGateway


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.server.provider._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.provider._handle(self, "POST")

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, str):
            data, kind = body.encode(), "text/plain; charset=utf-8"
        else:
            data, kind = json.dumps(body, ensure_ascii=False).encode(), "application/json; charset=utf-8"
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (see hang_next)
            pass

    def log_message(self, format: str, *args: Any) -> None:
        return


class FakeGateway(ThreadedHttpPeer):
    """The machinery every fake shares; subclasses give `send_path`, `routes()` and the verdicts."""

    name: ClassVar[str] = "gateway"
    send_path: ClassVar[str] = "/send"
    server_class = _Server
    handler_class = _Handler

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._accepted: list[Accepted] = []
        self._steps: list[_Step] = []
        self._ids = itertools.count(1)
        self.hang_seconds = 1.5  # longer than the client's timeout in the tests that use hang_next
        self.echo_text = False
        self.up()

    # --- lifecycle ---
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- behaviour ---
    def refuse_next(self, n: int, code: Any) -> None:
        """Refuse the next `n` send requests the way this gateway does, with `code` (in the body)."""
        with self._lock:
            self._steps.append(_Step(n, "refuse", code))

    def fail_next(self, n: int, status: int) -> None:
        """Answer the next `n` send requests with this HTTP status and no verdict of the gateway's."""
        with self._lock:
            self._steps.append(_Step(n, "http", status))

    def hang_next(self, n: int, *, accept: bool) -> None:
        """Do not answer the next `n` send requests before the client gives up (`hang_seconds`); with
        `accept=True` the message was taken first (the answer is what got lost)."""
        with self._lock:
            self._steps.append(_Step(n, "hang", accept))

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._accepted.clear()
            self._steps.clear()

    # --- what arrived ---
    def calls(self, path: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if path is None or c.path == path]

    def sends(self) -> list[Call]:
        return self.calls(self.send_path)

    def accepted(self, phone: str | None = None) -> list[Accepted]:
        digits = phone.lstrip("+") if phone else None
        with self._lock:
            return [m for m in self._accepted if digits is None or m.phone == digits]

    def codes(self, phone: str, length: int = 4) -> list[str]:
        """The code of every message accepted for `phone` (each text must hold exactly one)."""
        found = []
        for message in self.accepted(phone):
            runs = [r for r in re.findall(r"[0-9]+", message.text) if len(r) == length]
            assert len(runs) == 1, f"expected one code of {length} digits in {message.text!r}"
            found.append(runs[0])
        return found

    def last_code(self, phone: str, length: int = 4) -> str:
        codes = self.codes(phone, length)
        assert codes, f"the gateway accepted no SMS to {phone}"
        return codes[-1]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            time.sleep(0.05)

    # --- the server side ---
    def routes(self) -> dict[str, Callable[[Call, _Step | None], tuple[int, Any]]]:
        raise NotImplementedError

    def _handle(self, handler: _Handler, method: str) -> None:
        call = _read(handler, method)
        route = self.routes().get(call.path)
        with self._lock:
            self._calls.append(call)
            step = self._next_step() if call.path == self.send_path and route is not None else None
        if route is None:
            call.status, call.answer = 404, {"error": "not found"}
            handler.reply(404, call.answer)
            return
        if step is not None and step.kind == "http":
            call.status, call.answer = step.value, {"error": f"fake {self.name} says HTTP {step.value}"}
            handler.reply(step.value, call.answer)
            return
        if step is not None and step.kind == "hang":
            if step.value:  # taken first, the answer is what gets lost
                route(call, None)
            time.sleep(self.hang_seconds)
            handler.reply(503, {"error": "too late"})
            return
        status, answer = route(call, step)
        call.status, call.answer = status, answer
        handler.reply(status, answer)

    def _next_step(self) -> _Step | None:
        for step in self._steps:
            if step.remaining > 0:
                step.remaining -= 1
                return step
        return None

    def _take(
        self,
        phone: str,
        text: str,
        *,
        client_id: str | None = None,
        sender: str | None = None,
        message_id: Callable[[int], str] = str,
    ) -> str:
        """Record an accepted message; its id: the client's, else `message_id(n)` of the next number."""
        message_id = client_id or message_id(next(self._ids))
        with self._lock:
            self._accepted.append(Accepted(phone, text, message_id, client_id, sender))
        return message_id

    def _echo(self, text: str) -> str:
        return f" (message: {text})" if self.echo_text else ""


def _read(handler: _Handler, method: str) -> Call:
    parts = urlsplit(handler.path)
    params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    headers = {k.lower(): v for k, v in handler.headers.items()}
    kind = headers.get("content-type", "")
    body = None
    if "application/x-www-form-urlencoded" in kind:
        form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        params.update({k: v[-1] for k, v in form.items()})
    elif raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
    return Call(method, parts.path, params, body, headers, parts.query)


def _basic(headers: dict[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return None
    try:
        login, _, password = base64.b64decode(value[6:]).decode().partition(":")
    except ValueError:
        return None
    return login, password


# --- SMSC.ru -----------------------------------------------------------------------------------------------
SMSC_ERRORS = {
    1: "Ошибка в параметрах.",
    2: "Неверный логин или пароль.",
    3: "Недостаточно средств на счете Клиента.",
    4: "IP-адрес временно заблокирован из-за частых ошибок в запросах.",
    5: "Неверный формат даты.",
    6: "Сообщение запрещено (по тексту или по имени отправителя).",
    7: "Неверный формат номера телефона.",
    8: "Сообщение на указанный номер не может быть доставлено.",
    9: "Отправка более одного одинакового запроса на передачу SMS-сообщения в течение минуты.",
}
SMSC_WITH_ID = (3, 6, 7, 8)  # errors whose answer also carries the message id


class FakeSmsc(FakeGateway):
    name = "smsc"
    send_path = "/sys/send.php"
    status_path = "/sys/status.php"
    LOGIN, PASSWORD, APIKEY = "eirc-smsc", "smsc-password", "smsc-api-key"

    def __init__(self) -> None:
        self.login, self.password, self.apikey = self.LOGIN, self.PASSWORD, self.APIKEY
        self.has_status = True  # False: /sys/status.php answers 404 (a fake with the send call only)
        super().__init__()

    def routes(self) -> dict[str, Callable[[Call, _Step | None], tuple[int, Any]]]:
        routes = {self.send_path: self._send}
        if self.has_status:
            routes[self.status_path] = self._status
        return routes

    def _authorised(self, p: dict[str, str]) -> bool:
        if p.get("login"):
            return (p.get("login"), p.get("psw")) == (self.login, self.password)
        return bool(p.get("apikey")) and p.get("apikey") == self.apikey

    @staticmethod
    def _error(p: dict[str, str], code: int, message_id: Any = None, extra: str = "") -> tuple[int, Any]:
        if p.get("fmt") != "3":
            return 200, f"ERROR = {code} ({SMSC_ERRORS.get(code, 'error')}{extra})"
        answer: dict[str, Any] = {"error": SMSC_ERRORS.get(code, "error") + extra, "error_code": code}
        if message_id is not None:
            answer["id"] = message_id
        return 200, answer

    def _send(self, call: Call, step: _Step | None) -> tuple[int, Any]:
        p = call.params
        if not self._authorised(p):
            return self._error(p, 2)
        phone, text = p.get("phones", "").lstrip("+"), p.get("mes", "")
        if not text or p.get("charset", "windows-1251") != "utf-8":
            return self._error(p, 1)
        client_id = p.get("id") or None
        if client_id is not None and not (client_id.isdigit() and 1 <= int(client_id) <= 2147483647):
            return self._error(p, 1)
        if not PHONE_DIGITS.fullmatch(phone):
            return self._error(p, 7, client_id)
        if step is not None:
            code = int(step.value)
            return self._error(p, code, client_id if code in SMSC_WITH_ID else None, self._echo(text))
        message_id = self._take(phone, text, client_id=client_id, sender=p.get("sender"))
        if p.get("fmt") != "3":
            return 200, f"OK - 1 SMS, ID - {message_id}"
        return 200, {"id": int(message_id), "cnt": 1}

    def _status(self, call: Call, step: _Step | None) -> tuple[int, Any]:
        p = call.params
        if not self._authorised(p):
            return self._error(p, 2)
        if not p.get("phone") or not p.get("id"):
            return self._error(p, 1)
        phone, message_id = p["phone"].lstrip("+").rstrip(","), p["id"].rstrip(",")
        found = [m for m in self.accepted() if m.phone == phone and m.message_id == message_id]
        now = int(time.time())
        if not found:
            return 200, {"status": -3, "last_date": "", "last_timestamp": 0, "flag": 0, "err": 0}
        return 200, {
            "status": 1,
            "last_date": "10.12.2026 10:00:00",
            "last_timestamp": now,
            "flag": 0,
            "err": 0,
        }


# --- SMS.ru ------------------------------------------------------------------------------------------------
SMSRU_TEXTS = {
    200: "Неправильный api_id",
    201: "Не хватает средств на лицевом счету",
    202: "Неправильно указан номер телефона получателя, либо на него нет маршрута",
    204: "Имя отправителя не согласовано с администрацией",
    207: "На этот номер (или один из номеров) нельзя отправлять сообщения",
    216: "В тексте сообщения содержится запрещенное слово",
    220: "Сервис временно недоступен, попробуйте чуть позже",
    231: "Превышен лимит одинаковых сообщений на этот номер в минуту",
    500: "Ошибка на сервере. Повторите запрос.",
}
# Codes SMS.ru gives for the request as a whole; the others come in the number's entry.
SMSRU_REQUEST_LEVEL = {200, 201, 204, 206, 210, 211, 212, 220, 221, 300, 301, 302, 500}


class FakeSmsRu(FakeGateway):
    name = "smsru"
    send_path = "/sms/send"
    API_ID = "smsru-api-id-0000"

    def __init__(self) -> None:
        self.api_id = self.API_ID
        self.senders = {"MosOblEIRC"}  # sender names approved for the account
        super().__init__()

    def routes(self) -> dict[str, Callable[[Call, _Step | None], tuple[int, Any]]]:
        return {self.send_path: self._send}

    @staticmethod
    def _answer(p: dict[str, str], document: dict[str, Any]) -> tuple[int, Any]:
        if p.get("json") != "1":  # the plain-text answer: the code, then ids or codes a line each
            lines = [str(document["status_code"])]
            for entry in document.get("sms", {}).values():
                lines.append(entry.get("sms_id") or str(entry["status_code"]))
            return 200, "\n".join(lines)
        return 200, document

    def _refused(self, p: dict[str, str], code: int, extra: str = "") -> tuple[int, Any]:
        text = SMSRU_TEXTS.get(code, "Ошибка") + extra
        return self._answer(p, {"status": "ERROR", "status_code": code, "status_text": text})

    def _send(self, call: Call, step: _Step | None) -> tuple[int, Any]:
        p = call.params
        if p.get("api_id") != self.api_id:
            return self._refused(p, 200)
        if p.get("from") and p["from"] not in self.senders:
            return self._refused(p, 204)
        phone, text = p.get("to", "").lstrip("+"), p.get("msg", "")
        if not text:
            return self._refused(p, 203)
        entry: dict[str, Any]
        if step is not None and int(step.value) in SMSRU_REQUEST_LEVEL:
            return self._refused(p, int(step.value), self._echo(text))
        if not PHONE_DIGITS.fullmatch(phone):
            entry = {"status": "ERROR", "status_code": 202, "status_text": SMSRU_TEXTS[202]}
        elif step is not None:
            code = int(step.value)
            entry = {
                "status": "ERROR",
                "status_code": code,
                "status_text": SMSRU_TEXTS.get(code, "") + self._echo(text),
            }
        else:
            sms_id = self._take(
                phone, text, sender=p.get("from"), message_id=lambda n: f"000000-{10000000 + n}"
            )
            entry = {"status": "OK", "status_code": 100, "sms_id": sms_id}
        return self._answer(
            p, {"status": "OK", "status_code": 100, "sms": {phone: entry}, "balance": 4122.56}
        )


# --- SMS Aero ------------------------------------------------------------------------------------------------
class FakeSmsAero(FakeGateway):
    name = "smsaero"
    send_path = "/v2/sms/send"
    EMAIL, API_KEY, SIGN = "sms@eirc.example", "smsaero-api-key-0123456789abcdef", "MosOblEIRC"

    def __init__(self) -> None:
        self.email, self.api_key, self.signs = self.EMAIL, self.API_KEY, {self.SIGN}
        super().__init__()

    def routes(self) -> dict[str, Callable[[Call, _Step | None], tuple[int, Any]]]:
        return {self.send_path: self._send}

    def _send(self, call: Call, step: _Step | None) -> tuple[int, Any]:
        if call.method != "POST":
            return 405, {"success": False, "data": None, "message": "Method not allowed."}
        if _basic(call.headers) != (self.email, self.api_key):
            return 401, {
                "success": False,
                "data": None,
                "message": "Your request was made with invalid credentials.",
            }
        body = call.body if isinstance(call.body, dict) else {}
        phone, text, sign = str(body.get("number", "")).lstrip("+"), body.get("text") or "", body.get("sign")
        problems = {}
        if not PHONE_DIGITS.fullmatch(phone):
            problems["number"] = ["Номер телефона указан неверно."]
        if not text:
            problems["text"] = ["Необходимо заполнить «Text»."]
        if sign not in self.signs:
            problems["sign"] = ["Подпись не одобрена."]
        if step is not None and step.value == "number":
            problems["number"] = ["Номер недоступен для отправки." + self._echo(text)]
        if problems:
            return 400, {"success": False, "data": problems, "message": "Validation error."}
        if step is not None and step.value == "no-money":
            return 200, {
                "success": False,
                "data": None,
                "message": "Not enough money on the balance." + self._echo(text),
            }
        if step is not None and step.value == "limit":
            return 200, {"success": False, "data": None, "message": "Limit exceeded, try again later."}
        message_id = self._take(phone, text, sender=sign)
        data = {
            "id": int(message_id), "from": sign, "number": phone, "text": text, "status": 0,
            "extendStatus": "queue", "channel": "DIRECT", "cost": 4.99, "dateCreate": int(time.time()),
            "dateSend": int(time.time()),
        }  # fmt: skip
        return 200, {"success": True, "data": data, "message": None}


# --- MTS Exolve ----------------------------------------------------------------------------------------------
class FakeExolve(FakeGateway):
    name = "exolve"
    send_path = "/messaging/v1/SendSMS"
    API_KEY, SENDER = "exolve-app-key-0123", "MosOblEIRC"

    def __init__(self) -> None:
        self.api_key, self.senders = self.API_KEY, {self.SENDER}
        super().__init__()

    def routes(self) -> dict[str, Callable[[Call, _Step | None], tuple[int, Any]]]:
        return {self.send_path: self._send}

    @staticmethod
    def _error(status: int, message: str) -> tuple[int, Any]:
        return status, {"error": {"code": status, "message": message, "details": []}}

    def _send(self, call: Call, step: _Step | None) -> tuple[int, Any]:
        if call.method != "POST":
            return self._error(405, "method not allowed")
        if call.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Unauthorized")
        body = call.body if isinstance(call.body, dict) else {}
        sender, phone, text = body.get("number"), str(body.get("destination", "")), body.get("text") or ""
        if sender not in self.senders:
            return self._error(400, "number: unknown sender")
        if not PHONE_DIGITS.fullmatch(phone) or not text:
            return self._error(400, "destination: invalid phone number" if text else "text: required")
        if step is not None:
            if step.value == "destination":
                return self._error(400, "destination: the number cannot receive messages" + self._echo(text))
            if step.value == "no-money":
                return self._error(402, "insufficient funds")
            if step.value == "busy":
                return self._error(429, "too many requests")
            if step.value == "no-id":
                return 200, {}
        return 200, {"message_id": self._take(phone, text, sender=sender, message_id=lambda n: f"5{n:011d}")}


GATEWAY_FAKES: dict[str, type[FakeGateway]] = {
    "smsc": FakeSmsc,
    "smsru": FakeSmsRu,
    "smsaero": FakeSmsAero,
    "exolve": FakeExolve,
}


def gateway_settings(fake: FakeGateway, **overrides: Any) -> dict[str, Any]:
    """Settings overrides that send SMS through `fake` with the credentials it expects."""
    values: dict[str, Any] = {"sms_provider": fake.name, "sms_url": fake.url, "delivery_timeout_seconds": 1}
    if isinstance(fake, FakeSmsc):
        values.update(sms_login=fake.login, sms_token=fake.password, sms_sender="MosOblEIRC")
    elif isinstance(fake, FakeSmsRu):
        values.update(sms_token=fake.api_id, sms_sender="MosOblEIRC")
    elif isinstance(fake, FakeSmsAero):
        values.update(sms_login=fake.email, sms_token=fake.api_key, sms_sender=FakeSmsAero.SIGN)
    elif isinstance(fake, FakeExolve):
        values.update(sms_token=fake.api_key, sms_sender=FakeExolve.SENDER)
    values.update(overrides)
    return values


def _fixture(kind: type[FakeGateway]) -> Iterator[FakeGateway]:
    fake = kind()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def smsc() -> Iterator[FakeGateway]:
    yield from _fixture(FakeSmsc)


@pytest.fixture
def smsru() -> Iterator[FakeGateway]:
    yield from _fixture(FakeSmsRu)


@pytest.fixture
def smsaero() -> Iterator[FakeGateway]:
    yield from _fixture(FakeSmsAero)


@pytest.fixture
def exolve() -> Iterator[FakeGateway]:
    yield from _fixture(FakeExolve)
