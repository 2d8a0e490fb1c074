"""Logging: readable lines in development, one JSON object a line otherwise; a request id on every record;
secrets redacted wherever they appear (docs/hardening.md).

`configure_logging` installs one handler on the root logger; every other logger — eirc's, strawberry's,
uvicorn's (served with `log_config=None`, so its loggers propagate here), httpx's, SQLAlchemy's — goes
through it. Redaction runs twice: `RedactingFilter` rewrites the record's message (so a second handler
added later sees it clean too), and the formatters redact their whole output, exception tracebacks
included.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from eirc.requestid import RequestIdFilter, install_record_factory
from eirc.settings import Settings

# Names under which a secret travels: GraphQL arguments, JSON keys, form and query parameters, headers.
_SECRET_KEYS = (
    r"(?:password|newPassword|currentPassword|new_password|current_password|password_hash|code|code_hash"
    r"|token|access_token|id_token|refresh_token|session_token|secret|secret_key|secret_enc"
    r"|client_secret|verifier|code_verifier|nonce|state|sms_token|crm_token|smtp_password)"
)
_PATTERNS = [
    # Headers whose whole value is secret, scheme included: Authorization: Bearer …, Cookie: a=b; c=d
    re.compile(
        r"(?i)([\"']?\b(?:authorization|proxy-authorization|cookie|set-cookie)[\"']?\s*[:=]\s*[\"']?)(?!\*\*\*)([^\"'\r\n]+)"
    ),
    # "password": "…", password=…, 'token': '…', token=… in a URL, Authorization: …
    re.compile(rf"(?i)([\"']?\b{_SECRET_KEYS}[\"']?\s*[:=]\s*[\"']?)(?!\*\*\*)([^\"',\s}}&;]+)"),
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)([A-Za-z0-9._~+/=-]+)"),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites the record's message with its secrets masked (the arguments are folded in)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string in a library: log it as it is, do not crash
            message = str(record.msg)
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, message, request_id (within a request), exc (redacted)."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id and request_id != "-":
            doc["request_id"] = request_id
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            doc["exc"] = redact(record.exc_text)
        if record.stack_info:
            doc["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(doc, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable lines for development; the whole output (traceback included) redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s [%(request_id)s]: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return redact(super().format(record))


def uses_json(settings: Settings) -> bool:
    fmt = settings.log_format.lower()
    return fmt == "json" or (fmt == "auto" and not settings.is_development)


def make_handler(settings: Settings, stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if uses_json(settings) else TextFormatter())
    return handler


# Libraries whose own handlers would bypass ours (uvicorn's default config gives it its own handlers).
# `uvicorn.access` stays as `eirc serve` sets it: off (its own decision, `access_log=False`).
_PROPAGATING = ("uvicorn", "uvicorn.error", "httpx", "httpcore", "strawberry")


def configure_logging(settings: Settings) -> None:
    install_record_factory()
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(make_handler(settings))
    root.setLevel(settings.log_level.upper())
    for name in _PROPAGATING:
        logger = logging.getLogger(name)
        for h in list(logger.handlers):
            logger.removeHandler(h)
        logger.propagate = True
    # httpx logs every provider call at INFO ("HTTP Request: POST …"): keep it, redacted, but not its DEBUG
    # chatter (which holds request headers) unless asked for explicitly.
    if settings.log_level.upper() == "DEBUG":
        logging.getLogger("httpcore").setLevel(logging.INFO)
