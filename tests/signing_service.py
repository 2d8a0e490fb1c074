"""A local signing service for `EIRC_ESIA_SIGNER=http` (eirc/identity/signers.py): `POST /sign` with
`{"data": "<base64>", "algorithm": "GOST3410_2012_256"}` → `{"signature": "<base64>"}`, signed by OpenSSL's
GOST engine with the key it was given (as a service holding a non-exportable key would). `token`: the bearer
it requires (None: none); `mode`: "ok", "error_500", "garbage", "short", "reversed" (CryptoPro's byte order)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.esia_provider import openssl
from tests.peers import ThreadedHttpPeer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    provider: SigningService


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        service = self.server.provider
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with service.lock:
            service.requests.append({"headers": dict(self.headers.items()), "body": body})
        if service.token and self.headers.get("Authorization") != f"Bearer {service.token}":
            return self._reply(401, b'{"error": "unauthorized"}')
        if service.mode == "error_500":
            return self._reply(500, b"oops")
        if service.mode == "garbage":
            return self._reply(200, b"<html>")
        document = json.loads(body)
        data = base64.b64decode(document["data"])
        signature = openssl(
            "dgst", "-engine", "gost", "-md_gost12_256", "-sign", str(service.key_file), data=data
        )
        if service.mode == "short":
            signature = signature[:40]
        if service.mode == "reversed":
            signature = signature[::-1]
        self._reply(200, json.dumps({"signature": base64.b64encode(signature).decode()}).encode())

    def _reply(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


class SigningService(ThreadedHttpPeer):
    server_class = _Server
    handler_class = _Handler

    def __init__(self, key_file: Path, *, token: str | None = None) -> None:
        self.host, self.port = "127.0.0.1", 0
        self.key_file = key_file
        self.token = token
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.up()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/sign"
