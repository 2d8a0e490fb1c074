"""GOST R 34.10-2012 / 34.11-2012 in eirc.identity.gost against an independent implementation: OpenSSL's GOST
engine (Debian's libengine-gost-openssl, installed by scripts/system_deps.sh). Keys are made with OpenSSL at
test time. The byte-order traps of INTEGRATIONS.md §1 are each pinned here."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from asn1crypto import core, pem

from eirc.identity import gost
from tests.esia_provider import certificate_hash, openssl, openssl_verifies

PARAMSETS = ["A", "B", "C", "XA", "XB", "TCA", "TCB"]  # CryptoPro A/B/C, XchA/XchB, TC26 A (Edwards), B
MESSAGE = b"EIRC01openid fullname birthdate mobile email2026.01.15 12:00:00 +0000"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """(private key PEM, public key PEM) per parameter set, made by OpenSSL."""
    d = tmp_path_factory.mktemp("gost")
    made = {}
    for paramset in PARAMSETS:
        key, pub = d / f"{paramset}.key.pem", d / f"{paramset}.pub.pem"
        openssl(
            "genpkey",
            "-engine",
            "gost",
            "-algorithm",
            "gost2012_256",
            "-pkeyopt",
            f"paramset:{paramset}",
            "-out",
            str(key),
        )
        openssl("pkey", "-engine", "gost", "-in", str(key), "-pubout", "-out", str(pub))
        made[paramset] = (key, pub)
    return made


def _spki(pub: Path) -> bytes:
    return pem.unarmor(pub.read_bytes())[2]


@pytest.mark.parametrize("paramset", PARAMSETS)
def test_openssl_verifies_our_signature(keys: dict, paramset: str) -> None:
    key_file, pub = keys[paramset]
    signature = gost.load_private_key(key_file.read_bytes()).sign(MESSAGE)
    assert len(signature) == 64
    assert openssl_verifies(pub, MESSAGE, signature)
    assert not openssl_verifies(pub, MESSAGE + b"x", signature)
    assert not openssl_verifies(
        pub, MESSAGE, signature[32:] + signature[:32]
    )  # r‖s is not what OpenSSL takes
    assert not openssl_verifies(pub, MESSAGE, signature[::-1])  # nor CryptoPro's reversed bytes


@pytest.mark.parametrize("paramset", PARAMSETS)
def test_we_verify_openssls_signature_and_read_its_keys(keys: dict, paramset: str) -> None:
    key_file, pub = keys[paramset]
    signature = openssl("dgst", "-engine", "gost", "-md_gost12_256", "-sign", str(key_file), data=MESSAGE)
    public_key = gost.public_key_from_info(_spki(pub))
    assert public_key.verify(MESSAGE, signature)
    assert not public_key.verify(MESSAGE, signature[32:] + signature[:32])
    assert not public_key.verify(MESSAGE + b"x", signature)
    assert gost.load_private_key(key_file.read_bytes()).public_key() == public_key


def test_streebog_is_openssls() -> None:
    for data in (b"", b"abc", MESSAGE, bytes(range(256)) * 5):
        expected = (
            openssl("dgst", "-engine", "gost", "-md_gost12_256", "-hex", data=data).decode().split()[-1]
        )
        assert gost.streebog256(data).hex() == expected


def test_the_certificate_hash_is_of_the_der_bytes(tmp_path: Path) -> None:
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    openssl("req", "-x509", "-engine", "gost", "-newkey", "gost2012_256", "-pkeyopt", "paramset:A", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-utf8", "-subj", "/CN=ИС ЕИРЦ/O=Test/1.2.643.100.1=1027700000000", "-days", "3")  # fmt: skip
    [certificate] = gost.load_certificates(cert.read_bytes())
    assert certificate.gost_hash == certificate_hash(cert) and len(certificate.gost_hash) == 64
    assert certificate.gost_hash != gost.streebog256(cert.read_bytes()).hex()  # not the PEM text's
    assert certificate.key_algorithm == "gost2012_256"
    assert "CN=ИС ЕИРЦ" in certificate.subject and "1.2.643.100.1=" in certificate.subject
    assert certificate.gost_public_key() == gost.load_private_key(key.read_bytes()).public_key()
    der = openssl("x509", "-in", str(cert), "-outform", "DER")
    assert gost.load_certificates(der)[0].gost_hash == certificate.gost_hash  # DER given directly
    bundle = cert.read_bytes() + b"\n" + cert.read_bytes()
    assert len(gost.load_certificates(bundle)) == 2


def _sequence(*parts: bytes) -> bytes:
    body = b"".join(parts)
    length = bytes([len(body)]) if len(body) < 128 else bytes([0x81, len(body)])
    return b"\x30" + length + body


def _pkcs8_with(key_file: Path, private: bytes) -> bytes:
    """The key file's PKCS#8 with another encoding of its private key."""
    info = core.Sequence.load(pem.unarmor(key_file.read_bytes())[2])
    return pem.armor(
        "PRIVATE KEY", _sequence(info[0].dump(), info[1].dump(), core.OctetString(private).dump())
    )


def test_every_private_key_encoding_openssl_reads(keys: dict) -> None:
    key_file, pub = keys["A"]
    key = gost.load_private_key(key_file.read_bytes())
    little = key.d.to_bytes(32, "little")
    q = gost._order(key.paramset)
    mask = 0x1234567 * 2**200 + 99
    masked = (key.d * pow(mask, -1, q) % q).to_bytes(32, "little") + mask.to_bytes(32, "little")
    encodings = {
        "octet-string": core.OctetString(little).dump(),
        "integer": core.Integer(key.d).dump(),
        "masked": masked,
        "masked-sequence": _sequence(core.OctetString(masked).dump(), core.OctetString(b"\x00" * 64).dump()),
    }
    for name, private in encodings.items():
        data = _pkcs8_with(key_file, private)
        assert gost.load_private_key(data).d == key.d, name
        # …and OpenSSL reads each the same way: its signature with that file verifies with the public key.
        other = key_file.parent / f"{name}.pem"
        other.write_bytes(data)
        assert openssl_verifies(
            pub,
            MESSAGE,
            openssl("dgst", "-engine", "gost", "-md_gost12_256", "-sign", str(other), data=MESSAGE),
        ), name


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
        b"not a key",
        pem.armor("PRIVATE KEY", b"\x30\x03\x02\x01\x00"),
    ],
    ids=["empty", "encrypted", "text", "truncated"],
)
def test_unusable_keys_are_one_clear_error(data: bytes) -> None:
    with pytest.raises(gost.GostError):
        gost.load_private_key(data)


def test_an_rsa_key_is_not_a_gost_key(tmp_path: Path) -> None:
    key = tmp_path / "rsa.pem"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", str(key))
    with pytest.raises(gost.GostError, match="not a GOST"):
        gost.load_private_key(key.read_bytes())


def test_a_signature_of_the_wrong_size_does_not_verify(keys: dict) -> None:
    public_key = gost.public_key_from_info(_spki(keys["A"][1]))
    for signature in (b"", b"\x00" * 64, b"\xff" * 64, b"\x01" * 63, base64.b64decode("AA==") * 64):
        assert not public_key.verify(MESSAGE, signature)
