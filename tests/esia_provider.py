"""A local ЕСИА for the Госуслуги tests — the protocol of INTEGRATIONS.md §1 on a plain threaded HTTP server on
127.0.0.1 (random port), checking what the real one checks, with OpenSSL's GOST engine (not eirc's code) as
the verifier of every signature.

Key material (`esia_material`, made once per test session with `openssl` and `cryptography`, never
committed): the system's GOST key and certificate (paramset A), a second GOST key (a wrong one), ЕСИА's RSA
token key and certificate, ЕСИА's GOST token key and certificate, and an RSA key that is not ЕСИА's.

Endpoints:
- `GET /aas/oauth2/v2/ac` — a client_id registered, the redirect URI registered for it (else 400 and no
  redirect), response_type=code, a UUID state, a timestamp within `max_skew` of the provider's clock, a
  `client_certificate_hash` naming a registered certificate (hex Streebog-256 of its DER), and
  `client_secret` verifying — `openssl dgst -engine gost -md_gost12_256 -verify` — over
  client_id + scope + timestamp + state + redirect_uri. Then 302 to the redirect URI with `code` and `state`
  for `provider.person` (None: the resident declines, `error=access_denied`); a refusal after the redirect URI
  was validated is a redirect with `error=invalid_request` and ESIA-style `error_description`.
- `POST /aas/oauth2/v3/te` — the same checks with the code appended to the signed text, the code single-use
  and the client's and redirect URI's; answers `access_token` (RS256 or GOST3410_2012_256, `urn:esia:sbj_id`
  numeric, `client_id`, no nonce), `id_token` (`sub` the oid as a string, `aud`), `state` echoed.
- `GET /rs/prns/{oid}`, `/rs/prns/{oid}/ctts?embed=(elements)` (links without `embed`), `/rs/prns/{oid}/ctts/{id}`
  — with the access token issued for that oid.

Switches: `person`, `persons`, `down()`/`up()`, `skew` (seconds added to the provider's clock), `token_alg`,
`issuer`, `audience`, `client_id_claim`, `token_lifetime`, `sign_with_other_key`, `id_token`, `subject`
(override the subject put in tokens), `state_echo`, `token_mode` ("ok", "error_500", "garbage"),
`rest_mode` ("ok", "error_500", "garbage", "forbidden"), `contacts_as_links`. `refusals` lists why each
request was refused; `received(path)` what arrived. The provider's clock is `provider.now` (seconds).
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.peers import ThreadedHttpPeer

CLIENT_ID = "EIRC01"
REDIRECT_URI = "http://testserver/auth/gosuslugi/callback"
ISSUER = "http://esia.gosuslugi.ru/"
OID = "1000404446"
PROVIDER_PHONE = "+79167654321"
OMIT = "<omit>"  # a claim switch set to this leaves the claim out


# --- key material -------------------------------------------------------------------------------------------
def openssl(*args: str, data: bytes | None = None) -> bytes:
    result = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def gost_key_and_certificate(
    directory: Path, name: str, *, subject: str, days: int = 30
) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key.pem", directory / f"{name}.cert.pem"
    openssl(
        "req",
        "-x509",
        "-engine",
        "gost",
        "-newkey",
        "gost2012_256",
        "-pkeyopt",
        "paramset:A",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-utf8",
        "-subj",
        subject,
        "-days",
        str(days),
    )
    return key, cert


def rsa_key_and_certificate(directory: Path, name: str, *, subject: str) -> tuple[rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name_ = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name_)
        .issuer_name(name_)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.cert.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, path


def public_key_pem(cert: Path, directory: Path) -> Path:
    path = directory / (cert.name + ".pub.pem")
    path.write_bytes(openssl("x509", "-engine", "gost", "-in", str(cert), "-pubkey", "-noout"))
    return path


def certificate_hash(cert: Path) -> str:
    """What ЕСИА matches `client_certificate_hash` with: OpenSSL's Streebog-256 of the DER bytes."""
    der = openssl("x509", "-in", str(cert), "-outform", "DER")
    return openssl("dgst", "-engine", "gost", "-md_gost12_256", "-hex", data=der).decode().split()[-1].lower()


@dataclass(frozen=True)
class Material:
    directory: Path
    client_key: Path
    client_cert: Path
    other_key: Path  # a GOST key that is not the certificate's
    other_cert: Path
    esia_rsa_key: rsa.RSAPrivateKey
    esia_rsa_cert: Path
    esia_gost_key: Path
    esia_gost_cert: Path
    forger_rsa_key: rsa.RSAPrivateKey


@pytest.fixture(scope="session", name="esia_material")
def esia_material_fixture(tmp_path_factory: pytest.TempPathFactory) -> Material:
    d = tmp_path_factory.mktemp("esia")
    client_key, client_cert = gost_key_and_certificate(d, "client", subject="/CN=EIRC01/O=МосОблЕИРЦ")
    other_key, other_cert = gost_key_and_certificate(d, "other", subject="/CN=Someone else")
    esia_rsa_key, esia_rsa_cert = rsa_key_and_certificate(d, "esia-rsa", subject="ЕСИА (тест)")
    esia_gost_key, esia_gost_cert = gost_key_and_certificate(d, "esia-gost", subject="/CN=ESIA GOST test")
    forger_rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Material(
        d,
        client_key,
        client_cert,
        other_key,
        other_cert,
        esia_rsa_key,
        esia_rsa_cert,
        esia_gost_key,
        esia_gost_cert,
        forger_rsa_key,
    )


# --- people ---------------------------------------------------------------------------------------------
def contact(kind: str, value: str, verified: bool = True, contact_id: int = 0) -> dict[str, Any]:
    return {
        "stateFacts": ["Identifiable"],
        "id": contact_id,
        "type": kind,
        "vrfStu": "VERIFIED" if verified else "NOT_VERIFIED",
        "value": value,
        "eTag": secrets.token_hex(8),
    }


@dataclass
class EsiaPerson:
    oid: str = OID
    last_name: Any = "Петров"
    first_name: Any = "Иван"
    middle_name: Any = "Сергеевич"
    birth_date: Any = "12.04.1985"
    trusted: bool = True
    contacts: list[dict[str, Any]] = field(
        default_factory=lambda: [
            contact("EML", "ivan.petrov@gosuslugi.example", True, 14216),
            contact("MBT", "+7(916)7654321", True, 14217),
        ]
    )

    def document(self) -> dict[str, Any]:
        doc = {"stateFacts": ["EntityRoot"], "eTag": "E1", "trusted": self.trusted, "citizenship": "RUS"}
        for key, value in (
            ("lastName", self.last_name),
            ("firstName", self.first_name),
            ("middleName", self.middle_name),
            ("birthDate", self.birth_date),
        ):
            if value is not None:
                doc[key] = value
        return doc


# --- HTTP -------------------------------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    provider: FakeEsia


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.server.provider._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.provider._handle(self, "POST")

    def reply(self, status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()  # \uXXXX: lone surrogates too
        self.send_response(status)
        if not any(name.lower() == "content-type" for name, _ in headers or []):
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        for name, value in headers or []:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class Received:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scope: str
    oid: str
    used: bool = False


class Refused(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeEsia(ThreadedHttpPeer):
    server_class = _Server
    handler_class = _Handler

    def __init__(self, material: Material, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, 0
        self.material = material
        self.now: Callable[[], float] = time.time
        self.skew = 0.0
        self.max_skew = 300
        self.clients: dict[str, list[str]] = {CLIENT_ID: [REDIRECT_URI]}
        # registered certificates, found by their hash: hash → the public key (PEM file) OpenSSL verifies with
        self.certificates: dict[str, Path] = {
            certificate_hash(material.client_cert): public_key_pem(material.client_cert, material.directory)
        }
        self.persons: dict[str, EsiaPerson] = {OID: EsiaPerson()}
        self.person: str | None = OID  # who signs in at /ac
        self.token_alg = "RS256"
        self.issuer = ISSUER
        self.audience: Any = None  # None: our client id
        self.client_id_claim: Any = None
        self.token_lifetime = 3600
        self.sign_with_other_key = False
        self.id_token = True
        self.subject: Any = None  # None: the person's oid
        self.state_echo: str | None = None  # None: the request's
        self.token_mode = "ok"
        self.rest_mode = "ok"
        self.contacts_as_links = False
        self.codes: dict[str, _Code] = {}
        self.access_tokens: dict[str, str] = {}
        self.requests: list[Received] = []
        self.refusals: list[str] = []
        self.verified_signatures: list[str] = []  # the texts whose signature verified
        self._lock = threading.Lock()
        self.up()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    # --- the checks ---
    def _verify_secret(self, params: dict[str, str], *, with_code: bool) -> None:
        for name in (
            "client_id",
            "client_secret",
            "redirect_uri",
            "scope",
            "state",
            "timestamp",
            "client_certificate_hash",
        ):
            if not params.get(name):
                raise Refused("invalid_request", f"ESIA-007014: the request does not contain {name}")
        if params["client_id"] not in self.clients:
            raise Refused("unauthorized_client", "ESIA-007002: unknown client_id")
        try:
            uuid.UUID(params["state"])
        except ValueError:
            raise Refused("invalid_request", "ESIA-007004: state is not a UUID") from None
        try:
            stamp = datetime.strptime(params["timestamp"], "%Y.%m.%d %H:%M:%S %z").timestamp()
        except ValueError:
            raise Refused("invalid_request", "ESIA-007005: timestamp is not yyyy.MM.dd HH:mm:ss Z") from None
        if abs(stamp - (self.now() + self.skew)) > self.max_skew:
            raise Refused("invalid_request", "ESIA-007005: timestamp is stale")
        public_key = self.certificates.get(params["client_certificate_hash"].lower())
        if public_key is None:
            raise Refused("invalid_client", "ESIA-007053: clientSecretWrong (unknown certificate hash)")
        text = (
            params["client_id"]
            + params["scope"]
            + params["timestamp"]
            + params["state"]
            + params["redirect_uri"]
        )
        if with_code:
            text += params.get("code", "")
        try:
            signature = _b64url_decode(params["client_secret"])
        except ValueError:
            raise Refused("invalid_client", "ESIA-007053: clientSecretWrong (not base64url)") from None
        if not openssl_verifies(public_key, text.encode(), signature):
            raise Refused("invalid_client", "ESIA-007053: clientSecretWrong (signature)")
        with self._lock:
            self.verified_signatures.append(text)

    # --- endpoints ---
    def _handle(self, handler: _Handler, method: str) -> None:
        parts = urlsplit(handler.path)
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            raw = handler.rfile.read(length).decode() if length else ""
            params = dict(parse_qsl(raw, keep_blank_values=True))
        else:
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self._lock:
            self.requests.append(
                Received(method, parts.path, params, {k.lower(): v for k, v in handler.headers.items()})
            )
        path = parts.path
        if path == "/aas/oauth2/v2/ac" and method == "GET":
            self._authorize(handler, params)
        elif path == "/aas/oauth2/v3/te" and method == "POST":
            self._token(handler, params)
        elif path.startswith("/rs/prns/") and method == "GET":
            self._rest(handler, path, params)
        else:
            handler.reply(404, {"error": "not_found"})

    def _refuse(self, why: str) -> None:
        with self._lock:
            self.refusals.append(why)

    def _authorize(self, handler: _Handler, params: dict[str, str]) -> None:
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in self.clients.get(params.get("client_id", ""), []):
            self._refuse("redirect_uri")
            handler.reply(
                400,
                b"<html>ESIA-007009: redirect_uri is not registered</html>",
                [("Content-Type", "text/html")],
            )
            return
        state = params.get("state", "")
        try:
            if params.get("response_type") != "code":
                raise Refused("unsupported_response_type", "ESIA-007003: response_type")
            if params.get("access_type") not in ("online", "offline"):
                raise Refused("invalid_request", "ESIA-007014: access_type")
            self._verify_secret(params, with_code=False)
        except Refused as refused:
            self._refuse(refused.description)
            query = {"error": refused.error, "error_description": refused.description, "state": state}
            handler.reply(302, b"", [("Location", f"{redirect_uri}?{urlencode(query)}")])
            return
        if self.person is None:
            query = {"error": "access_denied", "error_description": "ESIA-007007: declined", "state": state}
            handler.reply(302, b"", [("Location", f"{redirect_uri}?{urlencode(query)}")])
            return
        code = _b64url(secrets.token_bytes(48))
        self.codes[code] = _Code(params["client_id"], redirect_uri, params["scope"], self.person)
        handler.reply(302, b"", [("Location", f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")])

    def _token(self, handler: _Handler, params: dict[str, str]) -> None:
        if self.token_mode == "error_500":
            handler.reply(500, b"Internal Server Error", [("Content-Type", "text/plain")])
            return
        if self.token_mode == "garbage":
            handler.reply(200, b"<html>maintenance</html>", [("Content-Type", "text/html")])
            return
        try:
            if params.get("grant_type") != "authorization_code" or params.get("token_type") != "Bearer":
                raise Refused("unsupported_grant_type", "ESIA-007014: grant_type / token_type")
            self._verify_secret(params, with_code=True)
            code = self.codes.get(params.get("code", ""))
            if (
                code is None
                or code.used
                or code.client_id != params["client_id"]
                or code.redirect_uri != params["redirect_uri"]
            ):
                raise Refused("invalid_grant", "ESIA-007004: the code is unknown, used or not this client's")
            code.used = True
        except Refused as refused:
            self._refuse(refused.description)
            handler.reply(
                400,
                {
                    "error": refused.error,
                    "error_description": refused.description,
                    "state": params.get("state"),
                },
            )
            return
        now = int(self.now())
        subject = code.oid if self.subject is None else self.subject
        access = self.sign_jwt(
            {
                "nbf": now,
                "scope": f"{code.scope}?oid={code.oid}",
                "iss": self.issuer,
                "urn:esia:sid": secrets.token_hex(16),
                "urn:esia:sbj_id": int(subject)
                if isinstance(subject, str) and subject.isdigit()
                else subject,
                "exp": now + self.token_lifetime,
                "iat": now,
                "client_id": params["client_id"] if self.client_id_claim is None else self.client_id_claim,
            }
        )
        self.access_tokens[access] = code.oid
        answer: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.token_lifetime,
            "state": params["state"] if self.state_echo is None else self.state_echo,
            "token_type": "Bearer",
            "refresh_token": str(uuid.uuid4()),
        }
        if self.id_token:
            answer["id_token"] = self.sign_jwt(
                {
                    "iss": self.issuer,
                    "sub": subject,
                    "aud": self.audience or params["client_id"],
                    "exp": now + self.token_lifetime,
                    "iat": now,
                    "auth_time": now,
                    "amr": "PWD",
                    "urn:esia:amd": "PWD",
                    "urn:esia:sid": secrets.token_hex(16),
                }
            )
        handler.reply(200, answer)

    def sign_jwt(self, claims: dict[str, Any]) -> str:
        claims = {k: v for k, v in claims.items() if v != OMIT}
        header = {"alg": self.token_alg, "typ": "JWT", "sbt": "access", "ver": 1}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        if self.token_alg == "GOST3410_2012_256":
            signature = openssl(
                "dgst",
                "-engine",
                "gost",
                "-md_gost12_256",
                "-sign",
                str(self.material.esia_gost_key),
                data=signing_input.encode(),
            )
        else:
            key = self.material.forger_rsa_key if self.sign_with_other_key else self.material.esia_rsa_key
            signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def _rest(self, handler: _Handler, path: str, params: dict[str, str]) -> None:
        if self.rest_mode == "error_500":
            handler.reply(500, {"error": "internal"})
            return
        if self.rest_mode == "garbage":
            handler.reply(200, b"<html>", [("Content-Type", "text/html")])
            return
        scheme, _, token = (handler.headers.get("Authorization") or "").partition(" ")
        oid = self.access_tokens.get(token) if scheme == "Bearer" else None
        segments = path.strip("/").split("/")  # rs prns {oid} [ctts [id]]
        if oid is None or len(segments) < 3 or segments[2] != oid or self.rest_mode == "forbidden":
            handler.reply(401 if self.rest_mode != "forbidden" else 403, {"code": "ESIA-020101"})
            return
        person = self.persons[oid]
        if len(segments) == 3:
            handler.reply(200, person.document())
        elif segments[3:] == ["ctts"]:
            embedded = params.get("embed") == "(elements)" and not self.contacts_as_links
            elements = (
                person.contacts
                if embedded
                else [f"{self.url}/rs/prns/{oid}/ctts/{c['id']}" for c in person.contacts]
            )
            handler.reply(200, {"stateFacts": ["hasSize"], "size": len(elements), "elements": elements})
        elif len(segments) == 5 and segments[3] == "ctts":
            found = [c for c in person.contacts if str(c["id"]) == segments[4]]
            handler.reply(200, found[0]) if found else handler.reply(404, {"code": "ESIA-020404"})
        else:
            handler.reply(404, {"code": "ESIA-020404"})


def openssl_verifies(public_key_pem: Path, data: bytes, signature: bytes) -> bool:
    """OpenSSL's GOST engine — not eirc — says whether `signature` is the key's over Streebog-256 of `data`."""
    with tempfile.TemporaryDirectory() as d:
        message, sig = Path(d) / "message", Path(d) / "signature"
        message.write_bytes(data)
        sig.write_bytes(signature)
        result = subprocess.run(
            [
                "openssl",
                "dgst",
                "-engine",
                "gost",
                "-md_gost12_256",
                "-verify",
                str(public_key_pem),
                "-signature",
                str(sig),
                str(message),
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
    return result.returncode == 0 and b"Verified OK" in result.stdout


# --- the browser's part ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Callback:
    url: str
    code: str | None
    state: str | None
    error: str | None
    error_description: str | None = None


def follow_authorize(url: str) -> Callback:
    """Open ЕСИА's authorization URL as a browser would (no login screen: it redirects at once)."""
    response = httpx.get(url, follow_redirects=False, timeout=30)
    assert response.status_code == 302, (response.status_code, response.text)
    location = response.headers["location"]
    query = parse_qs(urlsplit(location).query)

    def one(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    return Callback(location, one("code"), one("state"), one("error"), one("error_description"))


def authorize_params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# --- fixtures ---------------------------------------------------------------------------------------------
@pytest.fixture(name="esia_provider")
def esia_provider_fixture(clock: Any, esia_material: Material) -> Iterator[FakeEsia]:
    provider = FakeEsia(esia_material)
    provider.now = lambda: clock.now().timestamp()  # timestamps and tokens follow the test's frozen clock
    try:
        yield provider
    finally:
        provider.down()


def esia_settings_for(provider: FakeEsia, material: Material, **extra: Any) -> dict[str, Any]:
    return {
        "esia_url": provider.url,
        "esia_client_id": CLIENT_ID,
        "esia_key_file": str(material.client_key),
        "esia_cert_file": str(material.client_cert),
        "esia_token_cert_file": f"{material.esia_rsa_cert},{material.esia_gost_cert}",
        **extra,
    }


@pytest.fixture(name="esia_settings")
def esia_settings_fixture(esia_provider: FakeEsia, esia_material: Material) -> dict[str, Any]:
    return esia_settings_for(esia_provider, esia_material)


__all__ = [
    "CLIENT_ID",
    "OID",
    "OMIT",
    "PROVIDER_PHONE",
    "Callback",
    "EsiaPerson",
    "FakeEsia",
    "Material",
    "authorize_params",
    "certificate_hash",
    "contact",
    "esia_material_fixture",
    "esia_provider_fixture",
    "esia_settings_fixture",
    "follow_authorize",
    "openssl",
    "openssl_verifies",
]
