"""The request id: set per HTTP request, echoed in `X-Request-ID`, attached to every log record."""

from __future__ import annotations

import contextvars
import logging
import secrets

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("eirc_request_id", default="-")


def current_request_id() -> str:
    return _request_id.get()


def new_request_id() -> str:
    return secrets.token_hex(8)


def set_request_id(value: str) -> contextvars.Token:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or _request_id.get()
        return True


_installed = False


def install_record_factory() -> None:
    """Stamp the request id on every record when it is made, whatever handler reads it later (tests'
    `caplog` included). Idempotent."""
    global _installed
    if _installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = base(*args, **kwargs)
        record.request_id = _request_id.get()
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
