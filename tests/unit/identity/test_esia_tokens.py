"""ЕСИА's protocol details that need no server: the timestamp, the issuers, and what a token must be."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from eirc.identity.esia import (
    EsiaRejected,
    TokenKey,
    default_issuers,
    esia_timestamp,
    names_client,
    subject_of,
    verify_jwt,
)

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS = [TokenKey("rsa", "esia.pem", "CN=ЕСИА", None, rsa=KEY.public_key())]
ISSUERS = ("http://esia.gosuslugi.ru/",)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(claims: dict, *, alg: str = "RS256", key: rsa.RSAPrivateKey = KEY) -> str:
    signing_input = (
        f"{_b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}"
    )
    return f"{signing_input}.{_b64(key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))}"


def good(**changes: object) -> dict:
    claims = {
        "iss": "http://esia.gosuslugi.ru/",
        "urn:esia:sbj_id": 1000404446,
        "client_id": "EIRC01",
        "exp": NOW.timestamp() + 3600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def verify(jwt: str) -> dict:
    return verify_jwt(jwt, KEYS, issuers=ISSUERS, client_id="EIRC01", now=NOW, what="access_token")


def test_the_timestamp_is_esias_format_in_utc() -> None:
    assert esia_timestamp(NOW) == "2026.01.15 12:00:00 +0000"
    moscow = NOW.astimezone(timezone(timedelta(hours=3)))
    assert esia_timestamp(moscow) == "2026.01.15 12:00:00 +0000"


def test_default_issuers() -> None:
    assert default_issuers("https://esia.gosuslugi.ru") == ("http://esia.gosuslugi.ru/",)
    assert default_issuers("https://esia-portal1.test.gosuslugi.ru/") == (
        "http://esia-portal1.test.gosuslugi.ru/",
        "http://esia.gosuslugi.ru/",
    )


def test_a_good_token() -> None:
    assert verify(token(good()))["urn:esia:sbj_id"] == 1000404446
    assert verify(token(good(client_id=None, aud=["EIRC01", "OTHER"])))
    assert verify(token(good(iss="http://esia.gosuslugi.ru")))  # the trailing slash is not significant
    assert verify(token(good(exp=NOW.timestamp() - 30)))  # within the clock skew allowed


@pytest.mark.parametrize(
    "jwt",
    [
        "",
        "a.b",
        "a.b.c.d",
        "x" * 40000,
        "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.",
        token(good(), alg="HS256"),
        token(good(), alg="none"),
        token(good(), key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        token(good(exp=None)),
        token(good(exp="soon")),
        token(good(exp=True)),
        token(good(exp=NOW.timestamp() - 61)),
        token(good(iss=None)),
        token(good(iss="https://esia.gosuslugi.ru/")),
        token(good(client_id="OTHER")),
        token(good(client_id=None, aud="OTHER")),
        token(good(aud={"EIRC01": 1})),
    ],
)
def test_a_token_that_fails_any_check(jwt: str) -> None:
    with pytest.raises(EsiaRejected):
        verify(jwt)


def test_a_token_naming_no_audience_is_verified_but_says_so() -> None:
    assert not names_client(verify(token(good(client_id=None))))
    assert names_client(verify(token(good())))


def test_a_tampered_token() -> None:
    head, _body, signature = token(good()).split(".")
    forged = _b64(json.dumps(good(**{"urn:esia:sbj_id": 1})).encode())
    with pytest.raises(EsiaRejected, match="matches none"):
        verify(f"{head}.{forged}.{signature}")


def test_the_subject() -> None:
    assert subject_of({"urn:esia:sbj_id": 1000404446}) == "1000404446"
    assert subject_of({"urn:esia:sbj_id": 1000404446}, {"sub": "1000404446"}) == "1000404446"
    for bad in ([{}], [{"sub": "1"}, {"sub": "2"}], [{"sub": "x1"}], [{"urn:esia:sbj_id": 1, "sub": "abc"}]):
        with pytest.raises(EsiaRejected):
            subject_of(*bad)
