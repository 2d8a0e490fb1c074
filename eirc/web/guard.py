"""The HTTP door: request ids, a body-size limit, clear 4xx answers for broken requests, CORS.

Pure ASGI middleware (no BaseHTTPMiddleware), so streaming and lifespan are untouched.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eirc.requestid import new_request_id, reset_request_id, set_request_id

log = logging.getLogger("eirc.web.guard")

MAX_BODY_BYTES = 64 * 1024
# Headers and the query string are limited here too, whichever HTTP parser uvicorn runs (httptools, the
# default with uvicorn[standard], has no limit of its own; h11 refuses an incomplete head over 16 KiB).
MAX_HEADER_COUNT = 100
MAX_HEADER_BYTES = 32 * 1024
MAX_QUERY_STRING_BYTES = 16 * 1024


async def _send_json(send: Send, status: int, document: dict[str, Any], request_id: str) -> None:
    body = json.dumps(document, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _error(message: str, request_id: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"requestId": request_id}}]}


class RequestGuard:
    """Request id on every response; refuses before the app sees it:

    - more than MAX_HEADER_COUNT headers, or more than MAX_HEADER_BYTES of them → 431;
    - a query string over MAX_QUERY_STRING_BYTES → 414;
    - a body over `max_body` bytes → 413 (checked on Content-Length and while streaming);
    - a /graphql POST whose JSON is not UTF-8, not JSON, or a batch (an array) → 400 with a clear body;
    - a GET /graphql carrying a mutation → 405 (mutations only over POST).
    """

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        token = set_request_id(request_id)
        try:
            await self._handle(scope, receive, send, request_id)
        finally:
            reset_request_id(token)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        raw_headers = scope.get("headers") or []
        if (
            len(raw_headers) > MAX_HEADER_COUNT
            or sum(len(k) + len(v) for k, v in raw_headers) > MAX_HEADER_BYTES
        ):
            message_text = (
                f"Too many or too large headers (at most {MAX_HEADER_COUNT}, {MAX_HEADER_BYTES} bytes)"
            )
            await _send_json(send, 431, _error(message_text, request_id), request_id)
            return
        if len(scope.get("query_string") or b"") > MAX_QUERY_STRING_BYTES:
            message_text = (
                f"Query string over {MAX_QUERY_STRING_BYTES} bytes: send the request as a JSON POST"
            )
            await _send_json(send, 414, _error(message_text, request_id), request_id)
            return
        headers = dict(raw_headers)
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_json(send, 400, _error("Invalid Content-Length header", request_id), request_id)
                return
            if declared > self.max_body:
                await _send_json(
                    send, 413, _error(f"Request body over {self.max_body} bytes", request_id), request_id
                )
                return

        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                await _send_json(
                    send, 413, _error(f"Request body over {self.max_body} bytes", request_id), request_id
                )
                return

        if scope["path"] == "/graphql":
            refusal = _check_graphql(scope, headers, body)
            if refusal is not None:
                status, message_text = refusal
                await _send_json(send, status, _error(message_text, request_id), request_id)
                return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, replay, send_with_id)


def _check_graphql(scope: Scope, headers: dict, body: bytes) -> tuple[int, str] | None:
    method = scope["method"]
    if method == "GET":
        query = _query_param(scope, "query")
        if query is not None and _looks_like_mutation(query):
            return 405, "Mutations are accepted only over POST"
        return None
    if method != "POST":
        return None
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if content_type != b"application/json":
        return 415 if body else 400, "Send the GraphQL request as JSON (Content-Type: application/json)"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "The request body is not valid UTF-8"
    try:
        document = json.loads(text)
    except ValueError:
        return 400, "The request body is not valid JSON"
    if isinstance(document, list):
        return 400, "Batched requests are not accepted: send one operation per request"
    if not isinstance(document, dict):
        return 400, "The request body must be a JSON object with a `query`"
    query = document.get("query")
    if not isinstance(query, str):
        return 400, "The request has no `query` string"
    variables = document.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return 400, "`variables` must be a JSON object"
    operation_name = document.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        return 400, "`operationName` must be a string"
    extensions = document.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        return 400, "`extensions` must be a JSON object"
    return None


def _query_param(scope: Scope, name: str) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


def _looks_like_mutation(query: str) -> bool:
    try:
        from graphql import OperationType, parse

        document = parse(query)
    except Exception:  # a broken query is strawberry's to refuse with a clear message
        return False
    return any(getattr(d, "operation", None) == OperationType.MUTATION for d in document.definitions)
