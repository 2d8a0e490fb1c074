"""The schema: root types merged from one small module per journey."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.extensions import DisableIntrospection
from strawberry.schema.config import StrawberryConfig

from eirc.graphql.connection_requests import ConnectionRequestMutation
from eirc.graphql.gosuslugi import GosuslugiMutation
from eirc.graphql.limits import ArgumentChecks, LoggedSchema, camel, schema_extensions
from eirc.graphql.me import MeQuery
from eirc.graphql.observe import observed, root_field_names
from eirc.graphql.profile import ProfileMutation
from eirc.graphql.queries import BaseQuery
from eirc.graphql.registration import RegistrationMutation, RegistrationQuery
from eirc.graphql.signin import SigninMutation
from eirc.graphql.types import DATE


@strawberry.type(
    description="What a screen reads: the signed-in resident, a flow, the texts and settings of screens"
)
class Query(BaseQuery, MeQuery, RegistrationQuery):
    pass


@strawberry.type(
    description="What a screen does: the steps of registration and password reset, sign-in, the profile, "
    "connection requests, Госуслуги. Every payload carries `errors` (empty on success)"
)
class Mutation(
    RegistrationMutation, SigninMutation, ProfileMutation, ConnectionRequestMutation, GosuslugiMutation
):
    pass


def _limit_arguments(*roots: type | None) -> None:
    """Every root field with arguments gets its string arguments' length checked first."""
    for root in roots:
        if root is None:
            continue
        for field in root.__strawberry_definition__.fields:
            if field.arguments and not any(isinstance(e, ArgumentChecks) for e in field.extensions):
                field.extensions.append(ArgumentChecks())


# Every argument's description, by its GraphQL name; (field, argument) where one name means more than one thing.
ARGUMENT_DESCRIPTIONS: dict[str, str] = {
    "id": "The flow's id (`startPhone` gave it)",
    "flowId": "The flow's id (`startPhone` gave it)",
    "phone": "The phone number as typed: +7 916 123 45 67, 89161234567, 8 (916) 123-45-67, 9161234567",
    "consent": "«Даю согласие на обработку персональных данных» is ticked",
    "code": "The code from the SMS",
    "period": "The billing period, YYYY-MM (one of `billingPeriods`)",
    "accountNumber": "«Лицевой счет» as typed",
    "amountDue": "«Сумма к оплате, ₽» as typed: 300, 300.00, 300,5, 1 234,56",
    "lastName": "Фамилия",
    "firstName": "Имя",
    "middleName": "Отчество (if there is one)",
    "birthDate": "Дата рождения, YYYY-MM-DD (optional)",
    "email": "Электронная почта",
    "emailNotifications": "«Согласен получать уведомления по E-mail»",
    "password": "The password",
    "token": "The token of the confirmation link (`/confirm-email?token=…`)",
    "login": "The login: a phone number in any spelling, or a confirmed e-mail",
    "currentPassword": "The password now",
    "newPassword": "The new password (the same rules as at registration)",
    "addressId": "The id of one of the resident's addresses",
    "enabled": "On (subscribe) or off",
    "address": "«Ваш адрес»: city, street, building",
    "flat": "«Квартира» (if there is one)",
    "state": "The `state` the provider sent back",
}
FIELD_ARGUMENT_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("gosuslugiComplete", "code"): "The authorization code the provider sent back",
    ("updateProfile", "lastName"): "Фамилия (omitted: unchanged)",
    ("updateProfile", "firstName"): "Имя (omitted: unchanged)",
    ("updateProfile", "middleName"): "Отчество (omitted: unchanged; null: none)",
    ("updateProfile", "birthDate"): "Дата рождения, YYYY-MM-DD (omitted: unchanged; null: none)",
    ("updateProfile", "email"): "A new e-mail: unconfirmed until its link is opened (omitted: unchanged)",
    ("updateProfile", "emailNotifications"): "The notifications switch (omitted: unchanged)",
}


def _describe_arguments(*roots: type | None) -> None:
    """Every argument of a root field gets its description from the tables above (one place, one text)."""
    for root in roots:
        if root is None:
            continue
        for field in root.__strawberry_definition__.fields:
            name = field.graphql_name or camel(field.python_name)
            for argument in field.arguments:
                arg = argument.graphql_name or camel(argument.python_name)
                text = FIELD_ARGUMENT_DESCRIPTIONS.get((name, arg)) or ARGUMENT_DESCRIPTIONS.get(arg)
                if text is None:
                    raise LookupError(
                        f"no description for the argument {name}({arg}:) in eirc/graphql/schema.py"
                    )
                argument.description = argument.description or text


def build_schema(extensions: list | None = None) -> strawberry.Schema:
    _limit_arguments(Query, Mutation)
    _describe_arguments(Query, Mutation)
    # Counted and timed first, so the time covers the other extensions' work too (graphql/observe.py).
    metered = observed(root_field_names(Query, Mutation))
    return LoggedSchema(
        query=Query,
        mutation=Mutation,
        extensions=[metered, *(schema_extensions() if extensions is None else extensions)],
        # a date that is not one is INVALID_DATE, not a GraphQL error
        config=StrawberryConfig(scalar_map={dt.date: DATE}),
    )


schema = build_schema()
# For a gateway whose GraphiQL and introspection are off (EIRC_GRAPHIQL, the default in production).
closed_schema = build_schema([*schema_extensions(), DisableIntrospection])


def schema_sdl() -> str:
    return schema.as_str().rstrip() + "\n"
