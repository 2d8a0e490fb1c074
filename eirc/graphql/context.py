"""Per-request context: the container, the client address, and the session from `Authorization`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from eirc.bootstrap import Container


@dataclass
class Context:
    request: Request
    response: Any
    container: Container
    client_ip: str
    bearer_token: str | None
    cache: dict = field(default_factory=dict)  # per-request memo (the signed-in user, dataloaders)

    @property
    def clock(self):
        return self.container.clock


def client_ip_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def bearer_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()[:512]
    return None
