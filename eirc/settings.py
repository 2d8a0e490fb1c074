"""All configuration, from the environment (prefix `EIRC_`) and `.env` — CONTRACT §2."""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_PLACEHOLDER = "dev-insecure-secret-key"

# SMS gateways (CONTRACT §2, docs/deliveries.md): `relay` speaks eirc's own protocol (CONTRACT §5), the others
# their documented HTTP APIs. Each gateway's production host, kept unless EIRC_SMS_URL overrides it.
SMS_PROVIDERS = ("relay", "smsc", "smsru", "smsaero", "exolve")
SMS_GATEWAY_HOSTS = {
    "smsc": "https://smsc.ru",
    "smsru": "https://sms.ru",
    "smsaero": "https://gate.smsaero.ru",
    "exolve": "https://api.exolve.ru",
}
# What each gateway cannot work without, by variable (EIRC_SMS_LOGIN / _TOKEN / _SENDER) and what it holds there.
_SMS_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "smsc": (("token", "the account's password, or its API key when EIRC_SMS_LOGIN is unset"),),
    "smsru": (("token", "the api_id"),),
    "smsaero": (
        ("login", "the account's e-mail"),
        ("token", "the API key"),
        ("sender", "the registered sender name (sign)"),
    ),
    "exolve": (("token", "the application's API key"), ("sender", "the sender number or alpha name")),
}
SMS_CODE_PLACEHOLDER = "{code}"
DEFAULT_SMS_TEXT = "Код подтверждения МосОблЕИРЦ: {code}. Никому не сообщайте код."


class ConfigurationError(RuntimeError):
    """The environment's settings cannot be used; the message is one line that names the variables."""


class SecretKeyMissing(ConfigurationError):
    """Raised at start-up when EIRC_SECRET_KEY is not set outside development."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EIRC_", env_file=".env", extra="ignore")

    env: str = Field("development", description="development | production | test")
    database_url: str = "sqlite:///var/eirc.db"
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"

    sms_url: str | None = None
    sms_token: str | None = None
    # relay | smsc | smsru | smsaero | exolve; unset → `relay` when EIRC_SMS_URL is set, else the dev outbox.
    # For a gateway EIRC_SMS_URL replaces only the scheme and host of its documented endpoints (tests: a fake).
    sms_provider: str | None = None
    sms_login: str | None = None  # SMSC login, SMS Aero account e-mail
    sms_sender: str | None = (
        None  # the registered sender name (SMSC/SMS.ru `sender`/`from`, SMS Aero `sign`, …)
    )
    # The code's SMS text; `{code}` is where the code goes (operators carry codes only on registered templates).
    sms_text: str = DEFAULT_SMS_TEXT
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "noreply@eirc.local"
    crm_url: str | None = None
    crm_token: str | None = None

    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_state_ttl_seconds: int = 600  # a Госуслуги sign-in must come back within this (state, nonce, PKCE)
    oidc_timeout_seconds: float = 10  # each call to the provider (discovery, keys, token)
    oidc_discovery_ttl_seconds: int = 3600  # the provider's discovery document and keys are cached this long

    # Госуслуги directly: ЕСИА's protocol with GOST signatures (eirc/identity/esia.py, docs/gosuslugi.md).
    # EIRC_ESIA_URL or EIRC_OIDC_ISSUER, never both (refused at start-up).
    # https://esia.gosuslugi.ru, or the test environment https://esia-portal1.test.gosuslugi.ru
    esia_url: str | None = None
    esia_client_id: str | None = None  # the system's mnemonic on ЕСИА's technology portal
    esia_key_file: str | None = None  # the system's GOST R 34.10-2012 256-bit key: unencrypted PKCS#8 PEM
    esia_cert_file: str | None = None  # the system's certificate (PEM or DER), as registered on the portal
    # ЕСИА's certificate(s) its tokens are verified with: comma-separated paths, each file one or more PEM
    # certificates (a bundle; or bare «PUBLIC KEY»s) — several while ЕСИА rotates its key.
    esia_token_cert_file: str | None = None
    esia_scope: str = "openid fullname birthdate mobile email"
    # The `iss` accepted in ЕСИА's tokens, comma-separated; unset → `http://<host of EIRC_ESIA_URL>/` and
    # ЕСИА's documented `http://esia.gosuslugi.ru/`.
    esia_issuer: str | None = None
    # who signs client_secret: the key file in-process, OpenSSL's GOST engine, or a signing service
    esia_signer: Literal["file", "openssl", "http"] = "file"
    esia_signer_url: str | None = None  # EIRC_ESIA_SIGNER=http: the signing service
    esia_signer_token: str | None = None  # EIRC_ESIA_SIGNER=http: its bearer token (optional)
    esia_openssl: str = "openssl"  # EIRC_ESIA_SIGNER=openssl: the binary (with the GOST engine)
    esia_timeout_seconds: float = Field(10, gt=0)  # each call to ЕСИА and to the signer

    code_length: int = Field(4, ge=4, le=10)
    code_ttl_seconds: int = 300
    code_resend_seconds: int = 45
    code_max_attempts: int = 5
    sms_per_hour: int = 5
    sms_per_day: int = 10
    sms_per_client_per_hour: int = 20
    sms_global_per_hour: int = 10000
    start_phone_per_client_per_hour: int = 30  # startPhone tells registered numbers from new ones
    forgot_password_per_client_per_hour: int = 20
    prove_account_per_client_per_hour: int = 30

    login_max_failures: int = 5
    login_lockout_seconds: int = 300
    login_per_client_per_minute: int = 30
    # Password-hashing threads of each gateway process; 0 = the CPUs this process may use, shared out among
    # the gateway processes of `eirc serve --workers N` (at least 1). docs/signin.md, «Hashing threads».
    hash_threads: int = Field(0, ge=0, le=64)

    account_max_attempts: int = 5

    flow_ttl_seconds: int = 3600
    session_ttl_seconds: int = 2592000
    email_token_ttl_seconds: int = 172800

    delivery_backoff_seconds: float = 5
    delivery_max_backoff_seconds: float = 3600
    delivery_max_age_seconds: int = 172800
    delivery_timeout_seconds: float = 10

    # Retention (eirc/services/retention.py, docs/retention.md): finished flows, sessions, e-mail tokens and
    # sent or dead deliveries are kept this many days; expired counters go at once. The delivery worker
    # prunes every `prune_interval_seconds` (0: never — then `eirc db prune` from cron).
    retention_days: int = Field(90, ge=1)
    prune_interval_seconds: int = Field(3600, ge=0)

    terms_version: str = "2021-06-01"
    # The documents the screens link: «условиями использования», «обработку персональных данных».
    terms_url: str | None = None
    personal_data_policy_url: str | None = None
    cors_origins: str = (
        ""  # comma-separated origins allowed by CORS; empty → no CORS headers (same origin only)
    )
    cors_headers: str = ""  # comma-separated request headers allowed besides Authorization and Content-Type
    max_body_bytes: int = Field(64 * 1024, ge=1024)  # a larger request body → 413
    # Connections (eirc/web/connections.py): a new one must send within this; a request's answer must begin
    # within this of its first byte; an idle keep-alive one is closed after this; at most this many at once
    # per gateway process (more: 503).
    connection_idle_seconds: float = Field(10, gt=0)
    request_timeout_seconds: float = Field(30, gt=0)
    keep_alive_seconds: int = Field(5, ge=1)
    max_connections: int = Field(1000, ge=10)
    forwarded_allow_ips: str = ""  # proxies trusted for X-Forwarded-For (uvicorn); empty → the peer address
    # GraphiQL at GET /graphql and schema introspection; unset: on in development, off in production.
    graphiql: bool | None = None
    # `/metrics` (docs/operations.md): EIRC_METRICS=off answers 404. EIRC_METRICS_BIND=host:port serves it there
    # instead — from `eirc serve`'s own process, for every gateway process at once — and not on the gateway's
    # port, so it need not be public.
    metrics: bool = True
    metrics_bind: str | None = None
    log_format: str = "auto"  # auto | json | text
    log_level: str = "INFO"

    @property
    def is_development(self) -> bool:
        return self.env.lower() in ("development", "dev", "test")

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.is_development

    @model_validator(mode="after")
    def _secret_key_required_outside_development(self) -> Settings:
        if not self.secret_key:
            if not self.is_development:
                raise SecretKeyMissing(
                    "EIRC_SECRET_KEY is not set: it is required outside development (EIRC_ENV="
                    f"{self.env}); set it to a long random string"
                )
            # A stable per-database dev key, so that a restart can still read pending messages.
            seed = f"{DEV_SECRET_PLACEHOLDER}:{self.database_url}".encode()
            self.secret_key = hashlib.sha256(seed).hexdigest()
        return self

    @model_validator(mode="after")
    def _sms_gateway_usable(self) -> Settings:
        for name in ("sms_provider", "sms_url", "sms_token", "sms_login", "sms_sender"):
            value = getattr(self, name)
            if isinstance(value, str) and not value.strip():
                setattr(self, name, None)  # `EIRC_SMS_SENDER=` in a .env means unset
        if self.sms_provider is not None:
            provider = self.sms_provider.strip().lower()
            if provider not in SMS_PROVIDERS:
                raise ConfigurationError(
                    f"EIRC_SMS_PROVIDER: {self.sms_provider!r} is not an SMS gateway eirc speaks; "
                    f"use one of {', '.join(SMS_PROVIDERS)}"
                )
            self.sms_provider = provider
        gateway = self.sms_gateway
        if gateway == "relay" and not self.sms_url:
            raise ConfigurationError("EIRC_SMS_PROVIDER=relay needs EIRC_SMS_URL (the relay's endpoint)")
        if gateway in SMS_GATEWAY_HOSTS:
            missing = [
                f"EIRC_SMS_{what.upper()} ({meaning})"
                for what, meaning in _SMS_NEEDS[gateway]
                if not getattr(self, f"sms_{what}")
            ]
            if missing:
                raise ConfigurationError(f"EIRC_SMS_PROVIDER={gateway} needs {', '.join(missing)}")
            if self.sms_url:
                parts = urlsplit(self.sms_url)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise ConfigurationError(
                        f"EIRC_SMS_URL: for EIRC_SMS_PROVIDER={gateway} give the scheme and host to use instead "
                        f"of {SMS_GATEWAY_HOSTS[gateway]}, like https://host[:port] (the gateway's paths are kept)"
                    )
        problem = sms_text_problem(self.sms_text, self.code_length)
        if problem:
            raise ConfigurationError(f"EIRC_SMS_TEXT: {problem}")
        return self

    @property
    def sms_gateway(self) -> str | None:
        """The SMS gateway in use (one of SMS_PROVIDERS), or None: SMS go to the development outbox."""
        if self.sms_provider:
            return self.sms_provider
        return "relay" if self.sms_url else None

    @property
    def sms_base_url(self) -> str | None:
        """A gateway's scheme and host: EIRC_SMS_URL's (its path dropped), or the gateway's documented host."""
        gateway = self.sms_gateway
        if gateway not in SMS_GATEWAY_HOSTS:
            return None
        if not self.sms_url:
            return SMS_GATEWAY_HOSTS[gateway]
        parts = urlsplit(self.sms_url)
        return f"{parts.scheme}://{parts.netloc}"

    @model_validator(mode="after")
    def _one_gosuslugi_protocol(self) -> Settings:
        if self.esia_url and self.oidc_issuer:
            raise ConfigurationError(
                "EIRC_ESIA_URL and EIRC_OIDC_ISSUER are both set: Госуслуги is reached either directly (ЕСИА) or "
                "through an OpenID Connect provider, not both — unset one of them"
            )
        if self.esia_url:
            if urlsplit(self.esia_url).scheme not in ("http", "https") or not urlsplit(self.esia_url).netloc:
                raise ConfigurationError("EIRC_ESIA_URL: not an http(s) URL")
            needed = {
                "EIRC_ESIA_CLIENT_ID": self.esia_client_id,
                "EIRC_ESIA_CERT_FILE": self.esia_cert_file,
                "EIRC_ESIA_TOKEN_CERT_FILE": self.esia_token_cert_file,
            }
            if self.esia_signer == "http":
                needed["EIRC_ESIA_SIGNER_URL"] = self.esia_signer_url
            else:
                needed["EIRC_ESIA_KEY_FILE"] = self.esia_key_file
            missing = [name for name, value in needed.items() if not value]
            if missing:
                raise ConfigurationError(f"EIRC_ESIA_URL is set, {', '.join(missing)} not: ЕСИА needs them")
        return self

    @model_validator(mode="after")
    def _metrics_bind_usable(self) -> Settings:
        if self.metrics_bind is not None and not self.metrics_bind.strip():
            self.metrics_bind = None
        if self.metrics_bind is not None:
            host, _port = split_host_port(self.metrics_bind)
            if host is None:
                raise ConfigurationError(
                    f"EIRC_METRICS_BIND: {self.metrics_bind!r} is not host:port (e.g. 127.0.0.1:9100 or [::1]:9100)"
                )
        return self

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) of EIRC_METRICS_BIND, or None: /metrics is served on the gateway's own port."""
        if self.metrics_bind is None:
            return None
        host, port = split_host_port(self.metrics_bind)
        assert host is not None
        return host, port

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.database_url)


def sms_text_problem(template: str, code_length: int) -> str | None:
    """Why an EIRC_SMS_TEXT cannot carry a code, or None. The code must be the only run of digits of its length
    in the text (CONTRACT §5): `{code}` exactly once, no digit right next to it, no other run of that length."""
    if template.count(SMS_CODE_PLACEHOLDER) != 1:
        return f"the text must hold {SMS_CODE_PLACEHOLDER} exactly once (where the code goes)"
    if "{secret}" in template:
        return "the text must not hold {secret}; write {code} where the code goes"
    before, after = template.split(SMS_CODE_PLACEHOLDER)
    if before[-1:].isdigit() or after[:1].isdigit():
        return f"a digit right next to {SMS_CODE_PLACEHOLDER} would run into the code"
    runs = re.findall(r"[0-9]+", before + " " + after)
    if any(len(run) == code_length for run in runs):
        return (
            f"the text holds a run of {code_length} digits besides the code (EIRC_CODE_LENGTH={code_length}): "
            "the code must be the only one"
        )
    return None


def split_host_port(value: str) -> tuple[str | None, int]:
    """`host:port` or `[v6]:port` → (host, port); (None, 0) when it is not one."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})|([^:\[\]\s]+):([0-9]{1,5})", value.strip())
    if not match:
        return None, 0
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 0 < port < 65536:
        return None, 0
    return host, port


def to_async_url(url: str) -> str:
    """Map a plain SQLAlchemy URL to its async driver (aiosqlite / psycopg)."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url[len("sqlite:") :]
    for prefix in ("postgresql+psycopg2:", "postgresql+asyncpg:", "postgresql:", "postgres:"):
        if url.startswith(prefix):
            return "postgresql+psycopg:" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    """The settings of the environment (and `.env`); a value that does not parse is a ConfigurationError
    naming the variable, e.g. «EIRC_SMTP_PORT: Input should be a valid integer … (got 'abc')»."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(describe_invalid(exc)) from None


def describe_invalid(exc: ValidationError) -> str:
    """One line: each refused setting by its variable name, what is wrong, and the value given."""
    prefix = Settings.model_config.get("env_prefix", "")
    parts = []
    for error in exc.errors():
        name = prefix + "_".join(str(part) for part in error["loc"]).upper() if error["loc"] else "settings"
        # a secret's value is never echoed, nor a URL's (it may hold a password)
        secret = any(word in name for word in ("SECRET", "TOKEN", "PASSWORD", "URL"))
        shown = not secret and not isinstance(error.get("input"), dict)
        parts.append(f"{name}: {error['msg']}" + (f" (got {error['input']!r})" if shown else ""))
    return "; ".join(parts)


def reset_settings_cache() -> None:
    get_settings.cache_clear()


def sqlite_path(url: str) -> str | None:
    """The file path of a SQLite URL (None for memory or another backend)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return os.path.abspath(path) if path and path != ":memory:" else None
