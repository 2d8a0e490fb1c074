"""The three signers of `client_secret` (eirc/identity/signers.py) make the same thing — a raw GOST signature in
OpenSSL's byte order that OpenSSL's GOST engine verifies — and fail with one clear SignerError."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from eirc.identity.signers import FileSigner, HttpSigner, OpenSslSigner, SignerError
from tests.esia_provider import Material, esia_material_fixture, openssl_verifies, public_key_pem  # noqa: F401
from tests.signing_service import SigningService

DATA = b"EIRC01openid2026.01.15 12:00:00 +0000d3b07384-d113-4ec6-a2a5-7e1e4d4b5c6dhttp://x/cb"


@pytest.fixture
def service(esia_material: Material) -> Iterator[SigningService]:
    peer = SigningService(esia_material.client_key, token="s3rv1ce")
    try:
        yield peer
    finally:
        peer.down()


def _public(material: Material) -> Path:
    return public_key_pem(material.client_cert, material.directory)


async def test_the_file_signer(esia_material: Material) -> None:
    signature = await FileSigner.from_file(str(esia_material.client_key)).sign(DATA)
    assert openssl_verifies(_public(esia_material), DATA, signature)


async def test_the_openssl_signer(esia_material: Material) -> None:
    signature = await OpenSslSigner(str(esia_material.client_key)).sign(DATA)
    assert openssl_verifies(_public(esia_material), DATA, signature)


async def test_the_http_signer(esia_material: Material, service: SigningService) -> None:
    signature = await HttpSigner(service.url, token="s3rv1ce").sign(DATA)
    assert openssl_verifies(_public(esia_material), DATA, signature)
    [request] = service.requests
    assert request["headers"]["Authorization"] == "Bearer s3rv1ce"
    assert json.loads(request["body"])["algorithm"] == "GOST3410_2012_256"


async def test_an_unreadable_key_file(tmp_path: Path) -> None:
    with pytest.raises(SignerError, match="EIRC_ESIA_KEY_FILE: cannot read"):
        FileSigner.from_file(str(tmp_path / "missing.pem"))
    (tmp_path / "text.pem").write_text("hello")
    with pytest.raises(SignerError, match="EIRC_ESIA_KEY_FILE: no PKCS#8"):
        FileSigner.from_file(str(tmp_path / "text.pem"))


async def test_openssl_failures(tmp_path: Path, esia_material: Material) -> None:
    with pytest.raises(SignerError, match="cannot run"):
        await OpenSslSigner(str(esia_material.client_key), openssl=str(tmp_path / "no-openssl")).sign(DATA)
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(SignerError, match="openssl signer: exit"):
        await OpenSslSigner(str(tmp_path / "bad.pem")).sign(DATA)


@pytest.mark.parametrize("mode", ["error_500", "garbage", "short"])
async def test_http_signer_failures(service: SigningService, mode: str) -> None:
    service.mode = mode
    with pytest.raises(SignerError):
        await HttpSigner(service.url, token="s3rv1ce").sign(DATA)


async def test_http_signer_refused_or_down(service: SigningService) -> None:
    with pytest.raises(SignerError, match="answered 401"):
        await HttpSigner(service.url, token="wrong").sign(DATA)
    service.down()
    with pytest.raises(SignerError, match="signing service: ConnectError"):
        await HttpSigner(service.url).sign(DATA)
