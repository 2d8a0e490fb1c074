"""Госуслуги: who the person is, according to the government identity provider (SPEC §9).

Two providers behind one seam (`provider.IdentityProvider`, returning `provider.Identity`):

- `esia` — ЕСИА itself: OAuth 2.0 with GOST R 34.10-2012 signatures (`esia.py`; the signature and the
  certificates in `gost.py`; who holds the key in `signers.py`), chosen by `EIRC_ESIA_URL`;
- `oidc` — a generic OpenID Connect provider (a broker in front of ЕСИА; `oidc.py`), chosen by
  `EIRC_OIDC_ISSUER`.

Both set is refused at start-up (eirc.settings). `services.gosuslugi` holds the rules and calls only
`build_provider` and the seam.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eirc.clock import Clock
from eirc.identity.provider import Identity, IdentityProvider, IdentityRejected, IdentityUnavailable

if TYPE_CHECKING:
    from eirc.settings import Settings

__all__ = [
    "Identity",
    "IdentityProvider",
    "IdentityRejected",
    "IdentityUnavailable",
    "build_provider",
    "configured_protocol",
]


def configured_protocol(settings: Settings) -> str | None:
    """ "esia", "oidc", or None when Госуслуги is off (what `clientConfig.gosuslugiEnabled` should say)."""
    if settings.esia_url:
        return "esia"
    if settings.oidc_issuer:
        return "oidc"
    return None


def build_provider(settings: Settings, clock: Clock, *, redirect_uri: str) -> IdentityProvider | None:
    """The provider the settings name, None when none is; IdentityUnavailable (one line naming the variable)
    when the one named cannot be used (an incomplete setting, an unreadable key or certificate)."""
    protocol = configured_protocol(settings)
    if protocol == "esia":
        from eirc.identity.esia import EsiaClient

        return EsiaClient.from_settings(settings, clock, redirect_uri=redirect_uri)
    if protocol == "oidc":
        from eirc.identity.oidc import OidcClient, OidcUnavailable

        if not settings.oidc_client_id:
            raise OidcUnavailable("EIRC_OIDC_ISSUER is set but EIRC_OIDC_CLIENT_ID is not")
        return OidcClient(
            issuer=settings.oidc_issuer or "",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            redirect_uri=redirect_uri,
            clock=clock,
            timeout=settings.oidc_timeout_seconds,
            discovery_ttl_seconds=settings.oidc_discovery_ttl_seconds,
        )
    return None
