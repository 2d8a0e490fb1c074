"""GraphQL types of CONTRACT §3 (shared by every journey module). Every type, field and argument carries a
description: `schema.graphql` is what frontend teams generate their types from."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import strawberry

from eirc.domain.personal import UnreadableDate
from eirc.graphql.errors import UserError
from eirc.services.email_confirmation import letter_wait


def _parse_date(value: Any) -> dt.date | UnreadableDate:
    """A `Date` as sent: YYYY-MM-DD; any other text is passed on to be refused as INVALID_DATE on its field
    (a UserError, never a GraphQL error in English)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10 and text[4] == "-" and text[7] == "-":
                return dt.date.fromisoformat(text)
        except ValueError:
            pass
        return UnreadableDate(value)
    raise ValueError("a Date is a string, YYYY-MM-DD")


# `datetime.date` as GraphQL `Date` (StrawberryConfig.scalar_map in graphql/schema.py).
DATE = strawberry.scalar(
    name="Date",
    description="A calendar date, YYYY-MM-DD (e.g. 1985-04-12). Any other text is answered INVALID_DATE",
    serialize=lambda value: value.isoformat(),
    parse_value=_parse_date,
)


@strawberry.enum(description="What a flow is for")
class FlowKind(Enum):
    REGISTRATION = strawberry.enum_value("REGISTRATION", description="A new resident registering")
    PASSWORD_RESET = strawberry.enum_value(
        "PASSWORD_RESET", description="A new password by SMS («Я забыл пароль», or a user without one)"
    )
    LOGIN = strawberry.enum_value("LOGIN", description="A registered number: go to the login screen")


@strawberry.enum(description="The screen a flow is at")
class FlowStep(Enum):
    CODE = strawberry.enum_value("CODE", description="The SMS code screen")
    ACCOUNT = strawberry.enum_value("ACCOUNT", description="«Регистрация: лицевой счет»")
    ADDRESS = strawberry.enum_value("ADDRESS", description="«Это ваш адрес?»")
    PERSONAL = strawberry.enum_value("PERSONAL", description="«Регистрация: личные данные»")
    PASSWORD = strawberry.enum_value("PASSWORD", description="«Регистрация: установите пароль»")
    CONNECTION_REQUEST = strawberry.enum_value("CONNECTION_REQUEST", description="«Заявка на подключение»")
    LOGIN = strawberry.enum_value("LOGIN", description="«Вход: логин и пароль»")
    DONE = strawberry.enum_value("DONE", description="Finished: registered, or the request filed")


@strawberry.type(
    description="What was entered in a flow's steps, to prefill a screen after «Назад» or an error"
)
class FlowData:
    period: str | None = strawberry.field(default=None, description="The billing period chosen, YYYY-MM")
    account_number: str | None = strawberry.field(default=None, description="The account number typed")
    amount_due: str | None = strawberry.field(default=None, description="The amount typed, as typed")
    last_name: str | None = strawberry.field(default=None, description="Фамилия")
    first_name: str | None = strawberry.field(default=None, description="Имя")
    middle_name: str | None = strawberry.field(default=None, description="Отчество")
    birth_date: dt.date | None = strawberry.field(default=None, description="Дата рождения")
    email: str | None = strawberry.field(default=None, description="Электронная почта")
    email_notifications: bool | None = strawberry.field(
        default=None, description="«Согласен получать уведомления по E-mail»"
    )


@strawberry.type(description="A registration / password-reset / login flow started by `startPhone`")
class Flow:
    id: strawberry.ID = strawberry.field(description="The flow's id: pass it to every step's mutation")
    kind: FlowKind = strawberry.field(description="What the flow is for")
    step: FlowStep = strawberry.field(description="The screen to show now")
    phone: str = strawberry.field(
        description="The phone, normalised (+79161234567), or masked for a reset by e-mail"
    )
    expires_at: dt.datetime = strawberry.field(description="When the flow ends unless finished")
    resend_available_in_seconds: int = strawberry.field(
        description="Seconds until «Отправить код повторно» will be accepted (the cooldown and the per-number "
        "SMS caps); 0: now"
    )
    address: str | None = strawberry.field(
        default=None, description="The proven account's address («Это ваш адрес?»), from step ADDRESS on"
    )
    phone_verified: bool = strawberry.field(
        default=False, description="The SMS code was confirmed: back at CODE, confirmCode needs no code"
    )
    data: FlowData = strawberry.field(default_factory=FlowData, description="Values entered so far")


@strawberry.type(description="The answer of a flow's step: the flow as it now stands, or the errors")
class FlowPayload:
    flow: Flow | None = strawberry.field(default=None, description="The flow (null once cancelled)")
    errors: list[UserError] = strawberry.field(default_factory=list, description="Empty on success")


@strawberry.type(description="A signed-in session")
class Session:
    token: str = strawberry.field(description="Send it as `Authorization: Bearer <token>`")
    expires_at: dt.datetime = strawberry.field(description="When the session ends by itself")


@strawberry.type(description="One of the resident's addresses (a billing account)")
class Address:
    id: strawberry.ID = strawberry.field(description="The address's id (for setPrimaryAddress, …)")
    number: int = strawberry.field(description="N of «Адрес N», 1… in the order added")
    text: str = strawberry.field(description="The address in the billing centre's format")
    account_number: str = strawberry.field(description="The billing account number")
    primary: bool = strawberry.field(description="«Основной»")
    ebill: bool = strawberry.field(description="The e-bill is in effect: chosen, and the e-mail is confirmed")
    ebill_paused: bool = strawberry.field(
        default=False, description="The e-bill is chosen but waits for the (new) e-mail to be confirmed"
    )


@strawberry.type(description="«Мой профиль»")
class Profile:
    id: strawberry.ID = strawberry.field(description="The resident's id")
    last_name: str = strawberry.field(description="Фамилия")
    first_name: str = strawberry.field(description="Имя")
    middle_name: str | None = strawberry.field(description="Отчество")
    birth_date: dt.date | None = strawberry.field(description="Дата рождения")
    phone: str = strawberry.field(description="The phone, normalised (+79161234567)")
    email: str | None = strawberry.field(description="The e-mail")
    email_confirmed: bool = strawberry.field(description="The e-mail's link was opened: it is a login")
    email_notifications: bool = strawberry.field(
        description="«Получать на почту уведомления о статусе заявок, платежные документы»"
    )
    gosuslugi_linked: bool = strawberry.field(description="«Профиль привязан» (Госуслуги)")
    addresses: list[Address] = strawberry.field(description="«Адреса», numbered")
    email_letter_sent_at: strawberry.Private[dt.datetime | None] = None

    @strawberry.field(
        description="Seconds until `resendConfirmationEmail` may send another letter (0: now, or confirmed)"
    )
    def confirmation_letter_available_in_seconds(self, info: strawberry.Info) -> int:
        if self.email_confirmed:
            return 0
        return letter_wait(self.email_letter_sent_at, info.context.container.clock.now())


@strawberry.type(description="The answer of a sign-in or of a flow's last step")
class AuthPayload:
    session: Session | None = strawberry.field(default=None, description="The new session, when signed in")
    profile: Profile | None = strawberry.field(
        default=None, description="The resident's profile, when signed in"
    )
    flow: Flow | None = strawberry.field(default=None, description="The flow as it now stands")
    errors: list[UserError] = strawberry.field(default_factory=list, description="Empty on success")


@strawberry.type(description="The answer of a profile change: the whole profile after it, or the errors")
class ProfilePayload:
    profile: Profile | None = strawberry.field(
        default=None, description="The profile (as it stands, with errors); null without a session"
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description="Empty on success")


@strawberry.type(description="A billing period a resident may choose")
class BillingPeriod:
    value: str = strawberry.field(description="YYYY-MM, to send as `period`")
    label: str = strawberry.field(description="As the screen shows it: «июнь 2021»")


@strawberry.type(description="A text a screen shows (uiTexts); keys are stable, docs/frontend.md lists them")
class UiText:
    key: str = strawberry.field(description="«screen.element», e.g. `login.title`, `error.INVALID_CODE`")
    text: str = strawberry.field(description="The Russian text; `{name}` marks a value the screen fills in")


@strawberry.type(description="What a screen must know in advance")
class ClientConfig:
    code_length: int = strawberry.field(description="Digits in an SMS code")
    resend_seconds: int = strawberry.field(description="Seconds between two SMS codes of one flow")
    password_min_length: int = strawberry.field(description="The shortest password allowed")
    gosuslugi_enabled: bool = strawberry.field(description="Whether «Вход через портал Госуслуги» is shown")
    terms_version: str = strawberry.field(description="The version of the terms of use accepted on «Далее»")
    terms_url: str | None = strawberry.field(description="«условиями использования»: the document, if any")
    personal_data_policy_url: str | None = strawberry.field(
        description="«обработку персональных данных»: the document, if any"
    )
