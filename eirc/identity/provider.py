"""The one seam `services.gosuslugi` calls: a provider that makes an authorization URL for a state and turns
the code it sends back into an `Identity` — ЕСИА (`eirc.identity.esia`) or a generic OpenID Connect
provider (`eirc.identity.oidc`), whichever the settings name.

What a provider returns is what it *says*: strings as they came (type-checked, nothing more), a birth date
parsed from the provider's own format. The rules that decide what of it eirc believes — a Russian mobile, an
e-mail, names within our limits, no control characters — are the service's, in one place for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol


class IdentityUnavailable(Exception):
    """The provider cannot be used now (not configured, down, answering garbage, refusing our client):
    nothing the resident can fix. The message is for logs and never holds a secret."""


class IdentityRejected(Exception):
    """This sign-in is void: the code was refused, or a token failed a check. The message is for logs."""


@dataclass(frozen=True)
class Identity:
    """The person as the provider describes them. `subject` is the provider's stable id of the person (ЕСИА:
    the numeric oid); every other field may be None (not given, or not of the expected type)."""

    subject: str
    phone: str | None = None
    phone_verified: bool = False
    last_name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    birth_date: date | None = None
    email: str | None = None
    email_verified: bool = False


class IdentityProvider(Protocol):
    name: str  # "esia" | "oidc"

    def new_state(self) -> str:
        """A fresh, unguessable `state` in the form the provider accepts (ЕСИА: a UUID)."""
        ...

    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        """Where to send the browser. `nonce` and the PKCE `code_verifier` are used by providers that support
        them (OpenID Connect); ЕСИА has neither and ignores them."""
        ...

    async def complete(self, *, code: str, code_verifier: str, nonce_digest: str) -> Identity:
        """Exchange the code and verify what comes back; IdentityUnavailable / IdentityRejected otherwise."""
        ...

    async def check(self) -> dict[str, Any]:
        """`eirc gosuslugi check`: what the configuration amounts to (certificates, endpoints, a sample
        authorization URL), or IdentityUnavailable with one line saying what is unusable."""
        ...
