"""Real local peers for tests: the SMS provider and «Домопульт» over HTTP, and an SMTP server.

Loaded for every test by `pytest_plugins = ["tests.providers"]` in tests/conftest.py. Fixtures:

- `provider` — a `FakeProvider`: an HTTP server on 127.0.0.1 (random port) in a background thread that
  plays the SMS provider (`POST /sms`) and «Домопульт» (`POST /crm`). It records every request (path,
  headers incl. `Idempotency-Key` and `Authorization`, JSON body, the status it answered), honours the
  idempotency key like a real provider (a repeated key is answered 200 and marked `duplicate`), and can be
  told to fail: `fail_next(n, 503 | 429 | 400 …)`, `down()` / `up()` (stops listening: connection
  refused), `slow(seconds)`, `refuse_in_body(n, body)` (HTTP 200 whose JSON `body` says it refused, which
  a relay may do: not accepted). Helpers: `last_code(phone)`, `sms_messages(phone)`, `crm_messages(type)`,
  `received(path)`, `accepted(path)`, `keys(path)`, `wait_until(predicate)`.
- `smtp_sink` — an `SmtpSink` (aiosmtpd `Controller`) recording letters; `messages_to(addr)`,
  `last_message(addr)`, `text_of(msg)`, `confirmation_link(addr)`, `confirmation_token(addr)`,
  `fail_next_rcpt(n, "550 …")`.
- `provider_settings` — settings overrides pointing SMS, «Домопульт» and SMTP at these peers. To build the
  `container` with them, override `settings_overrides` in a test module:

      @pytest.fixture
      def settings_overrides(provider_settings):
          return provider_settings

- `deliver` — `await deliver()` runs one pass of the delivery worker over the `container` (adapters from
  its settings) and returns the `RunResult` (claimed, sent, retried, dead, expired). With the frozen clock a
  retry is due only after `clock.advance(...)`.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.peers import ThreadedHttpPeer

SMS_PATH = "/sms"
CRM_PATH = "/crm"
SMS_TOKEN = "test-sms-token"
CRM_TOKEN = "test-crm-token"
MAIL_FROM = "МосОблЕИРЦ <noreply@eirc.test>"


# --- HTTP: the SMS provider and «Домопульт» ------------------------------------------------------------
@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or None
    raw: bytes
    status: int  # what the provider answered
    duplicate: bool = False  # a 2xx for a key that had already been accepted
    refused: bool = False  # a 2xx whose body said it refused (refuse_in_body)
    at: float = field(default_factory=time.monotonic)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class _Failure:
    remaining: int
    status: int
    path: str | None
    retry_after: str | None
    body: dict | None = None  # refuse_in_body: the 200 answer's JSON


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # socketserver's default backlog (5) drops concurrent connects
    provider: FakeProvider


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: `down()` really refuses the next one
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

    def do_POST(self) -> None:
        self.server.provider._handle(self)

    def do_GET(self) -> None:
        self._reply(404, {"error": "not found"})

    def _reply(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


class FakeProvider(ThreadedHttpPeer):
    """The SMS provider (`/sms`) and «Домопульт» (`/crm`) on one local HTTP server."""

    server_class = _Server
    handler_class = _Handler

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._accepted_keys: set[tuple[str, str]] = set()
        self._delay = 0.0
        self._arrived = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.up()

    # --- lifecycle ---
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def sms_url(self) -> str:
        return self.url + SMS_PATH

    @property
    def crm_url(self) -> str:
        return self.url + CRM_PATH

    @property
    def is_up(self) -> bool:
        return self._server is not None

    # --- behaviour ---
    def fail_next(
        self, n: int, status: int = 503, *, path: str | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next `n` requests (to `path`, or any) with `status`."""
        with self._lock:
            self._failures.append(
                _Failure(n, status, path, str(retry_after) if retry_after is not None else None)
            )

    def refuse_in_body(self, n: int, body: dict, *, path: str | None = SMS_PATH) -> None:
        """Answer the next `n` requests (to `path`) HTTP 200 with `body`, a refusal: nothing is accepted."""
        with self._lock:
            self._failures.append(_Failure(n, 200, path, None, body))

    def slow(self, seconds: float) -> None:
        """Wait this long before answering every request (0 to stop)."""
        self._delay = seconds

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._failures.clear()
            self._accepted_keys.clear()
            self._arrived = 0
        self._delay = 0.0

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in handler.headers.items()}
        path = handler.path
        with self._lock:
            self._arrived += 1
        if self._delay:
            time.sleep(self._delay)
        with self._lock:
            failure = next(
                (f for f in self._failures if f.remaining > 0 and (f.path is None or f.path == path)), None
            )
            if failure is not None:
                failure.remaining -= 1
                status, extra = (
                    failure.status,
                    {"Retry-After": failure.retry_after} if failure.retry_after else {},
                )
                duplicate = False
                refusal = failure.body
            elif path not in (SMS_PATH, CRM_PATH):
                status, extra, duplicate, refusal = 404, {}, False, None
            else:
                key = headers.get("idempotency-key") or ""
                duplicate = (path, key) in self._accepted_keys
                self._accepted_keys.add((path, key))
                status, extra, refusal = 200, {}, None
            self._requests.append(
                RecordedRequest(path, headers, body, raw, status, duplicate, refused=refusal is not None)
            )
        if refusal is not None:
            handler._reply(status, refusal, extra)
        elif 200 <= status < 300:
            key = headers.get("idempotency-key")
            handler._reply(status, {"id": key, "status": "duplicate" if duplicate else "accepted"}, extra)
        else:
            handler._reply(status, {"error": f"fake provider says {status}"}, extra)

    # --- what arrived ---
    def arrived(self) -> int:
        """Requests that reached the server, including those still being answered (see `slow`)."""
        with self._lock:
            return self._arrived

    def received(self, path: str | None = None) -> list[RecordedRequest]:
        """Every request (to `path`), failed ones included."""
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def accepted(self, path: str | None = None) -> list[RecordedRequest]:
        """Requests answered 2xx for a key not accepted before: what a resident or Домопульт really got."""
        return [r for r in self.received(path) if r.ok and not r.duplicate and not r.refused]

    def keys(self, path: str | None = None) -> Counter:
        """How many requests arrived per idempotency key (failed ones included)."""
        return Counter(r.idempotency_key for r in self.received(path))

    def sms_messages(self, phone: str | None = None) -> list[dict]:
        return [r.body for r in self.accepted(SMS_PATH) if phone is None or r.body.get("phone") == phone]

    def last_sms(self, phone: str) -> str:
        messages = self.sms_messages(phone)
        if not messages:
            raise AssertionError(f"no SMS was delivered to {phone}")
        return messages[-1]["text"]

    def last_code(self, phone: str, length: int | None = None) -> str:
        """The code in the last SMS delivered to `phone` (the only run of digits, of `length` if given)."""
        text = self.last_sms(phone)
        runs = re.findall(r"\d+", text)
        if length is not None:
            runs = [r for r in runs if len(r) == length]
        if len(runs) != 1:
            raise AssertionError(f"expected exactly one code in the SMS, got {runs!r}: {text!r}")
        return runs[0]

    def crm_messages(self, type: str | None = None) -> list[dict]:
        return [r.body for r in self.accepted(CRM_PATH) if type is None or r.body.get("type") == type]

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05
    ) -> None:
        """Block until `predicate()` holds (for tests that run a real worker process)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            time.sleep(interval)


# --- SMTP --------------------------------------------------------------------------------------------------
@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated_as: str | None
    tls: bool


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every letter. Optionally STARTTLS and AUTH."""

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        from aiosmtpd.controller import Controller

        self.host = "127.0.0.1"
        self.port = free_port()
        self._lock = threading.Lock()
        self.messages: list[ReceivedMail] = []
        self._rcpt_failures: list[list] = []
        self._credentials = credentials
        kwargs: dict[str, Any] = {}
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        if credentials is not None:
            kwargs.update(
                authenticator=self._authenticate, auth_required=True, auth_require_tls=tls_context is not None
            )
        self.controller = Controller(self, hostname=self.host, port=self.port, **kwargs)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()

    def fail_next_rcpt(self, n: int, reply: str = "451 4.3.0 try again later") -> None:
        """Answer RCPT TO of the next `n` letters with `reply` (4xx temporary, 5xx permanent)."""
        with self._lock:
            self._rcpt_failures.append([n, reply])

    # aiosmtpd hooks
    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword) or self._credentials is None:
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        ok = (login, password) == self._credentials
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            failure = next((f for f in self._rcpt_failures if f[0] > 0), None)
            if failure is not None:
                failure[0] -= 1
                return failure[1]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        auth = session.auth_data if isinstance(session.auth_data, str) else None
        with self._lock:
            self.messages.append(
                ReceivedMail(
                    envelope.mail_from, list(envelope.rcpt_tos), message, auth, session.ssl is not None
                )
            )
        return "250 Message accepted for delivery"

    # what arrived
    def messages_to(self, address: str) -> list[ReceivedMail]:
        with self._lock:
            return [m for m in self.messages if address in m.rcpt_tos]

    def last_message(self, address: str) -> ReceivedMail:
        found = self.messages_to(address)
        if not found:
            raise AssertionError(f"no letter was delivered to {address}")
        return found[-1]

    @staticmethod
    def text_of(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""

    def confirmation_link(self, address: str) -> str:
        """The `…/confirm-email?token=…` link of the last letter to `address`."""
        text = self.text_of(self.last_message(address).message)
        match = re.search(r"https?://[^\s\"'<>]+/confirm-email\?token=[A-Za-z0-9_\-.~%]+", text)
        if match is None:
            raise AssertionError(f"no confirmation link in the letter: {text!r}")
        return match.group(0)

    def confirmation_token(self, address: str) -> str:
        return self.confirmation_link(address).split("token=", 1)[1]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            time.sleep(0.05)


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for `host` (and localhost) with its key, for STARTTLS tests: (cert.pem, key.pem)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eirc test SMTP")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(host))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


# --- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    p = FakeProvider()
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    try:
        yield sink
    finally:
        sink.close()


@pytest.fixture
def provider_settings(provider: FakeProvider, smtp_sink: SmtpSink) -> dict[str, Any]:
    """Settings overrides that send SMS, «Домопульт» and e-mail to the local peers."""
    return {
        "sms_url": provider.sms_url,
        "sms_token": SMS_TOKEN,
        "crm_url": provider.crm_url,
        "crm_token": CRM_TOKEN,
        "smtp_host": smtp_sink.host,
        "smtp_port": smtp_sink.port,
        "mail_from": MAIL_FROM,
        "delivery_timeout_seconds": 2,
    }


@pytest.fixture
def deliver(container: Any) -> Callable[[], Awaitable[Any]]:
    """`await deliver()`: one pass of the delivery worker over `container` (adapters from its settings)."""
    from eirc.delivery.adapters import build_adapters, close_adapters
    from eirc.delivery.worker import DeliveryWorker

    async def run_once() -> Any:
        adapters = build_adapters(container.settings)
        try:
            return await DeliveryWorker(container, adapters).run_once()
        finally:
            await close_adapters(adapters)

    return run_once
