"""Per-request context: the container, the client address, and the session from `Authorization`."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import strawberry
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


# What a value derived from a header may be as stored (storage/tables.py) and used in counter keys.
CLIENT_ADDRESS_MAX_LENGTH = 64
USER_AGENT_MAX_LENGTH = 300


def client_ip_of(request: Request) -> str:
    """The client address of the per-client limits: the peer's, or — behind a proxy named in
    EIRC_FORWARDED_ALLOW_IPS — the one `X-Forwarded-For` gives (uvicorn). Normalised (an IPv4-mapped IPv6
    address is the IPv4 one), and anything that is not an address — a forwarded header is only text — is a
    short stable digest of it: bounded, fit for a key and a column, and still one client."""
    host = request.client.host if request.client else ""
    return normalize_client_address(host)


def normalize_client_address(host: str) -> str:
    try:
        address = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        if not host:
            return "unknown"
        return "invalid:" + hashlib.sha256(host.encode("utf-8", "replace")).hexdigest()[:16]
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)[:CLIENT_ADDRESS_MAX_LENGTH]


def user_agent_of(request: Request) -> str | None:
    """The `User-Agent` as stored with a session: at most USER_AGENT_MAX_LENGTH characters, printable."""
    raw = request.headers.get("user-agent")
    if not raw:
        return None
    return "".join(ch for ch in raw if ch.isprintable())[:USER_AGENT_MAX_LENGTH] or None


def bearer_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()[:512]
    return None


def selects(info: strawberry.Info, name: str) -> bool:
    """Whether the client's selection on this field asks for `name` (through fragments too)."""
    return any(_asks_for(field.selections, name) for field in info.selected_fields)


def _asks_for(selections: list, name: str) -> bool:
    # a module-level function: a recursive closure would be a reference cycle, left to the garbage collector
    for selection in selections:
        if hasattr(selection, "type_condition"):  # an inline fragment or a fragment spread
            if _asks_for(selection.selections, name):
                return True
        elif selection.name == name:
            return True
    return False
