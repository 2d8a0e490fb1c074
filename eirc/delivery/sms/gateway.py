"""What the gateway adapters share: one HTTP client per adapter, the HTTP-level verdict, reading a JSON body.

A gateway's HTTP status says little (SMSC and SMS.ru answer 200 when they refuse), but what it does say is
read the same way everywhere:

| HTTP | verdict |
|---|---|
| 2xx | the adapter reads the body |
| 401, 403, 407 | operator problem (credentials refused): retried, logged loudly |
| 402 | operator problem (the account's balance) |
| 404, 405, 410 | operator problem (EIRC_SMS_URL does not point at the gateway) |
| 408, 425, 429, 5xx | retried, honouring `Retry-After` |
| other 4xx | the adapter reads the body; failed for good unless it says otherwise |
| 1xx, 3xx | retried (redirects are not followed) |
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from eirc.delivery.base import OperatorError, RetryableError
from eirc.delivery.http_base import USER_AGENT, post_or_raise, retry_after_seconds

_MAX_TEXT = 200


class NoSuchEndpoint(OperatorError):
    """HTTP 404/405/410: nothing answers at this path (EIRC_SMS_URL points elsewhere, or the gateway lacks it)."""


class GatewayAdapter:
    """An HTTP gateway at `base_url` (scheme and host; the adapter appends its documented paths)."""

    name = "gateway"

    def __init__(
        self, base_url: str, *, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST to the gateway; a transport failure is a RetryableError (ambiguous once the request was sent).
        Form fields go in the body, never in the URL: the URL ends up in access logs, the body holds the
        credentials and the code."""
        return await post_or_raise(self._client, self.base_url + path, **kwargs)

    async def aclose(self) -> None:
        await self._client.aclose()


def refuse_by_status(response: httpx.Response, gateway: str) -> None:
    """Raise for the HTTP statuses every gateway means the same by; return for 2xx and other 4xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = f"{gateway}: HTTP {status}" + _with(body_text(response))
    if status in (401, 403, 407):
        raise OperatorError(f"{detail} — credentials refused (check EIRC_SMS_LOGIN / EIRC_SMS_TOKEN)")
    if status == 402:
        raise OperatorError(f"{detail} — the gateway wants payment (the account's balance)")
    if status in (404, 405, 410):
        raise NoSuchEndpoint(f"{detail} — no such endpoint (check EIRC_SMS_URL)")
    if status in (408, 425, 429) or status >= 500:
        raise RetryableError(detail, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    if status < 200 or 300 <= status < 400:
        raise RetryableError(f"{detail} (unexpected)")


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON document, or None when it is not JSON."""
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def body_text(response: httpx.Response) -> str:
    """The start of the answer's body on one line, for a reason shown to support."""
    try:
        text = response.text
    except Exception:  # an undecodable body says nothing useful
        return ""
    return short(text)


def short(text: Any) -> str:
    return " ".join(str(text).split())[:_MAX_TEXT]


def _with(text: str) -> str:
    return f": {text}" if text else ""


def digits(phone: str) -> str:
    """`+79161234567` → `79161234567`: the gateways take international numbers without the plus."""
    return phone.lstrip("+")


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
