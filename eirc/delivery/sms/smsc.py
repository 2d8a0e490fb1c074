"""SMSC.ru (smsc.ru/api/http): `POST /sys/send.php` with `fmt=3` (JSON answers), `/sys/status.php`.

Sent: `login` and `psw` (or `apikey` alone when EIRC_SMS_LOGIN is unset), `phones` (digits, no plus), `mes`,
`sender` (EIRC_SMS_SENDER, if set), `id` (our message number, see `client_id`), `fmt=3`, `charset=utf-8`, as a
form in the body. SMSC answers HTTP 200 whatever the verdict:

- `{"id": N, "cnt": n}` — accepted: sent, `N` is the gateway's message id;
- `{"error": "…", "error_code": N}` (and `"id"` for errors 3, 6, 7, 8) — refused, see ERRORS.

The `id` parameter is a client-chosen integer (1…2147483647) that SMSC keeps with the message: we derive it
from the delivery's idempotency key, so every attempt of one message carries the same number. After an
ambiguous attempt (no answer, or error 9: «the same request within a minute»), the next attempt first asks
`/sys/status.php` for (phone, id): a message SMSC has (any status but -3, «not found») is recorded as sent
and not sent again.
"""

from __future__ import annotations

import hashlib
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
from eirc.delivery.sms.gateway import (
    GatewayAdapter,
    NoSuchEndpoint,
    as_int,
    digits,
    json_body,
    refuse_by_status,
    short,
)

SEND_PATH = "/sys/send.php"
STATUS_PATH = "/sys/status.php"
NOT_FOUND = -3  # status.php: no message with this phone and id

# error_code → (what it means, verdict). «Ответ сервера и коды ошибок» of /sys/send.php.
RETRY, OPERATOR, PERMANENT = "retry", "operator", "permanent"
ERRORS: dict[int, tuple[str, str]] = {
    1: ("error in the parameters", PERMANENT),
    2: ("login or password refused, or this IP address is not allowed", OPERATOR),
    3: ("not enough money on the account", OPERATOR),
    4: ("IP address temporarily blocked after frequent errors", RETRY),
    5: ("wrong date format", PERMANENT),
    6: ("message forbidden (by its text or the sender name)", PERMANENT),
    7: ("wrong phone number format", PERMANENT),
    8: ("the message cannot be delivered to this number", PERMANENT),
    9: ("the same request was sent within a minute, or too many requests at once", RETRY),
}


def client_id(idempotency_key: str) -> int:
    """SMSC's `id` for a delivery: an integer in 1…2147483647, the same on every attempt of the message."""
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 2147483647 + 1


class SmscAdapter(GatewayAdapter):
    name = "smsc"

    def __init__(
        self,
        base_url: str,
        *,
        login: str | None,
        password: str,
        sender: str | None = None,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, transport=transport)
        self._auth = {"login": login, "psw": password} if login else {"apikey": password}
        self.sender = sender

    async def send(self, message: OutgoingMessage) -> Sent:
        number = client_id(message.idempotency_key)
        phone = digits(message.recipient)
        if message.ask_status_first:
            status = await self.status(phone, number)
            if status is not None:
                return Sent(
                    self.name, str(number), note=f"SMSC already has it (status {status}); not sent again"
                )
        form: dict[str, Any] = {
            **self._auth,
            "phones": phone,
            "mes": message.payload["text"],
            "id": number,
            "fmt": 3,
            "charset": "utf-8",
        }
        if self.sender:
            form["sender"] = self.sender
        response = await self.post(SEND_PATH, data=form)
        refuse_by_status(response, "SMSC")
        return self.verdict(response, number)

    def verdict(self, response: httpx.Response, number: int) -> Sent:
        body = json_body(response)
        if not isinstance(body, dict):
            raise RetryableError("SMSC answered without a JSON verdict (fmt=3)", ambiguous=True)
        if _refused(body):
            raise refusal(body)
        if body.get("id") is None:
            raise RetryableError("SMSC answered neither an id nor an error", ambiguous=True)
        return Sent(self.name, str(body["id"]))

    async def status(self, phone: str, number: int) -> int | None:
        """SMSC's status of message (phone, id), or None when SMSC does not have it (or cannot be asked).

        Raises RetryableError (ambiguous: the question stays open) when SMSC does not answer it now."""
        form = {**self._auth, "phone": phone, "id": number, "fmt": 3, "charset": "utf-8"}
        try:
            response = await self.post(STATUS_PATH, data=form)
            refuse_by_status(response, "SMSC status")
        except NoSuchEndpoint:
            return None  # no status call at this address: sending is all that is left
        except DeliveryError as exc:
            raise _still_open(exc) from None
        body = json_body(response)
        if not isinstance(body, dict):
            raise RetryableError("SMSC status answered without JSON; asking again later", ambiguous=True)
        if _refused(body):
            code = as_int(body.get("error_code"))
            if code in (1, 5):  # the question itself was refused: SMSC has nothing under this phone and id
                return None
            raise _still_open(refusal(body, what="SMSC status"))
        status = as_int(body.get("status"))
        if status is None:
            raise RetryableError("SMSC status answered no status; asking again later", ambiguous=True)
        return None if status == NOT_FOUND else status


def _refused(body: dict[str, Any]) -> bool:
    return body.get("error_code") not in (None, "", 0, "0") or bool(body.get("error"))


def refusal(body: dict[str, Any], *, what: str = "SMSC") -> DeliveryError:
    """The DeliveryError for an answer `{"error": …, "error_code": N[, "id": …]}`."""
    code = as_int(body.get("error_code"))
    meaning, verdict = ERRORS.get(code or 0, ("unknown error code", RETRY))
    reason = f"{what} error {code if code is not None else '?'} ({meaning})"
    if body.get("error"):
        reason += f": {short(body['error'])}"
    message_id = str(body["id"]) if body.get("id") not in (None, "") else None
    if verdict == OPERATOR:
        return OperatorError(reason, message_id=message_id)
    if verdict == PERMANENT:
        return PermanentError(reason, message_id=message_id)
    # Error 9: an identical request came within a minute — it may be ours, accepted: ask before resending.
    return RetryableError(reason, ambiguous=code == 9, message_id=message_id)


def _still_open(exc: DeliveryError) -> DeliveryError:
    """The status question could not be answered now: retry later, and ask again before sending."""
    reason = f"could not ask SMSC whether it has the message: {exc.reason}"
    if exc.operator:
        return OperatorError(reason, ambiguous=True)
    return RetryableError(reason, retry_after=exc.retry_after, ambiguous=True)
