"""SQLModel tables. Every schema change goes through an Alembic migration (storage/migrations).

Secrets are never stored in clear: session ids, flow ids, e-mail tokens and OIDC states are kept as
SHA-256/HMAC digests (`*_hash` or a hashed primary key), SMS codes as HMAC digests, passwords as argon2id.
Identifiers are text (uuid4 hex) so the same schema works on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from eirc.storage.types import UTCDateTime


def new_id() -> str:
    return uuid.uuid4().hex


def ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


# --- billing data (imported from the billing centre) --------------------------------------------------
class BillingAccount(SQLModel, table=True):
    __tablename__ = "billing_account"
    account_number: str = Field(primary_key=True, max_length=32)
    address: str = Field(max_length=500)
    updated_at: datetime = ts()


class Bill(SQLModel, table=True):
    __tablename__ = "bill"
    account_number: str = Field(primary_key=True, foreign_key="billing_account.account_number", max_length=32)
    period: str = Field(primary_key=True, max_length=7)  # "YYYY-MM"
    amount_kopecks: int = Field(sa_type=BigInteger)
    __table_args__ = (Index("ix_bill_period", "period"),)


# --- residents ------------------------------------------------------------------------------------------
class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    phone: str = Field(unique=True, max_length=16)
    email: str | None = Field(default=None, unique=True, max_length=254)
    email_confirmed: bool = False
    email_notifications: bool = False
    last_name: str = Field(max_length=100)
    first_name: str = Field(max_length=100)
    middle_name: str | None = Field(default=None, max_length=100)
    birth_date: date | None = None
    password_hash: str | None = Field(default=None, max_length=255)
    password_changed_at: datetime | None = ts(default=None)
    gosuslugi_sub: str | None = Field(default=None, unique=True, max_length=255)
    source: str = Field(default="registration", max_length=20)  # registration | import | cli | gosuslugi
    email_letter_sent_at: datetime | None = ts(default=None)
    created_at: datetime = ts()
    updated_at: datetime = ts()


class UserAddress(SQLModel, table=True):
    __tablename__ = "user_address"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="app_user.id", index=True, max_length=32)
    account_number: str = Field(foreign_key="billing_account.account_number", max_length=32, index=True)
    position: int  # order added; "Адрес N" numbers are derived from it
    primary: bool = False
    ebill: bool = False
    created_at: datetime = ts()
    __table_args__ = (UniqueConstraint("user_id", "account_number", name="uq_user_address_account"),)


class Consent(SQLModel, table=True):
    __tablename__ = "consent"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    kind: str = Field(max_length=30)  # personal_data | terms
    phone: str = Field(max_length=16, index=True)
    flow_id: str | None = Field(default=None, max_length=64, index=True)
    user_id: str | None = Field(default=None, foreign_key="app_user.id", index=True, max_length=32)
    terms_version: str | None = Field(default=None, max_length=40)
    client_ip: str | None = Field(default=None, max_length=64)
    accepted_at: datetime = ts()


class Session(SQLModel, table=True):
    __tablename__ = "user_session"
    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of the bearer token
    user_id: str = Field(foreign_key="app_user.id", index=True, max_length=32)
    created_at: datetime = ts()
    expires_at: datetime = ts()
    last_used_at: datetime = ts()
    ended_at: datetime | None = ts(default=None)
    client_ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class EmailToken(SQLModel, table=True):
    __tablename__ = "email_token"
    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of the token in the link
    user_id: str = Field(foreign_key="app_user.id", index=True, max_length=32)
    email: str = Field(max_length=254)
    created_at: datetime = ts()
    expires_at: datetime = ts()
    used_at: datetime | None = ts(default=None)


# --- onboarding flows ------------------------------------------------------------------------------------
class Flow(SQLModel, table=True):
    __tablename__ = "flow"
    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of the public flow id
    kind: str = Field(max_length=20)  # REGISTRATION | PASSWORD_RESET | LOGIN
    step: str = Field(max_length=30)
    status: str = Field(default="active", max_length=20)  # active | done | cancelled
    phone: str = Field(max_length=16, index=True)
    user_id: str | None = Field(default=None, max_length=32)
    data: dict = Field(default_factory=dict, sa_type=JSON)  # entered values, kept across «Назад»
    history: list = Field(default_factory=list, sa_type=JSON)  # steps visited, for «Назад»
    code_hash: str | None = Field(default=None, max_length=128)
    code_sent_at: datetime | None = ts(default=None)
    code_expires_at: datetime | None = ts(default=None)
    code_attempts: int = 0
    code_verified: bool = False
    account_failures: int = 0
    created_at: datetime = ts()
    updated_at: datetime = ts()
    expires_at: datetime = ts()
    version: int = 0
    # The onboarding funnel (domain/funnel.py, `eirc stats funnel`): the furthest main-line step a registration
    # reached and the code of the last expected failure it met — a step and a code, never what was typed.
    furthest_step: str | None = Field(default=None, max_length=30)
    last_error: str | None = Field(default=None, max_length=40)
    __table_args__ = (Index("ix_flow_kind_created", "kind", "created_at"),)


# --- connection requests («Заявка на подключение») ---------------------------------------------------------
class ConnectionRequest(SQLModel, table=True):
    __tablename__ = "connection_request"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    flow_id: str | None = Field(default=None, unique=True, max_length=64)  # one request per flow
    phone: str = Field(max_length=16, index=True)
    last_name: str = Field(max_length=100)
    first_name: str = Field(max_length=100)
    middle_name: str | None = Field(default=None, max_length=100)
    address: str = Field(max_length=300)
    flat: str | None = Field(default=None, max_length=20)
    email: str = Field(max_length=254)
    email_notifications: bool = False
    account_number: str | None = Field(default=None, max_length=64)  # the account the resident tried, if any
    account_period: str | None = Field(default=None, max_length=7)  # …with the period and the amount typed
    account_amount_due: str | None = Field(default=None, max_length=64)
    status: str = Field(default="new", max_length=20, index=True)  # new | in_progress | resolved | rejected
    assignee: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = ts()
    updated_at: datetime = ts()


class ConnectionRequestEvent(SQLModel, table=True):
    __tablename__ = "connection_request_event"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    request_id: str = Field(foreign_key="connection_request.id", index=True, max_length=32)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    actor: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=1000)
    at: datetime = ts()


# --- deliveries: the transactional outbox ------------------------------------------------------------------
class Delivery(SQLModel, table=True):
    __tablename__ = "delivery"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    channel: str = Field(max_length=10)  # sms | email | crm
    kind: str = Field(max_length=40)  # sms_code, email_confirmation, registration, connection_request, …
    recipient: str = Field(max_length=254)
    payload: dict = Field(default_factory=dict, sa_type=JSON)  # no secret in clear
    secret_enc: str | None = Field(default=None, max_length=500)  # Fernet-encrypted secret while pending
    idempotency_key: str = Field(unique=True, max_length=64)
    status: str = Field(default="pending", max_length=10)  # pending | sent | dead
    attempts: int = 0
    next_attempt_at: datetime = ts()
    claimed_until: datetime | None = ts(default=None)
    claimed_by: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, max_length=1000)
    expires_at: datetime | None = ts(default=None)
    created_at: datetime = ts()
    sent_at: datetime | None = ts(default=None)
    # The gateway of the latest attempt (relay, smsc, smsru, smsaero, exolve, smtp, crm-http, dev-outbox) and the
    # id it gave the message; `ask_status_first`: that attempt may have reached the gateway unheard (a timeout
    # after the request was sent), so the next one asks the gateway's status call before sending again.
    gateway: str | None = Field(default=None, max_length=20)
    gateway_message_id: str | None = Field(default=None, max_length=100)
    ask_status_first: bool = False
    __table_args__ = (Index("ix_delivery_due", "status", "next_attempt_at"),)


# --- counters for limits that must hold across processes ---------------------------------------------------
class Counter(SQLModel, table=True):
    """A fixed-window counter or a lock, keyed by what is limited (e.g. `sms:hour:+7916…:2026112506`).

    Incremented with one atomic `INSERT … ON CONFLICT DO UPDATE … RETURNING`, so the limit holds when
    several gateway processes share the database.
    """

    __tablename__ = "counter"
    key: str = Field(primary_key=True, max_length=200)
    count: int = 0
    expires_at: datetime = ts(index=True)
    locked_until: datetime | None = ts(default=None)


# --- Госуслуги (OpenID Connect) ---------------------------------------------------------------------------
class OidcState(SQLModel, table=True):
    __tablename__ = "oidc_state"
    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of `state`
    nonce_hash: str = Field(max_length=64)
    verifier_enc: str = Field(max_length=500)  # PKCE code_verifier, encrypted with the secret key
    user_id: str | None = Field(default=None, max_length=32)  # set when linking a signed-in profile
    created_at: datetime = ts()
    expires_at: datetime = ts()
    used_at: datetime | None = ts(default=None)
