"""ЕСИА — Госуслуги itself — behind «Вход через портал Госуслуги» (SPEC §9; INTEGRATIONS.md §1;
docs/gosuslugi.md): OAuth 2.0 whose client authenticates with a GOST R 34.10-2012 signature, not OpenID
Connect. One of the two `eirc.identity.provider.IdentityProvider`s.

- Authorization: `GET {EIRC_ESIA_URL}/aas/oauth2/v2/ac` with `client_id`, `client_secret`, `redirect_uri`,
  `scope`, `response_type=code`, `state` (a UUID), `timestamp` (`yyyy.MM.dd HH:mm:ss +0000`, UTC, from the
  injected clock), `access_type=online` and `client_certificate_hash` (hex Streebog-256 of the certificate's
  DER). `client_secret` is base64url (with padding) of the raw signature (s‖r, eirc.identity.gost) of
  `client_id + scope + timestamp + state + redirect_uri`, made by the configured signer (eirc.identity.signers).
- Token: a form `POST {EIRC_ESIA_URL}/aas/oauth2/v3/te` with `grant_type=authorization_code`, the code, a
  fresh UUID `state` (which ЕСИА echoes: a different one is refused), the same fields signed with the code
  appended, `token_type=Bearer`. `invalid_grant` → the code is void (`EsiaRejected`); any other refusal
  (`invalid_client`, ESIA-007053 «clientSecretWrong», …) is our configuration (`EsiaUnavailable`).
- Every JWT in the answer (the access token, and the ID token when there is one) is verified: signed RS256 or
  GOST3410_2012_256 by one of the `EIRC_ESIA_TOKEN_CERT_FILE` keys (ЕСИА publishes no JWKS: several
  certificates may be configured for its key rotation), `iss` one of the accepted issuers, `aud` / `client_id`
  naming us where present (and present in at least one of them), `exp` not passed (60 s of clock skew). No nonce (ЕСИА's operator advised against it); `nbf` and
  `iat` are not checked (the token was just handed to us over TLS by ЕСИА, whose clock is not ours). The
  subject is the person's numeric oid (`urn:esia:sbj_id` or `sub`; all that are present must agree).
- The person: `GET /rs/prns/{oid}` (names, `birthDate` `dd.MM.yyyy`) and `GET /rs/prns/{oid}/ctts?embed=
  (elements)` (contacts: `MBT` mobile, `EML` e-mail, each `vrfStu` VERIFIED or not) with the access token.

ЕСИА's answers are hostile input: bounded in size (1 MiB), parsed defensively, a field of the wrong type left
out; an answer that is not the protocol is `EsiaUnavailable`, a token failing a check `EsiaRejected`. Messages
are for logs and never hold a code, a token or a signature.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from eirc.clock import Clock
from eirc.identity.gost import Certificate, GostError, GostPublicKey, load_certificates, load_public_keys
from eirc.identity.gost import public_key_from_info as gost_public_key_from_info
from eirc.identity.provider import Identity, IdentityRejected, IdentityUnavailable
from eirc.identity.signers import FileSigner, HttpSigner, OpenSslSigner, Signer

if TYPE_CHECKING:
    from eirc.settings import Settings

log = logging.getLogger("eirc.esia")

DEFAULT_SCOPE = "openid fullname birthdate mobile email"
PRODUCTION_ISSUER = "http://esia.gosuslugi.ru/"
AUTHORIZE_PATH = "/aas/oauth2/v2/ac"
TOKEN_PATH = "/aas/oauth2/v3/te"
TOKEN_LEEWAY_SECONDS = 60
MAX_ANSWER_BYTES = 1024 * 1024
MAX_TOKEN_LENGTH = 32 * 1024
MAX_CONTACT_LINKS = 20
JWT_KEY_TYPES = {"RS256": "rsa", "GOST3410_2012_256": "gost2012_256"}
PROBE = b"eirc gosuslugi check: does the signer's key match EIRC_ESIA_CERT_FILE?"
_OID = re.compile(r"[0-9]{1,20}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_BIRTH_DATE = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4})")


class EsiaUnavailable(IdentityUnavailable):
    """ЕСИА cannot be used now: not configured, down, answering garbage, or refusing our client."""


class EsiaRejected(IdentityRejected):
    """This sign-in is void: the code was refused, or a token failed a check."""


def esia_timestamp(now: datetime) -> str:
    """`yyyy.MM.dd HH:mm:ss ±hhmm`, in UTC (e.g. `2026.01.15 12:00:00 +0000`)."""
    return now.astimezone(UTC).strftime("%Y.%m.%d %H:%M:%S +0000")


def _safe(text: Any, limit: int = 200) -> str:
    """Text from ЕСИА fit for a log line: printable, one line, bounded."""
    value = text if isinstance(text, str) else ""
    return "".join(ch if ch.isprintable() else "?" for ch in value[:limit])


# --- ЕСИА's token certificates -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenKey:
    """One key ЕСИА's tokens may be signed with (from a certificate, or a bare public key)."""

    key_type: str  # "rsa" | "gost2012_256"
    source: str  # the file it came from
    subject: str | None  # None for a bare public key
    not_after: datetime | None
    rsa: rsa.RSAPublicKey | None = None
    gost: GostPublicKey | None = None

    def verifies(self, data: bytes, signature: bytes) -> bool:
        if self.rsa is not None:
            try:
                self.rsa.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                return False
            return True
        return self.gost is not None and self.gost.verify(data, signature)


def _token_key(key_type: str, spki: bytes, source: str, cert: Certificate | None) -> TokenKey:
    subject, not_after = (cert.subject, cert.not_after) if cert else (None, None)
    if key_type == "rsa":
        key = serialization.load_der_public_key(spki)
        if not isinstance(key, rsa.RSAPublicKey):  # pragma: no cover - the OID said RSA
            raise EsiaUnavailable(f"EIRC_ESIA_TOKEN_CERT_FILE: {source}: not an RSA key")
        return TokenKey("rsa", source, subject, not_after, rsa=key)
    if key_type == "gost2012_256":
        return TokenKey("gost2012_256", source, subject, not_after, gost=gost_public_key_from_info(spki))
    raise EsiaUnavailable(
        f"EIRC_ESIA_TOKEN_CERT_FILE: {source}: a key of algorithm {key_type} (RSA or GOST R 34.10-2012 256)"
    )


def load_token_keys(paths: str) -> list[TokenKey]:
    """The keys of EIRC_ESIA_TOKEN_CERT_FILE: comma-separated paths, each a PEM file with one or more
    certificates (a bundle) or bare public keys («PUBLIC KEY»), or one DER certificate."""
    keys: list[TokenKey] = []
    for path in [p.strip() for p in paths.split(",") if p.strip()]:
        data = _read(path, "EIRC_ESIA_TOKEN_CERT_FILE")
        try:
            try:
                certificates = load_certificates(data)
            except GostError:
                certificates = []
            found = [_token_key(c.key_algorithm, c.public_key_info, path, c) for c in certificates]
            found += [_token_key(kind, spki, path, None) for kind, spki in load_public_keys(data)]
        except (GostError, ValueError) as exc:
            raise EsiaUnavailable(f"EIRC_ESIA_TOKEN_CERT_FILE: {path}: {exc}") from None
        if not found:
            raise EsiaUnavailable(f"EIRC_ESIA_TOKEN_CERT_FILE: {path}: no certificate or public key in it")
        keys += found
    if not keys:
        raise EsiaUnavailable("EIRC_ESIA_TOKEN_CERT_FILE: no file named")
    return keys


def _read(path: str, variable: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(4 * 1024 * 1024)
    except OSError as exc:
        raise EsiaUnavailable(f"{variable}: cannot read {path}: {exc.strerror or exc}") from None


def default_issuers(base_url: str) -> tuple[str, ...]:
    """ЕСИА names itself with plain http and a trailing slash: production `http://esia.gosuslugi.ru/`, the test
    environment its own host (`http://esia-portal1.test.gosuslugi.ru/`)."""
    host = urlsplit(base_url).netloc
    derived = f"http://{host}/"
    return (derived,) if derived == PRODUCTION_ISSUER else (derived, PRODUCTION_ISSUER)


# --- JWT --------------------------------------------------------------------------------------------------
def _b64url(segment: str) -> bytes:
    if not _B64URL.fullmatch(segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_object(data: bytes) -> dict[str, Any]:
    document = json.loads(data)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def verify_jwt(
    token: str, keys: list[TokenKey], *, issuers: tuple[str, ...], client_id: str, now: datetime, what: str
) -> dict[str, Any]:
    """The claims of a token ЕСИА signed for us (see the module's docstring), or EsiaRejected."""
    if len(token) > MAX_TOKEN_LENGTH or not looks_like_jwt(token):
        raise EsiaRejected(f"{what}: not a JWT")
    head, body, signature = token.split(".")
    try:
        header, claims, raw_signature = (
            _json_object(_b64url(head)),
            _json_object(_b64url(body)),
            _b64url(signature),
        )
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise EsiaRejected(f"{what}: not a well-formed JWT") from None
    alg = header.get("alg")
    key_type = JWT_KEY_TYPES.get(alg) if isinstance(alg, str) else None
    if key_type is None:
        raise EsiaRejected(
            f"{what}: signature algorithm {_safe(alg, 40)!r} (RS256 or GOST3410_2012_256 expected)"
        )
    signing_input = f"{head}.{body}".encode("ascii")
    candidates = [k for k in keys if k.key_type == key_type]
    if not any(k.verifies(signing_input, raw_signature) for k in candidates):
        raise EsiaRejected(
            f"{what}: the {alg} signature matches none of the EIRC_ESIA_TOKEN_CERT_FILE keys"
            " (forged, or ЕСИА has rotated its key)"
        )

    iss = claims.get("iss")
    if not isinstance(iss, str) or iss.rstrip("/") not in {i.rstrip("/") for i in issuers}:
        raise EsiaRejected(f"{what}: iss {_safe(iss, 80)!r} is not an accepted issuer")
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise EsiaRejected(f"{what}: no exp")
    if now.timestamp() >= exp + TOKEN_LEEWAY_SECONDS:
        raise EsiaRejected(f"{what}: expired")
    audiences = claims.get("aud")
    if isinstance(audiences, str):
        audiences = [audiences]
    named_client = claims.get("client_id")
    if audiences is not None and (not isinstance(audiences, list) or client_id not in audiences):
        raise EsiaRejected(f"{what}: aud does not name EIRC_ESIA_CLIENT_ID")
    if named_client is not None and named_client != client_id:
        raise EsiaRejected(f"{what}: client_id is not EIRC_ESIA_CLIENT_ID")
    return claims


def names_client(claims: dict[str, Any]) -> bool:
    """Whether verified claims name their audience (`aud` or `client_id`; verify_jwt checked it is us)."""
    return "aud" in claims or "client_id" in claims


def subject_of(*claim_sets: dict[str, Any]) -> str:
    """The person's oid: `urn:esia:sbj_id` or `sub` of the verified tokens, numeric, all the same."""
    found: set[str] = set()
    for claims in claim_sets:
        for name in ("urn:esia:sbj_id", "sub"):
            if name not in claims:
                continue
            value = claims[name]
            if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**20:
                found.add(str(value))
            elif isinstance(value, str) and _OID.fullmatch(value) and int(value) > 0:
                found.add(str(int(value)))
            else:
                raise EsiaRejected(f"token: {name} is not a numeric oid")
    if not found:
        raise EsiaRejected("token: no subject (urn:esia:sbj_id / sub)")
    if len(found) > 1:
        raise EsiaRejected("tokens: the access token and the ID token name different persons")
    return found.pop()


# --- the person ---------------------------------------------------------------------------------------------
def _text(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    return value if isinstance(value, str) else None


def _birth_date(value: str | None) -> date | None:
    match = _BIRTH_DATE.fullmatch(value or "")
    if match is None:
        return None
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _contact(elements: list[Any], kind: str) -> tuple[str | None, bool]:
    """The first VERIFIED contact of `kind` (`MBT`, `EML`), else the first unverified one (not trusted)."""
    candidates = [
        e
        for e in elements
        if isinstance(e, dict) and e.get("type") == kind and isinstance(e.get("value"), str)
    ]
    for element in candidates:
        if element.get("vrfStu") == "VERIFIED":
            return element["value"], True
    return (candidates[0]["value"], False) if candidates else (None, False)


def identity_from_person(oid: str, person: dict[str, Any], contacts: list[Any]) -> Identity:
    phone, phone_verified = _contact(contacts, "MBT")
    email, email_verified = _contact(contacts, "EML")
    return Identity(
        subject=oid,
        phone=phone,
        phone_verified=phone_verified,
        last_name=_text(person, "lastName"),
        first_name=_text(person, "firstName"),
        middle_name=_text(person, "middleName"),
        birth_date=_birth_date(_text(person, "birthDate")),
        email=email,
        email_verified=email_verified,
    )


# --- the client ---------------------------------------------------------------------------------------------
class EsiaClient:
    """One configured ЕСИА system (its mnemonic, key and certificate). Shared by the requests of a process."""

    name = "esia"

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        scope: str,
        redirect_uri: str,
        signer: Signer,
        certificate: Certificate,
        token_keys: list[TokenKey],
        issuers: tuple[str, ...],
        clock: Clock,
        timeout: float = 10,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.scope = " ".join(scope.split())
        self.redirect_uri = redirect_uri
        self.signer = signer
        self.certificate = certificate
        self.certificate_hash = certificate.gost_hash
        self.token_keys = token_keys
        self.issuers = issuers
        self.clock = clock
        self.timeout = timeout
        self._transport = transport

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        clock: Clock,
        *,
        redirect_uri: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> EsiaClient:
        """The client of the EIRC_ESIA_* settings; EsiaUnavailable with one line naming what is unusable."""
        s = settings
        if not (s.esia_url and s.esia_client_id and s.esia_cert_file and s.esia_token_cert_file):
            raise EsiaUnavailable(
                "EIRC_ESIA_URL, EIRC_ESIA_CLIENT_ID, EIRC_ESIA_CERT_FILE and EIRC_ESIA_TOKEN_CERT_FILE are all needed"
            )
        try:
            certificates = load_certificates(_read(s.esia_cert_file, "EIRC_ESIA_CERT_FILE"))
        except GostError as exc:
            raise EsiaUnavailable(f"EIRC_ESIA_CERT_FILE: {exc}") from None
        certificate = certificates[0]
        if certificate.key_algorithm != "gost2012_256":
            raise EsiaUnavailable(
                "EIRC_ESIA_CERT_FILE: the certificate's key is not GOST R 34.10-2012 256-bit"
            )
        signer = _signer(s, certificate)
        issuers = tuple(i.strip() for i in (s.esia_issuer or "").split(",") if i.strip())
        return cls(
            base_url=s.esia_url,
            client_id=s.esia_client_id,
            scope=s.esia_scope,
            redirect_uri=redirect_uri,
            signer=signer,
            certificate=certificate,
            token_keys=load_token_keys(s.esia_token_cert_file),
            issuers=issuers or default_issuers(s.esia_url),
            clock=clock,
            timeout=s.esia_timeout_seconds,
            transport=transport,
        )

    # --- signing -------------------------------------------------------------------------------------------
    async def _client_secret(self, timestamp: str, state: str, code: str = "") -> str:
        message = self.client_id + self.scope + timestamp + state + self.redirect_uri + code
        signature = await self.signer.sign(message.encode("utf-8"))
        return base64.urlsafe_b64encode(signature).decode("ascii")

    # --- the code flow -------------------------------------------------------------------------------------
    def new_state(self) -> str:
        return str(uuid.uuid4())

    async def authorization_url(self, *, state: str, nonce: str = "", code_verifier: str = "") -> str:
        """ЕСИА's v2/ac URL for `state` (a UUID); ЕСИА knows no nonce nor PKCE: both are ignored."""
        timestamp = esia_timestamp(self.clock.now())
        params = {
            "client_id": self.client_id,
            "client_secret": await self._client_secret(timestamp, state),
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "response_type": "code",
            "state": state,
            "timestamp": timestamp,
            "access_type": "online",
            "client_certificate_hash": self.certificate_hash,
        }
        return f"{self.base_url}{AUTHORIZE_PATH}?{urlencode(params, safe='', quote_via=quote)}"

    async def complete(self, *, code: str, code_verifier: str = "", nonce_digest: str = "") -> Identity:
        """Exchange the code (v3/te), verify the tokens, read the person from /rs/prns."""
        async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
            tokens = await self._exchange(client, code)
            access_token = tokens["access_token"]
            now = self.clock.now()
            verified: list[dict[str, Any]] = []
            for name in ("access_token", "id_token"):
                token = tokens.get(name)
                if isinstance(token, str) and (name == "id_token" or looks_like_jwt(token)):
                    verified.append(
                        await asyncio.to_thread(
                            verify_jwt,
                            token,
                            self.token_keys,
                            issuers=self.issuers,
                            client_id=self.client_id,
                            now=now,
                            what=name,
                        )
                    )
            if not any(
                names_client(claims) for claims in verified
            ):  # ЕСИА's tokens must say whom they are for
                raise EsiaRejected("tokens: neither aud nor client_id names the client")
            oid = subject_of(*verified)
            person = await self._rest(client, f"/rs/prns/{oid}", access_token, "person")
            contacts = await self._contacts(client, oid, access_token)
        return identity_from_person(oid, person, contacts)

    async def _exchange(self, client: httpx.AsyncClient, code: str) -> dict[str, Any]:
        state, timestamp = self.new_state(), esia_timestamp(self.clock.now())
        form = {
            "client_id": self.client_id,
            "code": code,
            "grant_type": "authorization_code",
            "client_certificate_hash": self.certificate_hash,
            "client_secret": await self._client_secret(timestamp, state, code),
            "state": state,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "timestamp": timestamp,
            "token_type": "Bearer",
        }
        status, body = await self._send(
            client, "POST", self.base_url + TOKEN_PATH, "token endpoint", data=form
        )
        try:
            document = _json_object(body)
        except (ValueError, RecursionError):
            raise EsiaUnavailable(f"token endpoint: {status}, not a JSON object") from None
        if status != 200 or "error" in document:
            error, description = _safe(document.get("error"), 60), _safe(document.get("error_description"))
            if error == "invalid_grant":  # the code: unknown, used, expired, or for another client
                raise EsiaRejected(f"token endpoint: invalid_grant {description}".rstrip())
            raise EsiaUnavailable(
                f"token endpoint refused the client: {status} {error} {description}".rstrip()
            )
        if not isinstance(document.get("access_token"), str) or not document["access_token"]:
            raise EsiaUnavailable("token endpoint: no access_token in the answer")
        echoed = document.get("state")
        if echoed is not None and echoed != state:
            raise EsiaUnavailable("token endpoint: the answer's state is not the request's")
        return document

    async def _send(
        self, client: httpx.AsyncClient, method: str, url: str, what: str, **kwargs: Any
    ) -> tuple[int, bytes]:
        """The status and body (at most MAX_ANSWER_BYTES) of one call; network failures → EsiaUnavailable."""
        try:
            async with client.stream(method, url, **kwargs) as response:
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise EsiaUnavailable(f"{what}: an answer over {MAX_ANSWER_BYTES} bytes")
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks)
        except httpx.HTTPError as exc:
            raise EsiaUnavailable(f"{what}: {type(exc).__name__}") from None

    async def _rest(
        self, client: httpx.AsyncClient, path: str, access_token: str, what: str
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        status, body = await self._send(client, "GET", self.base_url + path, what, headers=headers)
        if status != 200:
            hint = " (are the scopes approved for the system?)" if status in (401, 403) else ""
            raise EsiaUnavailable(f"{what}: {status}{hint}")
        try:
            return _json_object(body)
        except (ValueError, RecursionError):
            raise EsiaUnavailable(f"{what}: not a JSON object") from None

    async def _contacts(self, client: httpx.AsyncClient, oid: str, access_token: str) -> list[Any]:
        document = await self._rest(client, f"/rs/prns/{oid}/ctts?embed=(elements)", access_token, "contacts")
        elements = document.get("elements")
        if not isinstance(elements, list):
            return []
        contacts: list[Any] = []
        for element in elements[:MAX_CONTACT_LINKS]:
            if isinstance(element, str):  # a link instead of the embedded element: read it from ЕСИА itself
                contact_id = element.rstrip("/").rsplit("/", 1)[-1]
                if _OID.fullmatch(contact_id):
                    element = await self._rest(
                        client, f"/rs/prns/{oid}/ctts/{contact_id}", access_token, "contact"
                    )
            contacts.append(element)
        return contacts

    # --- eirc gosuslugi check --------------------------------------------------------------------------------
    async def check(self) -> dict[str, Any]:
        """The configuration as ЕСИА will see it; EsiaUnavailable with one line for what makes it unusable."""
        now = self.clock.now()
        cert = self.certificate
        if cert.not_after <= now:
            raise EsiaUnavailable(
                f"EIRC_ESIA_CERT_FILE: the certificate expired on {cert.not_after:%Y-%m-%d}"
            )
        if cert.not_before > now:
            raise EsiaUnavailable(
                f"EIRC_ESIA_CERT_FILE: the certificate is valid only from {cert.not_before:%Y-%m-%d}"
            )
        signature = await self.signer.sign(PROBE)
        if not await asyncio.to_thread(cert.gost_public_key().verify, PROBE, signature):
            raise EsiaUnavailable(
                f"the {self.signer.name} signer's signature does not verify against EIRC_ESIA_CERT_FILE: "
                "the key does not match the certificate"
                + (
                    " (or the service's signature is not in OpenSSL's s‖r byte order)"
                    if self.signer.name == "http"
                    else ""
                )
            )
        token_certificates = [
            {
                "file": k.source,
                "subject": k.subject or "(bare public key)",
                "algorithm": "RS256" if k.key_type == "rsa" else "GOST3410_2012_256",
                "not_after": k.not_after,
                "expired": bool(k.not_after and k.not_after <= now),
            }
            for k in self.token_keys
        ]
        if all(row["expired"] for row in token_certificates):
            raise EsiaUnavailable("EIRC_ESIA_TOKEN_CERT_FILE: every certificate in it has expired")
        return {
            "protocol": "ЕСИА",
            "url": self.base_url,
            "client_id": self.client_id,
            "scope": self.scope,
            "redirect_uri": self.redirect_uri,
            "signer": self.signer.name,
            "certificate_hash": self.certificate_hash,
            "certificate_subject": cert.subject,
            "certificate_not_after": cert.not_after,
            "issuers": ", ".join(self.issuers),
            "token_certificates": token_certificates,
            "authorization_url": await self.authorization_url(state=self.new_state()),
        }


def _signer(s: Settings, certificate: Certificate) -> Signer:
    if s.esia_signer == "http":
        if not s.esia_signer_url:
            raise EsiaUnavailable("EIRC_ESIA_SIGNER=http needs EIRC_ESIA_SIGNER_URL")
        return HttpSigner(s.esia_signer_url, token=s.esia_signer_token, timeout=s.esia_timeout_seconds)
    if not s.esia_key_file:
        raise EsiaUnavailable(f"EIRC_ESIA_SIGNER={s.esia_signer} needs EIRC_ESIA_KEY_FILE")
    if s.esia_signer == "openssl":
        return OpenSslSigner(s.esia_key_file, openssl=s.esia_openssl, timeout=s.esia_timeout_seconds)
    signer = FileSigner.from_file(s.esia_key_file)
    if signer.public_key() != certificate.gost_public_key():
        raise EsiaUnavailable("EIRC_ESIA_KEY_FILE does not match EIRC_ESIA_CERT_FILE (another key pair)")
    return signer
