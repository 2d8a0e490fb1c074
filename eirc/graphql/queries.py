"""Root queries that belong to no journey: what every screen reads before the resident types anything."""

from __future__ import annotations

import strawberry

from eirc.domain.password import MIN_PASSWORD_LENGTH, RULES
from eirc.domain.texts import UI_TEXTS
from eirc.graphql.errors import PasswordRule
from eirc.graphql.types import BillingPeriod, ClientConfig, UiText
from eirc.identity import configured_protocol
from eirc.services import billing

_UI_TEXTS = [UiText(key=key, text=text) for key, text in UI_TEXTS.items()]


@strawberry.type
class BaseQuery:
    @strawberry.field(description="The last three billed months, newest first")
    async def billing_periods(self, info: strawberry.Info) -> list[BillingPeriod]:
        container = info.context.container
        periods = await billing.billing_periods(container.uow, container.clock)
        return [BillingPeriod(value=p.value, label=p.label) for p in periods]

    @strawberry.field(description="The password rules, in the order a screen lists them")
    def password_rules(self) -> list[PasswordRule]:  # type: ignore[valid-type]
        return list(RULES)

    @strawberry.field(
        description="Every text a screen shows that is not a resident's data: titles, labels, hints, buttons, "
        "the password rules, every error's text (`error.<CODE>`); keys are stable (docs/frontend.md)"
    )
    def ui_texts(self) -> list[UiText]:
        return _UI_TEXTS

    @strawberry.field(description="What a screen must know in advance: lengths, delays, switches, documents")
    def client_config(self, info: strawberry.Info) -> ClientConfig:
        settings = info.context.container.settings
        return ClientConfig(
            code_length=settings.code_length,
            resend_seconds=settings.code_resend_seconds,
            password_min_length=MIN_PASSWORD_LENGTH,
            gosuslugi_enabled=configured_protocol(settings) is not None,
            terms_version=settings.terms_version,
            terms_url=settings.terms_url,
            personal_data_policy_url=settings.personal_data_policy_url,
        )
