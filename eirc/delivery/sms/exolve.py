"""MTS Exolve (docs.exolve.ru, SMS API «SendSMS»): `POST /messaging/v1/SendSMS` with
`Authorization: Bearer <EIRC_SMS_TOKEN>` (the application's API key) and the JSON body
`{"number": EIRC_SMS_SENDER, "destination": "79161234567", "text": "…"}` — `number` is the sender (a number or
an alpha name), `destination` the recipient.

Accepted: HTTP 200 `{"message_id": "…"}`. Anything else is not «sent»: a 200 without `message_id` is retried;
401/403 (the key), 402 (the balance), 404 (the address) are operator problems; 429 and 5xx are retried; a
400 or 422 is a refusal for good, with the gateway's `error.message` (or `message`) as the reason. Exolve
documents no client message id, so an ambiguous attempt is sent again.
"""

from __future__ import annotations

from typing import Any

import httpx

from eirc.delivery.base import OutgoingMessage, PermanentError, RetryableError, Sent
from eirc.delivery.sms.gateway import GatewayAdapter, body_text, digits, json_body, refuse_by_status, short

SEND_PATH = "/messaging/v1/SendSMS"


class ExolveAdapter(GatewayAdapter):
    name = "exolve"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        sender: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, transport=transport)
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self.sender = sender

    async def send(self, message: OutgoingMessage) -> Sent:
        document = {
            "number": self.sender,
            "destination": digits(message.recipient),
            "text": message.payload["text"],
        }
        response = await self.post(SEND_PATH, json=document, headers=self._headers)
        refuse_by_status(response, "Exolve")
        body = json_body(response)
        if 200 <= response.status_code < 300:
            if isinstance(body, dict) and body.get("message_id") not in (None, ""):
                return Sent(self.name, str(body["message_id"]))
            raise RetryableError(
                f"Exolve answered HTTP {response.status_code} without a message_id", ambiguous=True
            )
        raise PermanentError(f"Exolve refused (HTTP {response.status_code}): {_error_text(body, response)}")


def _error_text(body: Any, response: httpx.Response) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return short(error["message"])
        if isinstance(error, str) and error:
            return short(error)
        if body.get("message"):
            return short(body["message"])
    return body_text(response) or "no reason given"
