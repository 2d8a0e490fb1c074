"""The development outbox: a channel whose provider is not configured prints its messages to the console.

Every message is framed as «DEVELOPMENT OUTBOX — not sent» and counted as sent, so `make serve` works on
a fresh clone and a developer can read the SMS code from the terminal. Outside development
(`EIRC_ENV=production`) the secret (a code, a link token) is masked: a production console is a log, and
`eirc worker` warns at start-up that the channel has no provider.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from eirc.delivery.base import OutgoingMessage

BANNER = "DEVELOPMENT OUTBOX — not sent"


class DevOutboxAdapter:
    name = "dev-outbox"

    def __init__(self, channel: str, *, show_secrets: bool = True, stream: TextIO | None = None) -> None:
        self.channel = channel
        self.show_secrets = show_secrets
        self._stream = stream

    async def send(self, message: OutgoingMessage) -> None:
        stream = self._stream or sys.stderr
        stream.write(render(message, show_secrets=self.show_secrets))
        stream.flush()

    async def aclose(self) -> None:
        return None


def render(message: OutgoingMessage, *, show_secrets: bool) -> str:
    payload = message.payload if show_secrets else message.redacted()
    rule = "─" * 20
    lines = [
        f"{rule} {BANNER} {rule}",
        f"channel: {message.channel}   kind: {message.kind}   to: {message.recipient}",
        f"id: {message.id}   idempotency key: {message.idempotency_key}",
    ]
    if message.channel == "sms":
        lines.append(str(payload.get("text", "")))
    elif message.channel == "email":
        lines.append(f"subject: {payload.get('subject', '')}")
        lines.append("")
        lines.append(str(payload.get("text", "")))
    else:
        lines.append(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    lines.append(f"{rule} end of message (not sent) {rule}")
    return "\n".join(lines) + "\n"
