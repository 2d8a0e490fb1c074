"""A local OpenID Connect provider for the Госуслуги tests — authlib's server side on a plain threaded HTTP
server on 127.0.0.1 (random port), with its own RSA key and JWKS.

The protocol is authlib's: `AuthorizationServer`, `AuthorizationCodeGrant`, `CodeChallenge` (PKCE, here
required and S256 only: the provider refuses a client that does not send it) and the OpenID Connect
`OpenIDCode` extension (ID token, nonce required). What this module adds is storage in memory, the HTTP
glue, and switches to misbehave.

Endpoints: `/.well-known/openid-configuration`, `/jwks`, `/authorize` (no login screen: it answers at once
with a redirect carrying a code for `provider.person`, or `error=access_denied` when `person` is None),
`/token` (client_secret_basic or client_secret_post), `/userinfo` (bearer).

Switches: `person`, `down()` / `up()` (connection refused), `discovery_mode` ("ok", "garbage", "not_json",
"wrong_issuer", "error_500"), `token_mode` ("ok", "error_500", "garbage"), `sign_with_other_key()` (a key
not in the JWKS, same kid), `rotate_key()` (a new key and kid, published), `audience`, `issuer_claim`,
`nonce_override`, `claims_in_id_token` (False: only `sub` in the ID token, the rest at /userinfo),
`auth_methods` (what discovery announces and the client may use), `id_token_lifetime`. The provider's
clock is `provider.now` (seconds since the epoch), so tokens can follow a test's frozen clock.

Fixtures: `oidc_provider` (started and stopped per test) and `oidc_settings` (EIRC_OIDC_* pointing at it);
a test module imports `oidc_provider_fixture` and `oidc_settings_fixture` to use them.
The browser's part (following the authorize redirect) is `follow_authorize(url)`.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import KeySet, RSAKey

from tests.peers import ThreadedHttpPeer

CLIENT_ID = "eirc-test-client"
CLIENT_SECRET = "eirc-test-client-secret"
REDIRECT_URI = "http://testserver/auth/gosuslugi/callback"
SCOPES = ("openid", "profile", "email", "phone")


@dataclass
class Person:
    """A person at the provider; the standard claims it gives (None: not given)."""

    sub: str = "esia-1000001"
    family_name: str | None = "Петров"
    given_name: str | None = "Иван"
    middle_name: str | None = "Сергеевич"
    birthdate: str | None = "1985-04-12"
    phone_number: str | None = "+7 916 765-43-21"
    phone_number_verified: bool | None = True
    email: str | None = "ivan.petrov@gosuslugi.example"
    email_verified: bool | None = True

    def claims(self, scope: str) -> dict[str, Any]:
        scopes = set(scope.split())
        wanted = {"sub"}
        if "profile" in scopes:
            wanted |= {"family_name", "given_name", "middle_name", "birthdate"}
        if "email" in scopes:
            wanted |= {"email", "email_verified"}
        if "phone" in scopes:
            wanted |= {"phone_number", "phone_number_verified"}
        return {k: getattr(self, k) for k in sorted(wanted) if getattr(self, k) is not None}


# --- keys: generating RSA keys is slow, so a few are made once per test session ---------------------------------
_KEYS: dict[str, RSAKey] = {}


def rsa_key(kid: str) -> RSAKey:
    if kid not in _KEYS:
        _KEYS[kid] = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return _KEYS[kid]


# --- authlib's models ---------------------------------------------------------------------------------------
@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    provider: LocalOidcProvider

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in self.provider.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return None


class _Request(OAuth2Request):
    def __init__(self, method: str, uri: str, headers: Any, params: dict[str, str]) -> None:
        super().__init__(method, uri, headers=headers)
        self._params = params
        self.payload = BasicOAuth2Payload(params)

    @property
    def args(self) -> dict[str, str]:
        return self._params if self.method == "GET" else {}

    @property
    def form(self) -> dict[str, str]:
        return self._params if self.method == "POST" else {}


class _CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

    @property
    def provider(self) -> LocalOidcProvider:
        return self.server.provider

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.provider.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            user=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=self.provider.now(),
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        item = self.provider.codes.get(code)
        if item is not None and item.client_id == client.get_client_id():
            return item
        return None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.provider.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Person:
        return authorization_code.user


class _StrictCodeChallenge(CodeChallenge):
    """PKCE required of every client, S256 only (RFC 9700 §2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with S256 is required")
        super().validate_code_challenge(grant, redirect_uri)


class _OpenIDCode(OpenIDCode):
    def __init__(self, provider: LocalOidcProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(c.nonce == nonce for c in self.provider.codes.values())

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.provider.signing_key

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": self.provider.signing_key.kid or ""}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        p = self.provider
        now = p.now()
        return {
            "iss": p.issuer_claim or p.issuer,
            "aud": p.audience or [client.get_client_id()],
            "iat": now,
            "exp": now + p.id_token_lifetime,
            "auth_time": now,
        }

    def get_authorization_code_claims(self, authorization_code: AuthorizationCode) -> dict[str, Any]:
        claims = super().get_authorization_code_claims(authorization_code)
        if self.provider.nonce_override is not None:
            claims["nonce"] = self.provider.nonce_override
        return claims

    def generate_user_info(self, user: Person, scope: str) -> UserInfo:
        claims = user.claims(scope)
        if not self.provider.claims_in_id_token:
            claims = {"sub": claims["sub"]}
        return UserInfo(claims)


class _AuthorizationServer(AuthorizationServer):
    def __init__(self, provider: LocalOidcProvider) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.provider = provider
        self.register_token_generator("default", BearerTokenGenerator(lambda **_kw: generate_token(42)))
        self.register_grant(_CodeGrant, [_StrictCodeChallenge(required=True), _OpenIDCode(provider)])

    def query_client(self, client_id: str) -> Client | None:
        return self.provider.clients.get(client_id)

    def save_token(self, token: dict, request: OAuth2Request) -> None:
        self.provider.access_tokens[token["access_token"]] = (request.user, token.get("scope", ""))

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list]:
        return status, body, list(headers or [])

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


# --- HTTP -------------------------------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    provider: LocalOidcProvider


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: `down()` really refuses the next one

    def do_GET(self) -> None:
        self.server.provider._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.provider._handle(self, "POST")

    def reply(self, status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> None:
        if isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        names = {name.lower() for name, _ in headers or []}
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        for name, value in headers or []:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


@dataclass
class Received:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


class LocalOidcProvider(ThreadedHttpPeer):
    server_class = _Server
    handler_class = _Handler

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.now: Callable[[], int] = lambda: int(time.time())
        self.person: Person | None = Person()
        self.discovery_mode = "ok"
        self.token_mode = "ok"
        self.auth_methods: list[str] = ["client_secret_basic", "client_secret_post"]
        self.audience: list[str] | str | None = None
        self.issuer_claim: str | None = None
        self.nonce_override: str | None = None
        self.claims_in_id_token = True
        self.id_token_lifetime = 300
        self.signing_key = rsa_key("key-1")
        self.published_keys: list[RSAKey] = [self.signing_key]
        self.codes: dict[str, AuthorizationCode] = {}
        self.access_tokens: dict[str, tuple[Person, str]] = {}
        self.clients: dict[str, Client] = {}
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.authorization_server = _AuthorizationServer(self)
        self.up()
        self.add_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])

    # --- lifecycle ---
    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_client(self, client_id: str, secret: str, redirect_uris: list[str]) -> None:
        self.clients[client_id] = Client(client_id, secret, redirect_uris, self)

    # --- misbehaviour ---
    def sign_with_other_key(self) -> None:
        """Sign ID tokens with a key that is not published (same kid as the published one: a forgery)."""
        other = rsa_key("forger")
        self.signing_key = RSAKey.import_key(other.as_dict(private=True) | {"kid": self.signing_key.kid})

    def rotate_key(self) -> None:
        """A new signing key under a new kid, published alongside the old one."""
        self.signing_key = rsa_key("key-2")
        self.published_keys = [*self.published_keys, self.signing_key]

    # --- what arrived ---
    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    # --- endpoints ---
    def discovery(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": base + "/authorize",
            "token_endpoint": base + "/token",
            "userinfo_endpoint": base + "/userinfo",
            "jwks_uri": base + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(SCOPES),
            "token_endpoint_auth_methods_supported": list(self.auth_methods),
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                *sorted(Person().claims("x profile email phone")),
            ],
        }

    def _handle(self, handler: _Handler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = parts.path
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            raw = handler.rfile.read(length).decode() if length else ""
            params = dict(parse_qsl(raw, keep_blank_values=True))
        else:
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self._lock:
            self.requests.append(
                Received(method, path, params, {k.lower(): v for k, v in handler.headers.items()})
            )
        uri = self.issuer + handler.path
        if path == "/.well-known/openid-configuration" and method == "GET":
            self._discovery(handler)
        elif path == "/jwks" and method == "GET":
            handler.reply(200, KeySet(list(self.published_keys)).as_dict(private=False))
        elif path == "/authorize" and method == "GET":
            self._authorize(handler, _Request("GET", uri, handler.headers, params))
        elif path == "/token" and method == "POST":
            self._token(handler, _Request("POST", uri, handler.headers, params))
        elif path == "/userinfo" and method == "GET":
            self._userinfo(handler)
        else:
            handler.reply(404, {"error": "not_found"})

    def _discovery(self, handler: _Handler) -> None:
        mode = self.discovery_mode
        if mode == "garbage":
            handler.reply(200, {"hello": "world", "issuer": self.issuer, "jwks_uri": 42})
        elif mode == "not_json":
            handler.reply(200, b"<html>maintenance</html>", [("Content-Type", "text/html")])
        elif mode == "wrong_issuer":
            handler.reply(200, {**self.discovery(), "issuer": "https://evil.example"})
        elif mode == "error_500":
            handler.reply(500, {"error": "server_error"})
        else:
            handler.reply(200, self.discovery())

    def _authorize(self, handler: _Handler, request: _Request) -> None:
        server = self.authorization_server
        try:
            grant = server.get_consent_grant(request, end_user=self.person)
        except OAuth2Error as error:  # a bad request: no redirect to a URI that was not validated
            status, body, headers = server.handle_error_response(request, error)
            handler.reply(status, body, headers)
            return
        status, body, headers = server.create_authorization_response(
            request, grant_user=self.person, grant=grant
        )
        handler.reply(status, body or b"", headers)

    def _token(self, handler: _Handler, request: _Request) -> None:
        if self.token_mode == "error_500":
            handler.reply(500, b"Internal Server Error", [("Content-Type", "text/plain")])
            return
        if self.token_mode == "garbage":
            handler.reply(200, b"<html>not a token</html>", [("Content-Type", "text/html")])
            return
        status, body, headers = self.authorization_server.create_token_response(request)
        handler.reply(status, body, headers)

    def _userinfo(self, handler: _Handler) -> None:
        scheme, _, token = (handler.headers.get("Authorization") or "").partition(" ")
        found = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if found is None:
            handler.reply(401, {"error": "invalid_token"})
            return
        person, scope = found
        handler.reply(200, person.claims(scope))


# --- the browser's part --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Callback:
    """Where the provider sent the browser back: our callback URL and its parameters."""

    url: str
    code: str | None
    state: str | None
    error: str | None


def follow_authorize(url: str) -> Callback:
    """Open the provider's authorize URL as a browser would (no login screen: it redirects at once)."""
    response = httpx.get(url, follow_redirects=False, timeout=10)
    assert response.status_code == 302, (response.status_code, response.text)
    location = response.headers["location"]
    query = parse_qs(urlsplit(location).query)

    def one(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    return Callback(url=location, code=one("code"), state=one("state"), error=one("error"))


def authorize_params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# --- fixtures ---------------------------------------------------------------------------------------------
@pytest.fixture(name="oidc_provider")
def oidc_provider_fixture(clock: Any) -> Iterator[LocalOidcProvider]:
    provider = LocalOidcProvider()
    provider.now = lambda: int(clock.now().timestamp())  # tokens follow the test's frozen clock
    try:
        yield provider
    finally:
        provider.down()


@pytest.fixture(name="oidc_settings")
def oidc_settings_fixture(oidc_provider: LocalOidcProvider) -> dict[str, Any]:
    return {
        "oidc_issuer": oidc_provider.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
    }


__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "Callback",
    "LocalOidcProvider",
    "Person",
    "authorize_params",
    "follow_authorize",
    "oidc_provider_fixture",
    "oidc_settings_fixture",
]
