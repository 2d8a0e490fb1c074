"""An in-house SMS relay (CONTRACT §5): `POST EIRC_SMS_URL` `{"id": key, "phone": "+79161234567", "text": "…"}`
with `Authorization: Bearer <EIRC_SMS_TOKEN>` and `Idempotency-Key: <key>`.

HTTP statuses as CONTRACT §5 says (5xx, 429, timeouts retried; other 4xx failed for good), and the body of a
2xx is read too. A JSON object that says it refused is not «sent»:

- `"accepted": false`, `"success": false` or `"ok": false`;
- `"status"` one of `error`, `failed`, `failure`, `refused`, `rejected`;
- a non-empty `"error"` (and no `"accepted": true`).

Such a refusal is retried, or failed for good when the body also says `"permanent": true` or
`"retryable": false`; its `reason` / `message` / `error` text is kept. Any other 2xx is sent: an empty or
non-JSON body too (relays that answer 204), and `"status": "duplicate"` (the key was accepted before). The
message id recorded is the body's `message_id`, else its `id`, else the idempotency key.
"""

from __future__ import annotations

from typing import Any

import httpx

from eirc.delivery.base import OutgoingMessage, PermanentError, RetryableError, Sent
from eirc.delivery.http_base import HttpJsonAdapter
from eirc.delivery.sms.gateway import json_body, short

REFUSING_STATUSES = frozenset({"error", "failed", "failure", "refused", "rejected"})


class RelayAdapter(HttpJsonAdapter):
    name = "relay"

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        return {"id": message.idempotency_key, "phone": message.recipient, "text": message.payload["text"]}

    def verdict(self, message: OutgoingMessage, response: httpx.Response) -> Sent:
        body = json_body(response) if response.content else None
        if isinstance(body, dict) and refused(body):
            reason = f"relay refused in its HTTP {response.status_code} answer: {explanation(body)}"
            if body.get("permanent") is True or body.get("retryable") is False:
                raise PermanentError(reason)
            raise RetryableError(reason)
        message_id = None
        if isinstance(body, dict):
            for key in ("message_id", "id"):
                if isinstance(body.get(key), str | int) and not isinstance(body.get(key), bool):
                    message_id = str(body[key])
                    break
        return Sent(self.name, message_id or message.idempotency_key)


def refused(body: dict[str, Any]) -> bool:
    if any(body.get(flag) is False for flag in ("accepted", "success", "ok")):
        return True
    if str(body.get("status", "")).strip().lower() in REFUSING_STATUSES:
        return True
    return bool(body.get("error")) and body.get("accepted") is not True


def explanation(body: dict[str, Any]) -> str:
    for key in ("reason", "message", "error", "status"):
        value = body.get(key)
        if value:
            return short(value if isinstance(value, str) else str(value))
    return "no reason given"
