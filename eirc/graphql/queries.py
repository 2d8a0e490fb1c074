"""Root queries that belong to no journey."""

from __future__ import annotations

import strawberry

from eirc.domain.password import RULES
from eirc.graphql.errors import PasswordRule
from eirc.graphql.types import BillingPeriod
from eirc.services import billing


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
