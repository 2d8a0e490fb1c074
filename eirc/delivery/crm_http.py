"""«Домопульт» (the support CRM) over HTTP (CONTRACT §5).

`{"id": key, "type": "registration" | "connection_request", "occurred_at": ISO 8601, "data": {…}}`; the
outbox row's payload holds `{"type", "occurred_at", "data"}` (see `messages.queue_crm`).
"""

from __future__ import annotations

from typing import Any

from eirc.delivery.base import OutgoingMessage
from eirc.delivery.http_base import HttpJsonAdapter


class CrmHttpAdapter(HttpJsonAdapter):
    name = "crm-http"

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        payload = message.payload
        return {
            "id": message.idempotency_key,
            "type": payload.get("type", message.kind),
            "occurred_at": payload.get("occurred_at"),
            "data": payload.get("data", {}),
        }
