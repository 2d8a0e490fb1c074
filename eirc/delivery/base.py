"""What the worker hands an adapter, what an adapter says when the provider took the message, and how it
says a send failed.

An adapter sends one message and returns a `Sent` (the gateway's name and the id it gave the message; `None`
is accepted from adapters that have nothing to add), or raises `DeliveryError`:

- `retryable=True` for failures that may pass (provider down, 5xx, 429, a timeout, an SMTP 4xx reply, a
  gateway's «try later» in its answer's body);
- `operator=True` (retryable too) when the fault is the operator's, not the resident's: credentials refused,
  the account's balance exhausted, a sender name or URL the gateway does not accept. The worker logs it as an
  operator problem, loudly, once per burst; the message keeps its place and is never dead-lettered for it
  (it still expires by its useful life);
- `ambiguous=True` when the request may have reached the gateway without our hearing its answer (a timeout
  after it was sent, a dropped connection, SMSC's «the same request within a minute»): the next attempt asks
  the gateway's status call first, where it has one, instead of sending blindly again;
- `retryable=False` for a refusal that will not change (bad number, forbidden text, no route, other 4xx, an
  SMTP 5xx reply).

The reason is stored in `delivery.last_error` and shown to support, so it names the cause (the gateway's own
code and words) without quoting the message itself; the worker masks the secret in it anyway.
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
    # The previous attempt may have reached the gateway unheard: ask its status call before sending again.
    ask_status_first: bool = False

    def redacted(self) -> dict[str, Any]:
        """The payload as it may be shown outside the provider: the secret replaced by ***."""
        from eirc.delivery.outbox import fill_secret

        return fill_secret(self.template, "***")


@dataclass(frozen=True)
class Sent:
    """The provider accepted the message."""

    gateway: str  # relay | smsc | smsru | smsaero | exolve | smtp | crm-http | dev-outbox
    message_id: str | None = None  # the gateway's id of the message, when it gives one
    note: str | None = None  # e.g. «found by the status call; not sent again»


class DeliveryError(Exception):
    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        operator: bool = False,
        ambiguous: bool = False,
        message_id: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable or operator
        self.retry_after = retry_after  # seconds the provider asked us to wait (Retry-After), if any
        self.operator = operator
        self.ambiguous = ambiguous
        self.message_id = message_id  # some gateways number a message they refuse (SMSC errors 3, 6, 7, 8)


class RetryableError(DeliveryError):
    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        ambiguous: bool = False,
        message_id: str | None = None,
    ) -> None:
        super().__init__(
            reason, retryable=True, retry_after=retry_after, ambiguous=ambiguous, message_id=message_id
        )


class OperatorError(DeliveryError):
    """Not the resident's fault: credentials, balance, sender name, the gateway's address. Retried."""

    def __init__(self, reason: str, *, ambiguous: bool = False, message_id: str | None = None) -> None:
        super().__init__(reason, retryable=True, operator=True, ambiguous=ambiguous, message_id=message_id)


class PermanentError(DeliveryError):
    def __init__(self, reason: str, *, message_id: str | None = None) -> None:
        super().__init__(reason, retryable=False, message_id=message_id)


class Adapter(Protocol):
    name: str  # shown in logs and `eirc worker` start-up: "relay", "smsc", "smtp", "dev-outbox", …

    async def send(self, message: OutgoingMessage) -> Sent | None: ...

    async def aclose(self) -> None: ...
