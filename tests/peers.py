"""A local HTTP peer in a background thread that can be taken down and brought back on the same port.

Shared by the test doubles of the providers (SMS / «Домопульт» in tests/providers.py, the OpenID provider
in tests/oidc_provider.py): each sets `server_class` and `handler_class`; the server gets `.provider`.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


class ThreadedHttpPeer:
    server_class: ClassVar[type[ThreadingHTTPServer]]
    handler_class: ClassVar[type[BaseHTTPRequestHandler]]

    host: str
    port: int
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def up(self) -> None:
        """Listen (again, on the same port once one was chosen)."""
        if self._server is not None:
            return
        server = self.server_class((self.host, self.port), self.handler_class)
        server.provider = self  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Stop listening: the next request gets «connection refused»."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        self.down()
