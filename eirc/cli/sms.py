"""`eirc sms test PHONE`: one test SMS through the configured gateway, now (operator set-up, support).

Not through the outbox: the message is sent at once by the same adapter the worker uses, and the gateway's
verdict is printed — `sent` with the gateway's message id, `retry` (a refusal that may pass, or an operator
problem: credentials, balance, sender name) or `failed` (a refusal for good) with the gateway's reason.
Exit 0 only when the gateway accepted the message; 1 otherwise, with a one-line reason; 2 on bad usage (a
phone that is not a Russian mobile number).

The text is EIRC_SMS_TEXT with a random test code, so the test also proves that the operators carry the
registered template; `--text` sends another text. The test code is printed nowhere.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Annotated, Any

import typer

from eirc.cli.output import JsonOption, configuration_error, fail, print_json, say_error, stdout

app = typer.Typer(help="The SMS gateway: send a test message", no_args_is_help=True)


@app.command("test")
def test(
    phone: Annotated[str, typer.Argument(metavar="PHONE", help="A Russian mobile number, e.g. +79161234567")],
    text: Annotated[
        str | None, typer.Option(help="Send this text instead of EIRC_SMS_TEXT with a test code")
    ] = None,
    as_json: bool = JsonOption,
) -> None:
    """Send one test SMS through the configured gateway now; print its verdict and message id."""
    from eirc.domain.errors import DomainError
    from eirc.domain.phone import mask_phone, parse_phone
    from eirc.settings import get_settings

    try:
        number = parse_phone(phone)
    except DomainError:
        fail(f"PHONE: {phone!r} is not a Russian mobile number (like +79161234567)", code=2)
    if text is not None and not text.strip():
        fail("--text must not be empty", code=2)
    try:
        settings = get_settings()
    except Exception as exc:
        line = configuration_error(exc)
        if line is None:
            raise
        fail(line)
    try:
        document = asyncio.run(send_test(settings, number, text))
    except NoGateway as exc:
        fail(str(exc))
    document["phone"] = mask_phone(number)
    if as_json:
        print_json(document)
    if document["accepted"]:
        if not as_json:
            stdout.print(_sent_line(document), markup=False, highlight=False)
        return
    say_error(_refused_line(document))
    raise typer.Exit(1)


class NoGateway(Exception):
    """No SMS gateway is configured; the message says what to set."""


async def send_test(settings: Any, phone: str, text: str | None) -> dict[str, Any]:
    """Send through the configured SMS adapter; the verdict as a document (never the text nor the code)."""
    from eirc.delivery.base import DeliveryError, OutgoingMessage
    from eirc.delivery.messages import sms_code_text
    from eirc.delivery.outbox import fill_secret
    from eirc.delivery.sms import build_sms_adapter
    from eirc.delivery.worker import scrub

    adapter = build_sms_adapter(settings)
    if adapter is None:
        raise NoGateway(
            "no SMS gateway is configured (EIRC_SMS_PROVIDER and EIRC_SMS_URL are unset): SMS go to the "
            "development outbox; set EIRC_SMS_PROVIDER and its credentials (docs/deliveries.md)"
        )
    code = "".join(secrets.choice("0123456789") for _ in range(settings.code_length))
    template = {"text": sms_code_text(settings.sms_text)} if text is None else {"text": text}
    key = uuid.uuid4().hex
    message = OutgoingMessage(
        id=f"sms-test-{key[:8]}",
        channel="sms",
        kind="sms_test",
        recipient=phone,
        idempotency_key=key,
        payload=fill_secret(template, code),
        template=template,
        has_secret=text is None,
    )
    document: dict[str, Any] = {"gateway": adapter.name, "accepted": False, "verdict": "failed"}
    try:
        sent = await adapter.send(message)
    except DeliveryError as exc:
        document.update(
            verdict="retry" if exc.retryable else "failed",
            operator_problem=exc.operator,
            message_id=exc.message_id,
            reason=scrub(exc.reason, code),
        )
        return document
    except Exception as exc:  # an adapter bug: one line, never a traceback
        document.update(reason=f"unexpected error in {adapter.name}: {type(exc).__name__}")
        return document
    finally:
        await adapter.aclose()
    document.update(
        accepted=True,
        verdict="sent",
        gateway=(sent.gateway if sent else adapter.name),
        message_id=sent.message_id if sent else None,
        operator_problem=False,
        reason=None,
    )
    return document


def _sent_line(document: dict[str, Any]) -> str:
    found = (
        f", message id {document['message_id']}" if document.get("message_id") else ", no message id given"
    )
    return f"{document['gateway']} accepted the test SMS to {document['phone']}{found}"


def _refused_line(document: dict[str, Any]) -> str:
    if document["verdict"] == "retry":
        why = "operator problem, would be retried" if document.get("operator_problem") else "would be retried"
    else:
        why = "failed for good"
    return f"{document['gateway']} did not accept the test SMS ({why}): {document.get('reason')}"
