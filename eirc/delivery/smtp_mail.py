"""E-mail over SMTP (stdlib `smtplib`, run in a thread so the event loop never waits on the relay).

Payload of an e-mail delivery: `{"subject": …, "text": …, "html": …?}`; the recipient is the row's
`recipient`. STARTTLS when `EIRC_SMTP_STARTTLS=true` (certificate and host name verified), then LOGIN when
`EIRC_SMTP_USER` is set. The `Message-ID` is derived from the idempotency key, so a letter sent again after
a crash carries the same id and mail clients show it once.

Which failures are retried: SMTP has no idempotency key, so only a refusal *of this message* is final — a
5xx reply to RCPT TO (the recipient does not exist) or to DATA (the content is refused). A 4xx reply, a
refused or dropped connection, a timeout, and configuration problems (a 5xx to authentication, to the
sender, no STARTTLS) are retried: fixing the configuration then delivers what waited.
"""

from __future__ import annotations

import asyncio
import email.utils
import smtplib
import ssl
from email.message import EmailMessage

from eirc.delivery.base import DeliveryError, OutgoingMessage, PermanentError, RetryableError
from eirc.settings import Settings


class SmtpMailAdapter:
    name = "smtp"

    def __init__(self, settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        if not settings.smtp_host:
            raise ValueError("EIRC_SMTP_HOST is not set")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.user = settings.smtp_user
        self._password = settings.smtp_password or ""
        self.starttls = settings.smtp_starttls
        self.mail_from = settings.mail_from
        self.timeout = settings.delivery_timeout_seconds
        self._ssl_context = ssl_context

    def build(self, message: OutgoingMessage) -> EmailMessage:
        payload = message.payload
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = message.recipient
        msg["Subject"] = payload.get("subject", "")
        msg["Date"] = email.utils.formatdate(usegmt=True)
        msg["Message-ID"] = message_id(message.idempotency_key, self.mail_from)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(payload.get("text", ""))
        if payload.get("html"):
            msg.add_alternative(payload["html"], subtype="html")
        return msg

    async def send(self, message: OutgoingMessage) -> None:
        msg = self.build(message)
        await asyncio.to_thread(self._send_sync, msg, message.recipient)

    def _send_sync(self, msg: EmailMessage, to: str) -> None:
        envelope_from = email.utils.parseaddr(self.mail_from)[1] or self.mail_from
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=self._ssl_context or ssl.create_default_context())
                    smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self._password)
                smtp.send_message(msg, from_addr=envelope_from, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            raise _reply_error("recipient refused", code, reply, final_if_5xx=True) from None
        except smtplib.SMTPDataError as exc:
            raise _reply_error("message refused", exc.smtp_code, exc.smtp_error, final_if_5xx=True) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise _reply_error("authentication failed", exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPResponseException as exc:
            raise _reply_error("SMTP error", exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise RetryableError(f"SMTP relay does not support what is configured: {exc}"[:300]) from None
        except smtplib.SMTPException as exc:
            raise RetryableError(f"SMTP error: {type(exc).__name__}: {exc}"[:300]) from None
        except ssl.SSLError as exc:
            raise RetryableError(f"TLS error: {exc}"[:300]) from None
        except TimeoutError:
            raise RetryableError("timeout") from None
        except OSError as exc:
            raise RetryableError(f"connection failed: {exc}"[:300]) from None

    async def aclose(self) -> None:
        return None


def message_id(idempotency_key: str, mail_from: str) -> str:
    address = email.utils.parseaddr(mail_from)[1]
    domain = address.rsplit("@", 1)[1] if "@" in address else "eirc.local"
    return f"<{idempotency_key}@{domain}>"


def _reply_error(what: str, code: int, reply: bytes | str, *, final_if_5xx: bool = False) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    reason = f"{what}: SMTP {code} {' '.join(text.split())}"[:300]
    if final_if_5xx and 500 <= code < 600:
        return PermanentError(reason)
    return RetryableError(reason)
