"""No secret in clear (SPEC §10): after a whole registration and an e-mail confirmation, the password, the SMS
code, the session token, the e-mail token and the flow id appear neither in the database nor in the logs.

On SQLite the raw bytes of the database file (and its WAL) are searched; on PostgreSQL every row of every
table, as text. The code is 10 digits here, so that a chance match in the bytes is out of the question.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from eirc.settings import sqlite_path
from tests.conftest import TABLES
from tests.registration_kit import (
    CONFIRM_ADDRESS,
    CONFIRM_CODE,
    CONFIRM_EMAIL,
    PERSONAL,
    PERSONAL_DEFAULTS,
    SET_PASSWORD,
    last_code,
    last_email_token,
    prove,
    seed_billing,
    start,
)

PASSWORD = "Sekret7Parol9"


@pytest.fixture
def settings_overrides():
    return {"code_length": 10}


async def database_text(container, database_url: str) -> bytes:
    path = sqlite_path(database_url)
    if path:
        files = [Path(p) for p in (path, path + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    chunks = []
    async with container.uow() as tx:
        for table in TABLES:
            rows = await tx.session.execute(text(f"SELECT row_to_json(t)::text FROM {table} t"))
            chunks.extend(r[0] for r in rows)
    return "\n".join(chunks).encode()


async def test_no_secret_in_the_database_or_the_logs(gql, container, database_url, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # the SQL and its parameters too
    try:
        await seed_billing(container)
        flow_id = (await start(gql))["flow"]["id"]
        code = await last_code(container)
        assert len(code) == 10
        wrong = "0123456789" if code != "0123456789" else "9876543210"
        await gql(CONFIRM_CODE, {"id": flow_id, "code": wrong})
        await gql(CONFIRM_CODE, {"id": flow_id, "code": code})
        await prove(gql, flow_id)
        await gql(CONFIRM_ADDRESS, {"id": flow_id})
        await gql(PERSONAL, {"id": flow_id, **PERSONAL_DEFAULTS})
        await gql(SET_PASSWORD, {"id": flow_id, "password": "weak 11"})
        done = (await gql(SET_PASSWORD, {"id": flow_id, "password": PASSWORD}))["setPassword"]
        assert done["errors"] == []
        session_token = done["session"]["token"]
        email_token = await last_email_token(container)
        assert (await gql(CONFIRM_EMAIL, {"token": email_token}))["confirmEmail"]["errors"] == []
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

    secrets = {
        "password": PASSWORD,
        "wrong password": "weak 11",
        "SMS code": code,
        "wrong code": wrong,
        "session token": session_token,
        "e-mail token": email_token,
        "flow id": flow_id,
    }
    stored = await database_text(container, database_url)
    assert len(stored) > 1000
    logs = caplog.text
    assert "INSERT INTO app_user" in logs  # the SQL log really was captured
    for name, secret in secrets.items():
        assert secret.encode() not in stored, f"{name} found in the database"
        assert secret not in logs, f"{name} found in the logs"
