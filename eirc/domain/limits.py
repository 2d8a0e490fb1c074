"""How long each input may be, in characters — one table for the domain's parsers and the GraphQL door.

The door (eirc/graphql/limits.py) refuses an over-long argument with ``TOO_LONG`` before any work is done;
the parsers refuse the same lengths when they are reached another way (the command line, a CSV file).
The lengths fit what people type and what the columns hold (eirc/storage/tables.py).
"""

from __future__ import annotations

PHONE = 64  # a phone as typed: «+7 (916) 123-45-67», with room for spaces
EMAIL = 254  # RFC 5321's path limit
LOGIN = EMAIL  # a phone or an e-mail
SMS_CODE = 32  # the typed code (EIRC_CODE_LENGTH digits, spaces dropped)
PASSWORD = 128
FLOW_ID = 128  # the public flow id (a 43-character token)
TOKEN = 512  # bearer tokens, e-mail confirmation tokens
ACCOUNT_NUMBER = 64  # as typed; stored account numbers are at most 32
AMOUNT = 64  # «1 234,56» as typed
PERIOD = 16  # «2021-06»
NAME = 100  # last, first and middle names
ADDRESS = 300  # the connection request's «Ваш адрес»
FLAT = 20
ADDRESS_ID = 64
OIDC_STATE = 256
OIDC_CODE = 4096  # a provider's authorization code may be a signed JWT
OIDC_SUBJECT = 255  # app_user.gosuslugi_sub
REASON = 1000  # a support engineer's reason for rejecting a request
ACTOR = 100  # a support engineer's name
DEFAULT = 300  # any other string argument

# GraphQL argument name → its limit (the door's table; an argument not named here gets DEFAULT).
ARGUMENTS: dict[str, int] = {
    "phone": PHONE,
    "login": LOGIN,
    "code": SMS_CODE,
    "password": PASSWORD,
    "currentPassword": PASSWORD,
    "newPassword": PASSWORD,
    "flowId": FLOW_ID,
    "id": FLOW_ID,
    "token": TOKEN,
    "state": OIDC_STATE,
    "period": PERIOD,
    "accountNumber": ACCOUNT_NUMBER,
    "amountDue": AMOUNT,
    "lastName": NAME,
    "firstName": NAME,
    "middleName": NAME,
    "email": EMAIL,
    "address": ADDRESS,
    "flat": FLAT,
    "addressId": ADDRESS_ID,
}
# Where one argument name means something longer: (field, argument) → limit.
FIELD_ARGUMENTS: dict[tuple[str, str], int] = {
    ("gosuslugiComplete", "code"): OIDC_CODE,
}


def max_length_of(argument: str, field: str | None = None) -> int:
    if field is not None and (field, argument) in FIELD_ARGUMENTS:
        return FIELD_ARGUMENTS[(field, argument)]
    return ARGUMENTS.get(argument, DEFAULT)
