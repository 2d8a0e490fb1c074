"""What the worker hands an adapter, and how an adapter says a send failed.

An adapter sends one message and returns, or raises `DeliveryError`: `retryable=True` for failures that
may pass (provider down, 5xx, 429, a timeout, an SMTP 4xx reply), `retryable=False` for a refusal that
will not change (other 4xx, an SMTP 5xx reply). The reason is stored in `delivery.last_error` and shown to
support, so it names the cause without quoting the message itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    id: str
    channel: str  # sms | email | crm
    kind: str
    recipient: str
    idempotency_key: str  # the same on every attempt and on replay
    payload: dict[str, Any] = field(repr=False)  # with the secret filled in: never log it
    template: dict[str, Any] = field(repr=False)  # as stored: the secret as `{secret}`
    attempt: int = 1  # 1 for the first attempt
    has_secret: bool = False

    def redacted(self) -> dict[str, Any]:
        """The payload as it may be shown outside the provider: the secret replaced by ***."""
        from eirc.delivery.outbox import fill_secret

        return fill_secret(self.template, "***")


class DeliveryError(Exception):
    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the provider asked us to wait (Retry-After), if any


class RetryableError(DeliveryError):
    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason, retryable=True, retry_after=retry_after)


class PermanentError(DeliveryError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)


class Adapter(Protocol):
    name: str  # shown in logs and `eirc worker` start-up: "sms-http", "smtp", "dev-outbox", …

    async def send(self, message: OutgoingMessage) -> None: ...

    async def aclose(self) -> None: ...
