"""GraphQL types of CONTRACT §3 (shared by every journey module)."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from eirc.graphql.errors import UserError


@strawberry.enum
class FlowKind(Enum):
    REGISTRATION = "REGISTRATION"
    PASSWORD_RESET = "PASSWORD_RESET"
    LOGIN = "LOGIN"


@strawberry.enum
class FlowStep(Enum):
    CODE = "CODE"
    ACCOUNT = "ACCOUNT"
    ADDRESS = "ADDRESS"
    PERSONAL = "PERSONAL"
    PASSWORD = "PASSWORD"
    CONNECTION_REQUEST = "CONNECTION_REQUEST"
    LOGIN = "LOGIN"
    DONE = "DONE"


@strawberry.type(description="What was entered in a flow's finished steps, to prefill a screen after «Назад»")
class FlowData:
    period: str | None = None
    account_number: str | None = None
    amount_due: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    birth_date: dt.date | None = None
    email: str | None = None
    email_notifications: bool | None = None


@strawberry.type(description="A registration / password-reset / login flow started by `startPhone`")
class Flow:
    id: strawberry.ID
    kind: FlowKind
    step: FlowStep
    phone: str
    expires_at: dt.datetime
    resend_available_in_seconds: int
    address: str | None = None
    phone_verified: bool = strawberry.field(
        default=False, description="The SMS code was confirmed: back at CODE, confirmCode needs no code"
    )
    data: FlowData = strawberry.field(default_factory=FlowData, description="Values entered so far")


@strawberry.type
class FlowPayload:
    flow: Flow | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Session:
    token: str
    expires_at: dt.datetime


@strawberry.type
class Address:
    id: strawberry.ID
    number: int
    text: str
    account_number: str
    primary: bool
    ebill: bool = strawberry.field(description="The e-bill is in effect: chosen, and the e-mail is confirmed")
    ebill_paused: bool = strawberry.field(
        default=False, description="The e-bill is chosen but waits for the (new) e-mail to be confirmed"
    )


@strawberry.type
class Profile:
    id: strawberry.ID
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: dt.date | None
    phone: str
    email: str | None
    email_confirmed: bool
    email_notifications: bool
    gosuslugi_linked: bool
    addresses: list[Address]


@strawberry.type
class AuthPayload:
    session: Session | None = None
    profile: Profile | None = None
    flow: Flow | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProfilePayload:
    profile: Profile | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class BillingPeriod:
    value: str
    label: str
