"""SMS Aero, API v2 (smsaero.ru/integration/documentation/api): `POST /v2/sms/send` with HTTP Basic
(EIRC_SMS_LOGIN = the account's e-mail, EIRC_SMS_TOKEN = the API key) and the JSON body
`{"number": "79161234567", "text": "…", "sign": EIRC_SMS_SENDER}`.

The answer carries its verdict in `success`:

    {"success": true, "data": {"id": 686325, "status": 0, "extendStatus": "queue", …}, "message": null}
    {"success": false, "data": null, "message": "Validation error."}

`success: true` with a message id is «sent» — unless the message is already `rejected` (status 6). A
`success: false` is read with its HTTP status and its `message`: credentials and balance are operator
problems, a validation error is a refusal for good (unless it is about the sign, the operator's setting).
SMS Aero takes no client message id, so an ambiguous attempt is sent again. Unlike SMS Aero's own client,
this adapter never falls back to another host nor to plain http.
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

SEND_PATH = "/v2/sms/send"
REJECTED = 6  # data.status: «rejected»

_OPERATOR_WORDS = (
    "credential",
    "auth",
    "api key",
    "apikey",
    "password",
    "balance",
    "money",
    "credit",
    "payment",
)
_RETRY_WORDS = ("limit", "too many", "try again", "temporar", "unavailable")


class SmsAeroAdapter(GatewayAdapter):
    name = "smsaero"

    def __init__(
        self,
        base_url: str,
        *,
        email: str,
        api_key: str,
        sign: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, transport=transport)
        self._auth = httpx.BasicAuth(email, api_key)
        self.sign = sign

    async def send(self, message: OutgoingMessage) -> Sent:
        document = {"number": digits(message.recipient), "text": message.payload["text"], "sign": self.sign}
        response = await self.post(SEND_PATH, json=document, auth=self._auth)
        body = json_body(response)
        if isinstance(body, dict) and body.get("success") is False and response.status_code in (400, 422):
            raise refusal(body, response.status_code)
        refuse_by_status(response, "SMS Aero")
        if not isinstance(body, dict):
            raise RetryableError("SMS Aero answered without a JSON verdict", ambiguous=True)
        if body.get("success") is not True:
            raise refusal(body, response.status_code)
        data = body.get("data")
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict) or data.get("id") in (None, ""):
            raise RetryableError("SMS Aero answered success without a message id", ambiguous=True)
        if as_int(data.get("status")) == REJECTED or str(data.get("extendStatus", "")).lower() == "reject":
            raise PermanentError(
                f"SMS Aero rejected the message (status {data.get('status')})", message_id=str(data["id"])
            )
        return Sent(self.name, str(data["id"]))


def refusal(body: dict[str, Any], status: int) -> DeliveryError:
    """`success: false`: what the message says, with the HTTP status it came with."""
    text = short(body.get("message") or body.get("result") or "no message")
    details = body.get("data")
    fields = sorted(details) if isinstance(details, dict) else []
    reason = f"SMS Aero refused (HTTP {status}): {text}" + (f" [{', '.join(fields)}]" if fields else "")
    lowered = text.lower()
    if (
        "sign" in fields
        or any(word in lowered for word in _OPERATOR_WORDS)
        or body.get("result") == "no credits"
    ):
        return OperatorError(reason)
    if any(word in lowered for word in _RETRY_WORDS):
        return RetryableError(reason)
    if status in (400, 422):
        return PermanentError(reason)
    return RetryableError(
        reason
    )  # `success: false` with HTTP 200 and words we do not know: not sent, retried
