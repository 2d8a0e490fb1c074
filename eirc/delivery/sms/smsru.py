"""SMS.ru (sms.ru/api/send): `POST /sms/send` with `api_id`, `to` (digits), `msg`, `json=1`, and `from`
(EIRC_SMS_SENDER) when set, as a form in the body.

SMS.ru answers HTTP 200 whatever the verdict, in two levels:

    {"status": "OK", "status_code": 100,
     "sms": {"79161234567": {"status": "OK", "status_code": 100, "sms_id": "000000-10000000"}},
     "balance": 4122.56}
    {"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"}

The request's `status` says whether it was taken at all (authorisation, sender, balance, …); the number's own
entry says whether *this* message was accepted (`status_code` 100) — a request can be OK while the number is
refused (207: no route). Only a number's `OK` / 100 is «sent» (its `sms_id` recorded). SMS.ru takes no client message id
and its status call needs the `sms_id`, which an attempt that timed out never got: after an ambiguous
attempt the message is sent again (SMS.ru itself refuses an identical message to the number within a
minute, code 231, which is retried).
"""

from __future__ import annotations

from typing import Any

import httpx

from eirc.delivery.base import (
    DeliveryError,
    OperatorError,
    OutgoingMessage,
    PermanentError,
    RetryableError,
    Sent,
)
from eirc.delivery.sms.gateway import GatewayAdapter, as_int, digits, json_body, refuse_by_status, short

SEND_PATH = "/sms/send"
ACCEPTED = 100

RETRY, OPERATOR, PERMANENT = "retry", "operator", "permanent"
# status_code → (what it means, verdict); an unknown code is retried.
CODES: dict[int, tuple[str, str]] = {
    150: ("no route to this number", PERMANENT),
    200: ("wrong api_id", OPERATOR),
    201: ("not enough money on the account", OPERATOR),
    202: ("wrong recipient", PERMANENT),
    203: ("no message text", PERMANENT),
    204: ("sender name not approved", OPERATOR),
    205: ("message too long", PERMANENT),
    206: ("the account's daily limit is reached", OPERATOR),
    207: ("messages cannot be sent to this number", PERMANENT),
    208: ("wrong time parameter", PERMANENT),
    209: ("the number is in the account's stop list", PERMANENT),
    210: ("GET used where POST is required", OPERATOR),
    211: ("method not found", OPERATOR),
    212: ("the text must be UTF-8", OPERATOR),
    213: ("too many recipients", PERMANENT),
    214: ("the number is abroad and the account sends to Russia only", PERMANENT),
    215: ("the number is in SMS.ru's stop list", PERMANENT),
    216: ("the text holds a forbidden word", PERMANENT),
    217: ("the text needs a mandatory phrase", PERMANENT),
    220: ("service temporarily unavailable", RETRY),
    221: ("a letter sender name is required", OPERATOR),
    230: ("daily limit of messages to this number", RETRY),
    231: ("limit of identical messages to this number per minute", RETRY),
    232: ("limit of identical messages to this number per day", RETRY),
    233: ("limit of repeated codes to this number", RETRY),
    300: ("wrong token", OPERATOR),
    301: ("wrong password, or no such user", OPERATOR),
    302: ("account not confirmed", OPERATOR),
    500: ("server error", RETRY),
    501: ("limit: too many messages from TOR addresses", RETRY),
    502: ("limit: the address does not match its country", RETRY),
    503: ("limit: too many messages to this country", RETRY),
    504: ("limit: too many codes abroad", RETRY),
    505: ("limit: too many messages to one IP address", RETRY),
    506: ("limit: too many messages from hosting addresses", RETRY),
    507: ("wrong user IP address", PERMANENT),
    508: ("limit: too many calls", RETRY),
    550: ("country blocked", PERMANENT),
}


class SmsRuAdapter(GatewayAdapter):
    name = "smsru"

    def __init__(
        self,
        base_url: str,
        *,
        api_id: str,
        sender: str | None = None,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, transport=transport)
        self._api_id = api_id
        self.sender = sender

    async def send(self, message: OutgoingMessage) -> Sent:
        phone = digits(message.recipient)
        form: dict[str, Any] = {
            "api_id": self._api_id,
            "to": phone,
            "msg": message.payload["text"],
            "json": 1,
        }
        if self.sender:
            form["from"] = self.sender
        response = await self.post(SEND_PATH, data=form)
        refuse_by_status(response, "SMS.ru")
        return self.verdict(response, phone)

    def verdict(self, response: httpx.Response, phone: str) -> Sent:
        body = json_body(response)
        if not isinstance(body, dict):
            raise RetryableError("SMS.ru answered without a JSON verdict (json=1)", ambiguous=True)
        if not _ok(body, required=False):
            raise refusal(body, "request")
        entries = body.get("sms")
        entry = _entry_for(entries, phone) if isinstance(entries, dict) else None
        if not isinstance(entry, dict):
            raise RetryableError(
                "SMS.ru accepted the request but gave no result for the number", ambiguous=True
            )
        if not _ok(entry, required=True):
            raise refusal(entry, "number")
        sms_id = entry.get("sms_id")
        return Sent(self.name, str(sms_id) if sms_id not in (None, "") else None)


def _ok(answer: dict[str, Any], *, required: bool) -> bool:
    """`"status": "OK"` with `"status_code": 100`; a request-level answer may leave either out, a number's
    entry must say at least one and contradict neither."""
    status, code = answer.get("status"), as_int(answer.get("status_code"))
    if status is not None and str(status).upper() != "OK":
        return False
    if answer.get("status_code") is not None and code != ACCEPTED:
        return False
    return not required or status is not None or code is not None


def _entry_for(entries: dict[str, Any], phone: str) -> Any:
    for key in (phone, "+" + phone):
        if key in entries:
            return entries[key]
    return next(iter(entries.values())) if len(entries) == 1 else None


def refusal(answer: dict[str, Any], level: str) -> DeliveryError:
    code = as_int(answer.get("status_code"))
    if code == ACCEPTED:  # "status": "ERROR" with code 100 contradicts itself: do not count it as sent
        meaning, verdict = "contradictory answer", RETRY
    else:
        meaning, verdict = CODES.get(code or 0, ("unknown status code", RETRY))
    reason = f"SMS.ru {level} refused, code {code if code is not None else '?'} ({meaning})"
    if answer.get("status_text"):
        reason += f": {short(answer['status_text'])}"
    if verdict == OPERATOR:
        return OperatorError(reason)
    if verdict == PERMANENT:
        return PermanentError(reason)
    return RetryableError(reason)
