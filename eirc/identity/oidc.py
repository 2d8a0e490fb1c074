"""The generic OpenID Connect client behind «Вход через портал Госуслуги» (SPEC §9: for an operator who puts
a broker in front of ЕСИА) — an outgoing provider, like the SMS gateway: it knows HTTP and the protocol,
nothing of users, flows or the database. It is one of the two `eirc.identity.provider.IdentityProvider`s
(the other is ЕСИА itself, `eirc.identity.esia`).

Everything protocol-shaped is authlib's: `AsyncOAuth2Client` builds the authorization URL (PKCE S256 from
the verifier it is given) and exchanges the code (client authentication as the provider's discovery
document allows: client_secret_basic, else client_secret_post; ``none`` for a client without a secret);
the ID token is verified with joserfc (the JOSE library authlib itself uses) against the provider's JWKS,
and its claims by authlib's `CodeIDToken` (iss, aud, exp, iat, azp, at_hash) with our nonce check.

- Discovery: ``{issuer}/.well-known/openid-configuration``, cached for `oidc_discovery_ttl_seconds`; its
  ``issuer`` must be the configured one (OpenID Connect Discovery §4.3), its endpoints absolute http(s)
  URLs. The keys (``jwks_uri``) are cached with it, and fetched again when a token names an unknown
  ``kid`` (the provider rotated its keys) — at most once a minute, so forged tokens cannot make us
  hammer the provider.
- Only asymmetric signatures are accepted (RS*/PS*/ES*/EdDSA, intersected with what the provider
  announces): never ``none``, never an HMAC keyed with the client secret.
- The verified claims become an `Identity`: `sub`, `phone_number` (+ `phone_number_verified`),
  `family_name`, `given_name`, `middle_name`, `birthdate` (ISO 8601), `email` (+ `email_verified`); a
  claim of the wrong type is left out.
- Failures are two exceptions: `OidcUnavailable` (not configured, unreachable, 5xx, an answer that is not
  what the protocol says, our credentials refused — nothing the resident can fix) and `OidcRejected`
  (the code was refused as ``invalid_grant``, or the ID token failed a check — this attempt is void).
  Their messages are for logs and never hold a secret (no code, token or verifier).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from eirc.clock import Clock
from eirc.identity.provider import Identity, IdentityRejected, IdentityUnavailable
from eirc.security import new_token, token_digest

with warnings.catch_warnings():
    # authlib prefers the `httpx2` fork and falls back to httpx (which eirc uses everywhere) with a warning.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

try:  # whichever of the two authlib's client runs on, its errors are caught
    import httpx2  # type: ignore[import-not-found]

    HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:
    HTTP_ERRORS = (httpx.HTTPError,)

log = logging.getLogger("eirc.oidc")

SCOPE = "openid profile email phone"
DISCOVERY_PATH = "/.well-known/openid-configuration"
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
ID_TOKEN_LEEWAY_SECONDS = 60  # clock skew between us and the provider
KEYS_REFETCH_SECONDS = 60  # an unknown `kid` refetches the JWKS at most this often
USERINFO_CLAIMS = ("phone_number", "family_name", "given_name", "email")


class OidcUnavailable(IdentityUnavailable):
    """The provider cannot be used now (not configured, down, answering garbage, refusing our client)."""


class OidcRejected(IdentityRejected):
    """This sign-in is void: the code was refused or the ID token failed a check."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    token_auth_method: str
    algorithms: tuple[str, ...]


@dataclass
class _Cache:
    metadata: ProviderMetadata | None = None
    metadata_until: datetime | None = None
    keys: KeySet | None = None
    keys_forced_at: datetime | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _http_url(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 2048:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class OidcClient:
    """One configured provider. Shared by the requests of a process (it caches discovery and keys)."""

    name = "oidc"

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        clock: Clock,
        timeout: float = 10,
        discovery_ttl_seconds: int = 3600,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret or None
        self.redirect_uri = redirect_uri
        self.clock = clock
        self.timeout = timeout
        self.discovery_ttl = timedelta(seconds=discovery_ttl_seconds)
        self._transport = transport
        self._cache = _Cache()

    # --- HTTP ------------------------------------------------------------------------------------------------
    def _oauth(
        self, metadata: ProviderMetadata | None = None, token: dict | None = None
    ) -> AsyncOAuth2Client:
        kwargs: dict[str, Any] = {"timeout": self.timeout}
        if self._transport is not None:
            kwargs["transport"] = self._transport
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=metadata.token_auth_method if metadata else None,
            redirect_uri=self.redirect_uri,
            scope=SCOPE,
            code_challenge_method="S256",
            token=token,
            **kwargs,
        )

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        async with self._oauth() as client:
            try:
                response = await client.request(
                    "GET", url, withhold_token=True, headers={"Accept": "application/json"}
                )
                response.raise_for_status()
                document = response.json()
            except HTTP_ERRORS as exc:
                raise OidcUnavailable(f"{what}: {type(exc).__name__} {_status(exc)}".rstrip()) from None
            except ValueError:
                raise OidcUnavailable(f"{what}: not JSON") from None
        if not isinstance(document, dict):
            raise OidcUnavailable(f"{what}: not a JSON object")
        return document

    # --- discovery and keys ------------------------------------------------------------------------------------
    async def metadata(self) -> ProviderMetadata:
        cache = self._cache
        if cache.metadata is not None and cache.metadata_until and self.clock.now() < cache.metadata_until:
            return cache.metadata
        async with cache.lock:
            now = self.clock.now()
            if cache.metadata is not None and cache.metadata_until and now < cache.metadata_until:
                return cache.metadata
            document = await self._get_json(self.issuer + DISCOVERY_PATH, "discovery")
            metadata = self._parse_metadata(document)
            cache.keys = await self._fetch_keys(metadata)
            cache.metadata, cache.metadata_until = metadata, now + self.discovery_ttl
            return metadata

    def _parse_metadata(self, document: dict[str, Any]) -> ProviderMetadata:
        issuer = document.get("issuer")
        if not isinstance(issuer, str) or issuer.rstrip("/") != self.issuer:
            raise OidcUnavailable("discovery: issuer differs from EIRC_OIDC_ISSUER")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not _http_url(document.get(name)):
                raise OidcUnavailable(f"discovery: {name} missing or not an http(s) URL")
        userinfo = document.get("userinfo_endpoint")

        announced = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        if not isinstance(announced, list):
            raise OidcUnavailable("discovery: id_token_signing_alg_values_supported is not a list")
        algorithms = tuple(a for a in ASYMMETRIC_ALGORITHMS if a in announced)
        if not algorithms:
            raise OidcUnavailable("discovery: no asymmetric ID token signature algorithm")

        # RFC 8414 §2: the default is client_secret_basic when the provider says nothing.
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if not isinstance(methods, list):
            raise OidcUnavailable("discovery: token_endpoint_auth_methods_supported is not a list")
        if self.client_secret is None:
            method = "none"
        elif "client_secret_basic" in methods:
            method = "client_secret_basic"
        elif "client_secret_post" in methods:
            method = "client_secret_post"
        else:
            raise OidcUnavailable(f"discovery: no supported client authentication among {methods[:5]}")
        return ProviderMetadata(
            issuer=issuer,
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            userinfo_endpoint=userinfo if _http_url(userinfo) else None,
            token_auth_method=method,
            algorithms=algorithms,
        )

    async def _fetch_keys(self, metadata: ProviderMetadata) -> KeySet:
        document = await self._get_json(metadata.jwks_uri, "jwks")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OidcUnavailable(f"jwks: not a key set ({type(exc).__name__})") from None
        if not keys.keys:
            raise OidcUnavailable("jwks: no keys")
        return keys

    async def _keys(self, metadata: ProviderMetadata, *, refetch: bool = False) -> KeySet:
        cache = self._cache
        if refetch:
            async with cache.lock:
                now = self.clock.now()
                recent = cache.keys_forced_at and now - cache.keys_forced_at < timedelta(
                    seconds=KEYS_REFETCH_SECONDS
                )
                if not recent:
                    cache.keys_forced_at = now
                    cache.keys = await self._fetch_keys(metadata)
                    log.info("OIDC keys fetched again (a token named an unknown key id)")
        if cache.keys is None:
            cache.keys = await self._fetch_keys(metadata)
        return cache.keys

    # --- the code flow ------------------------------------------------------------------------------------------
    def new_state(self) -> str:
        return new_token()

    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        """The provider's authorize URL: response_type=code, scope, state, nonce, PKCE S256."""
        metadata = await self.metadata()
        async with self._oauth(metadata) as client:
            url, _state = client.create_authorization_url(
                metadata.authorization_endpoint, state=state, code_verifier=code_verifier, nonce=nonce
            )
        return url

    async def complete(self, *, code: str, code_verifier: str, nonce_digest: str) -> Identity:
        """Exchange the code, verify the ID token, and return the person its claims describe."""
        return identity_from_claims(
            await self.claims(code=code, code_verifier=code_verifier, nonce_digest=nonce_digest)
        )

    async def claims(self, *, code: str, code_verifier: str, nonce_digest: str) -> dict[str, Any]:
        """Exchange the code, verify the ID token, and return its claims (completed from the userinfo
        endpoint when the ID token does not carry the profile claims)."""
        metadata = await self.metadata()
        tokens = await self._exchange(metadata, code=code, code_verifier=code_verifier)
        claims = await self._verify_id_token(
            metadata, tokens["id_token"], nonce_digest=nonce_digest, access_token=tokens.get("access_token")
        )
        if (
            metadata.userinfo_endpoint
            and tokens.get("access_token")
            and not all(c in claims for c in USERINFO_CLAIMS)
        ):
            userinfo = await self._userinfo(metadata, tokens)
            # OpenID Connect Core §5.3.2: the userinfo `sub` must be the ID token's, or it is not used.
            if userinfo.get("sub") == claims["sub"]:
                claims = {**userinfo, **claims}
            else:
                log.warning("OIDC userinfo ignored: its sub differs from the ID token's")
        return claims

    async def _exchange(self, metadata: ProviderMetadata, *, code: str, code_verifier: str) -> dict[str, Any]:
        async with self._oauth(metadata) as client:
            try:
                tokens = await client.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            except OAuthError as exc:
                if exc.error == "invalid_grant":  # the code: unknown, used, expired, or not ours (PKCE)
                    raise OidcRejected("token endpoint: invalid_grant") from None
                raise OidcUnavailable(f"token endpoint refused the client: {exc.error}") from None
            except HTTP_ERRORS as exc:
                raise OidcUnavailable(
                    f"token endpoint: {type(exc).__name__} {_status(exc)}".rstrip()
                ) from None
            except (ValueError, TypeError):
                raise OidcUnavailable("token endpoint: not a JSON object") from None
        token_dict = dict(tokens)
        if not isinstance(token_dict.get("id_token"), str):
            raise OidcUnavailable("token endpoint: no id_token in the answer")
        return token_dict

    async def _verify_id_token(
        self, metadata: ProviderMetadata, id_token: str, *, nonce_digest: str, access_token: str | None
    ) -> dict[str, Any]:
        registry = JWSRegistry(algorithms=list(metadata.algorithms), strict_check_header=False)

        def nonce_matches(_claims: Any, value: Any) -> bool:
            return isinstance(value, str) and hmac.compare_digest(token_digest(value), nonce_digest)

        try:
            try:
                token = jwt.decode(id_token, await self._keys(metadata), registry=registry)
            except InvalidKeyIdError:  # maybe rotated: fetch the keys again (throttled) and retry once
                token = jwt.decode(id_token, await self._keys(metadata, refetch=True), registry=registry)
            options: dict[str, Any] = {
                "iss": {"essential": True, "value": metadata.issuer},
                "sub": {"essential": True},
                "aud": {"essential": True, "values": [self.client_id]},
                "nonce": {"essential": True, "validate": nonce_matches},
            }
            claims = CodeIDToken(
                token.claims,
                token.header,
                options,
                {"client_id": self.client_id, "access_token": access_token},
            )
            claims.validate(now=int(self.clock.now().timestamp()), leeway=ID_TOKEN_LEEWAY_SECONDS)
        except (JoseError, ValueError, TypeError) as exc:
            raise OidcRejected(
                f"ID token refused: {type(exc).__name__} {getattr(exc, 'error', '')}".rstrip()
            ) from None
        return dict(claims)

    async def _userinfo(self, metadata: ProviderMetadata, tokens: dict[str, Any]) -> dict[str, Any]:
        endpoint = metadata.userinfo_endpoint or ""
        async with self._oauth(metadata, token=tokens) as client:
            try:
                response = await client.get(endpoint, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
            except (*HTTP_ERRORS, OAuthError) as exc:
                raise OidcUnavailable(f"userinfo: {type(exc).__name__} {_status(exc)}".rstrip()) from None
            except ValueError:  # e.g. a signed (JWT) userinfo answer: not supported, the ID token must do
                log.warning("OIDC userinfo is not plain JSON: ignored")
                return {}
        return document if isinstance(document, dict) else {}

    async def check(self) -> dict[str, Any]:
        """`eirc gosuslugi check`: discovery read and checked, the keys fetched, a sample authorization URL."""
        metadata = await self.metadata()
        keys = await self._keys(metadata)
        url = await self.authorization_url(state=new_token(), nonce=new_token(), code_verifier=new_token())
        return {
            "protocol": "OpenID Connect",
            "issuer": metadata.issuer,
            "client_id": self.client_id,
            "authorization_endpoint": metadata.authorization_endpoint,
            "token_endpoint": metadata.token_endpoint,
            "userinfo_endpoint": metadata.userinfo_endpoint,
            "client_authentication": metadata.token_auth_method,
            "id_token_algorithms": ", ".join(metadata.algorithms),
            "keys": len(keys.keys),
            "redirect_uri": self.redirect_uri,
            "authorization_url": url,
        }


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    """The person of verified claims (OpenID Connect Core §5.1); a claim of the wrong type is left out."""
    sub = claims.get("sub")
    if not isinstance(sub, str):
        raise OidcRejected("ID token: sub is not a string")

    def text(name: str) -> str | None:
        value = claims.get(name)
        return value if isinstance(value, str) else None

    birth = None
    if (value := text("birthdate")) is not None:
        try:
            birth = date.fromisoformat(value)
        except ValueError:
            birth = None
    return Identity(
        subject=sub,
        phone=text("phone_number"),
        phone_verified=claims.get("phone_number_verified") is True,
        last_name=text("family_name"),
        first_name=text("given_name"),
        middle_name=text("middle_name"),
        birth_date=birth,
        email=text("email"),
        email_verified=claims.get("email_verified") is True,
    )


def _status(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.status_code) if response is not None else ""
