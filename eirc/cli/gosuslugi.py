"""`eirc gosuslugi check`: is «Вход через портал Госуслуги» configured so that it can work (CONTRACT §4)?

ЕСИА: the files are read, the system certificate's Streebog hash, subject and expiry shown, the signer asked
for a signature that must verify against that certificate (a key that is not the certificate's, or a signing
service answering in another byte order, is found here), ЕСИА's token certificates listed with their expiry,
and a signed authorization URL printed (open it in a browser to try the test environment). OpenID Connect:
the discovery document and keys are fetched and checked. Exit 1 with one line for anything unusable — an
expired certificate, a key that does not match, an unreadable file, nothing configured; 0 otherwise.
"""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from eirc.cli.output import JsonOption, fail, print_json, render_record, render_rows, stdout

app = typer.Typer(help="Госуслуги: the ЕСИА / OpenID Connect configuration", no_args_is_help=True)


async def inspect_configuration() -> dict[str, Any]:
    """What `check` prints; IdentityUnavailable with one line when the configuration cannot be used."""
    from eirc.clock import Clock
    from eirc.identity import IdentityUnavailable, build_provider
    from eirc.services.gosuslugi import redirect_uri
    from eirc.settings import get_settings

    settings = get_settings()
    provider = build_provider(settings, Clock(), redirect_uri=redirect_uri(settings))
    if provider is None:
        raise IdentityUnavailable(
            "Госуслуги is not configured: set EIRC_ESIA_URL (ЕСИА) or EIRC_OIDC_ISSUER (OpenID Connect)"
        )
    return await provider.check()


@app.command("check")
def check(as_json: bool = JsonOption) -> None:
    """Check the Госуслуги configuration: certificate hash, subject and expiry, ЕСИА's token certificates, a
    signed authorization URL (ЕСИА), or the discovery document (OpenID Connect). Exit 1 if unusable."""
    from eirc.identity import IdentityUnavailable

    try:
        report = asyncio.run(inspect_configuration())
    except IdentityUnavailable as exc:
        fail(str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__)
    if as_json:
        print_json(report)
        return
    certificates = report.pop("token_certificates", None)
    url = report.pop("authorization_url", None)
    render_record(report, as_json=False, title=f"Госуслуги: {report.get('protocol')}")
    if certificates is not None:
        render_rows(certificates, as_json=False, title="ЕСИА token certificates (EIRC_ESIA_TOKEN_CERT_FILE)")
    if url:  # on a line of its own, whole: to be opened in a browser
        stdout.print("authorization URL (a sample, its state is not stored):", markup=False, highlight=False)
        stdout.print(url, markup=False, highlight=False, soft_wrap=True, overflow="ignore", crop=False)
