"""libpq's connection parameters in `EIRC_DATABASE_URL`, as the hot reads' driver (asyncpg) can take them.

The units of work and the sign-in connect through psycopg, which hands the URL's parameters to libpq. The
one-statement reads every screen makes (`me`, storage.hot) connect through asyncpg, which reads the common
ones itself (host, port, user, password, dbname, passfile, service, `sslmode` and the other `ssl…` files,
`sslnegotiation`, `target_session_attrs`, `krbsrvname`, `gsslib`) and sends **any other** to the server as
a run-time setting — right for `application_name`, `options` or a server setting such as
`statement_timeout`, fatal for a libpq-only parameter: the server refuses the connection («unrecognized
configuration parameter»), and every `me` would fail while the rest of the gateway works. So:

- parameters that only tune libpq's own socket, time-outs or host choice are left out of asyncpg's URL
  (asyncpg keeps its own: storage.hot's 3-second connect time-out, the kernel's keep-alive defaults);
- parameters that ask for a protection asyncpg cannot give (channel binding, GSS encryption, a required
  authentication method or peer, a client-certificate mode, CRL directories, a fixed address, protocol
  versions, OAuth) are refused at start-up, with one line naming them, unless their value asks for nothing
  (`channel_binding=prefer`, `gssencmode=disable`, …): dropped quietly, the reads would go without it.

Pure: no driver is imported (eirc.settings checks the URL when the settings are read).
"""

from __future__ import annotations

from collections.abc import Mapping

# Only tune libpq's own connection: asyncpg does these its own way. Left out of asyncpg's URL.
CLIENT_SIDE = frozenset(
    {
        "connect_timeout",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "load_balance_hosts",
        "fallback_application_name",
        "sslsni",
        "sslcompression",
        "sslkeylogfile",
    }
)

# Ask for something asyncpg cannot do: refused, except with the values listed (they ask for nothing).
_PROTECTIONS: dict[str, frozenset[str]] = {
    "channel_binding": frozenset({"disable", "prefer"}),
    "gssencmode": frozenset({"disable", "prefer"}),
    "sslcertmode": frozenset({"disable", "allow"}),
    "requiressl": frozenset({"0"}),  # libpq's old spelling of sslmode=require
    "gssdelegation": frozenset({"0"}),
    "require_auth": frozenset(),
    "requirepeer": frozenset(),
    "sslcrldir": frozenset(),
    "hostaddr": frozenset(),
    "min_protocol_version": frozenset(),
    "max_protocol_version": frozenset(),
    "replication": frozenset(),
    "scram_client_key": frozenset(),
    "scram_server_key": frozenset(),
    "oauth_issuer": frozenset(),
    "oauth_client_id": frozenset(),
    "oauth_client_secret": frozenset(),
    "oauth_scope": frozenset(),
}


def refused(query: Mapping[str, str]) -> list[str]:
    """The URL's parameters the hot reads cannot honour, as `name=value` (a secret's value not shown)."""
    found = []
    for name, value in query.items():
        allowed = _PROTECTIONS.get(name)
        if allowed is not None and value.lower() not in allowed:
            found.append(name if "secret" in name or "key" in name else f"{name}={value}")
    return found


def left_out(query: Mapping[str, str]) -> list[str]:
    """The URL's parameters to leave out of asyncpg's URL (libpq-only, harmless to drop)."""
    return [name for name in query if name in CLIENT_SIDE or name in _PROTECTIONS]


def refusal(query: Mapping[str, str]) -> str | None:
    """Why the URL cannot be used by the hot reads, in one sentence; None when it can."""
    names = refused(query)
    if not names:
        return None
    return (
        f"{', '.join(names)}: not supported by the driver of the gateway's one-statement reads (asyncpg), "
        "which would connect without it; remove it, or use sslmode=verify-full for a verified TLS connection"
    )
