"""What the SMS provider and «Домопульт» adapters share (CONTRACT §5).

`POST <url>` with JSON, `Authorization: Bearer <token>` and `Idempotency-Key: <delivery key>` — the same
key on every retry and on replay, so a provider that honours it never delivers one message twice.
2xx: delivered. 5xx, 429, a timeout or a refused connection: retried. Other 4xx: failed for good.
"""

from __future__ import annotations

import abc
import email.utils
from datetime import UTC, datetime
from typing import Any

import httpx

from eirc.delivery.base import OutgoingMessage, PermanentError, RetryableError, Sent

USER_AGENT = "eirc-delivery/1"
_MAX_BODY_IN_ERROR = 200


class HttpJsonAdapter(abc.ABC):
    name = "http"

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self._token = token
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    @abc.abstractmethod
    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        """The JSON document the provider expects for this message."""

    async def send(self, message: OutgoingMessage) -> Sent | None:
        headers = {"Idempotency-Key": message.idempotency_key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        response = await post_or_raise(self._client, self.url, json=self.body(message), headers=headers)
        classify(response)
        return self.verdict(message, response)

    def verdict(self, message: OutgoingMessage, response: httpx.Response) -> Sent | None:
        """What a 2xx answer means; by default: delivered."""
        return None

    async def aclose(self) -> None:
        await self._client.aclose()


async def post_or_raise(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """POST, with a transport failure raised as RetryableError — `ambiguous` when the request may have reached
    the provider (a timeout or a dropped connection once it was sent), not when the connection never opened."""
    try:
        return await client.post(url, **kwargs)
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise RetryableError(f"timeout before the request was sent ({type(exc).__name__})") from None
    except httpx.TimeoutException as exc:
        raise RetryableError(f"timeout, no answer ({type(exc).__name__})", ambiguous=True) from None
    except httpx.ConnectError as exc:
        raise RetryableError(f"connection failed: {_short(exc)}") from None
    except httpx.TransportError as exc:
        raise RetryableError(
            f"transport error: {type(exc).__name__}: {_short(exc)}", ambiguous=True
        ) from None


def classify(response: httpx.Response) -> None:
    """Return on 2xx; raise RetryableError / PermanentError otherwise."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = f"HTTP {status}"
    snippet = _body_snippet(response)
    if snippet:
        detail += f": {snippet}"
    if status == 429 or status >= 500:
        raise RetryableError(detail, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    if 400 <= status < 500:
        raise PermanentError(detail)
    # 1xx / 3xx: not what the contract promises; keep the message and try again later.
    raise RetryableError(f"unexpected {detail}")


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _body_snippet(response: httpx.Response) -> str:
    try:
        text = response.text
    except Exception:  # an undecodable body says nothing useful
        return ""
    text = " ".join(text.split())
    return text[:_MAX_BODY_IN_ERROR]


def _short(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__)[:200]
