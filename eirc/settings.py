"""All configuration, from the environment (prefix `EIRC_`) and `.env` — CONTRACT §2."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_PLACEHOLDER = "dev-insecure-secret-key"


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
    cors_origins: str = (
        ""  # comma-separated origins allowed by CORS; empty → no CORS headers (same origin only)
    )
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

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.database_url)


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
