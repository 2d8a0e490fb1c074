"""The reference portal at `/` (docs/portal.md): static files — HTML, CSS, JavaScript modules — that talk to the
gateway only through `POST /graphql`, as any frontend team's app would. Nothing of a resident is rendered here.

Every response of the portal carries a strict Content-Security-Policy: scripts, styles, images and fonts from
this origin only, no inline script or style, `connect-src 'self'` (the GraphQL endpoint), no framing, forms
posting nowhere else. `Cache-Control: no-cache` makes a browser revalidate (ETag) so a new release shows at once.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PORTAL_DIR = Path(__file__).parent / "static" / "portal"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

PORTAL_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cache-Control": "no-cache",
}


class PortalFiles(StaticFiles):
    """`StaticFiles(html=True)` over static/portal/, every answer with the portal's security headers."""

    def __init__(self) -> None:
        super().__init__(directory=PORTAL_DIR, html=True)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        for name, value in PORTAL_HEADERS.items():
            response.headers[name] = value
        return response
