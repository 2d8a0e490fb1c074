"""libpq's parameters in EIRC_DATABASE_URL as the hot reads' asyncpg can take them (storage/pg_options.py):
libpq-only tuning left out, server settings kept, a protection asyncpg cannot give refused when the
settings are read — one line naming it, never the URL (it may hold a password)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import make_url

from eirc.settings import Settings, describe_invalid
from eirc.storage import pg_options
from eirc.storage.hot import asyncpg_dsn

BASE = "postgresql+psycopg://eirc:pa55word@db.example:5432/eirc"


@pytest.mark.parametrize(
    "query",
    [
        "channel_binding=require",
        "gssencmode=require",
        "require_auth=scram-sha-256",
        "requirepeer=postgres",
        "sslcertmode=require",
        "sslcrldir=/etc/crl",
        "hostaddr=10.0.0.1",
        "min_protocol_version=3.2",
        "requiressl=1",
    ],
)
def test_a_protection_asyncpg_cannot_give_is_refused(query):
    name, value = query.split("=")
    assert pg_options.refused({name: value}) == [query]
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, database_url=f"{BASE}?sslmode=require&{query}")  # type: ignore[call-arg]
    line = describe_invalid(refused.value)
    assert line.startswith(f"EIRC_DATABASE_URL: Value error, {query}: not supported")
    assert "pa55word" not in line and "db.example" not in line


@pytest.mark.parametrize(
    "query", ["channel_binding=prefer", "gssencmode=disable", "sslcertmode=allow", "requiressl=0"]
)
def test_a_value_that_asks_for_nothing_is_accepted_and_left_out(query):
    settings = Settings(_env_file=None, database_url=f"{BASE}?{query}&sslmode=require")  # type: ignore[call-arg]
    assert asyncpg_dsn(make_url(settings.database_url)) == (
        "postgresql://eirc:pa55word@db.example:5432/eirc?sslmode=require"
    )


def test_libpq_tuning_is_left_out_and_server_settings_kept():
    url = (
        f"{BASE}?connect_timeout=5&keepalives=1&keepalives_idle=30&keepalives_interval=5&keepalives_count=3"
        "&tcp_user_timeout=10000&load_balance_hosts=disable&fallback_application_name=x&sslsni=1"
        "&application_name=eirc&options=-c%20statement_timeout%3D5s&sslmode=verify-full&target_session_attrs=read-write"
    )
    dsn = asyncpg_dsn(make_url(url))
    assert dsn == (
        "postgresql://eirc:pa55word@db.example:5432/eirc?application_name=eirc"
        "&options=-c+statement_timeout%3D5s&sslmode=verify-full&target_session_attrs=read-write"
    )


def test_a_secret_parameter_is_named_without_its_value():
    assert pg_options.refused({"oauth_client_secret": "hunter2", "scram_client_key": "abc"}) == [
        "oauth_client_secret",
        "scram_client_key",
    ]


def test_sqlite_urls_are_not_looked_at():
    assert Settings(_env_file=None, database_url="sqlite:///x.db?hostaddr=1").database_url  # type: ignore[call-arg]
