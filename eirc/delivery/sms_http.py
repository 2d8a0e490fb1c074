"""SMS over the provider's HTTP API (CONTRACT §5): `{"id": key, "phone": "+7…", "text": "…"}`."""

from __future__ import annotations

from typing import Any

from eirc.delivery.base import OutgoingMessage
from eirc.delivery.http_base import HttpJsonAdapter


class SmsHttpAdapter(HttpJsonAdapter):
    name = "sms-http"

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        return {"id": message.idempotency_key, "phone": message.recipient, "text": message.payload["text"]}
