"""GOST R 34.10-2012 (256-bit) signatures and GOST R 34.11-2012 (Streebog-256) hashes, in OpenSSL's byte
order, and the certificates and keys that carry them (INTEGRATIONS.md §1).

The arithmetic is gostcrypto's (pure Python, MIT); the ASN.1 is asn1crypto's. What this module owns is the
byte order, where pure-Python signing usually goes wrong — each point checked against OpenSSL's GOST engine
(tests/unit/identity/test_gost.py verifies with `openssl dgst -engine gost -verify`):

- the Streebog digest is read as a **little-endian** integer before signing (gostcrypto reads it big-endian,
  so it is given the digest reversed);
- a signature is **s‖r**, each 32 bytes big-endian — what `openssl dgst -sign` writes, what RFC 4491 and
  ЕСИА expect (gostcrypto returns r‖s);
- a private key in PKCS#8 is 32 bytes **little-endian** (OpenSSL's GOST engine writes it bare; an OCTET
  STRING, an INTEGER and CryptoPro's masked form are read too, as the engine does);
- a public key in a certificate is an OCTET STRING of X‖Y, each 32 bytes little-endian.

Curve parameter sets: the TC26 ones and their CryptoPro aliases (CryptoPro-A = TC26-B, -B = TC26-C,
-C = TC26-D, XchA = CryptoPro-A, XchB = CryptoPro-C; R 1323565.1.024-2019).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from asn1crypto import core, pem, x509
from gostcrypto import gosthash, gostsignature

GOST_2012_256 = "1.2.643.7.1.1.1.1"  # id-tc26-gost3410-12-256
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
KEY_SIZE = 32
SIGNATURE_SIZE = 64

PARAMSETS = {
    "1.2.643.7.1.2.1.1.1": "id-tc26-gost-3410-2012-256-paramSetA",
    "1.2.643.7.1.2.1.1.2": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.7.1.2.1.1.3": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.7.1.2.1.1.4": "id-tc26-gost-3410-2012-256-paramSetD",
    "1.2.643.2.2.35.1": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-A
    "1.2.643.2.2.35.2": "id-tc26-gost-3410-2012-256-paramSetC",  # CryptoPro-B
    "1.2.643.2.2.35.3": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-C
    "1.2.643.2.2.36.0": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-XchA
    "1.2.643.2.2.36.1": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-XchB
}


class GostError(ValueError):
    """A key, certificate or signature that cannot be used; the message names what, never a secret."""


def streebog256(data: bytes) -> bytes:
    return bytes(gosthash.new("streebog256", data=data).digest())


@functools.cache
def _curve(name: str) -> gostsignature.GOST34102012:
    return gostsignature.new(gostsignature.MODE_256, gostsignature.CURVES_R_1323565_1_024_2019[name])


def _order(name: str) -> int:
    return gostsignature.CURVES_R_1323565_1_024_2019[name]["q"]


# --- ASN.1 shapes asn1crypto has no GOST specs for --------------------------------------------------------
class _Algorithm(core.Sequence):
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _KeyParameters(core.Sequence):  # GostR3410-2012-PublicKeyParameters (RFC 9215 §4)
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("public_key_param_set", core.ObjectIdentifier),
        ("digest_param_set", core.ObjectIdentifier, {"optional": True}),
        ("encryption_param_set", core.ObjectIdentifier, {"optional": True}),
    ]


class _PublicKeyInfo(core.Sequence):
    _fields: ClassVar[list[tuple[Any, ...]]] = [("algorithm", _Algorithm), ("public_key", core.BitString)]


class _PrivateKeyInfo(core.Sequence):  # PKCS#8 (RFC 5208), the private key left as bytes
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("version", core.Integer),
        ("private_key_algorithm", _Algorithm),
        ("private_key", core.OctetString),
        ("attributes", core.Any, {"implicit": 0, "optional": True}),
    ]


class _MaskedKey(core.Sequence):  # OpenSSL GOST engine's MASKED_GOST_KEY
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("masked_priv_key", core.OctetString),
        ("public_key", core.OctetString, {"optional": True}),
    ]


def _paramset(algorithm: _Algorithm) -> str:
    if algorithm["algorithm"].dotted != GOST_2012_256:
        raise GostError(f"not a GOST R 34.10-2012 256-bit key (algorithm {algorithm['algorithm'].dotted})")
    try:
        params = _KeyParameters.load(algorithm["parameters"].dump())
        oid = params["public_key_param_set"].dotted
    except (ValueError, TypeError, KeyError) as exc:
        raise GostError(f"unreadable GOST key parameters ({type(exc).__name__})") from None
    if oid not in PARAMSETS:
        raise GostError(f"unsupported GOST curve parameter set {oid}")
    return PARAMSETS[oid]


# --- keys -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GostPublicKey:
    paramset: str
    x: int
    y: int

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether `signature` (s‖r, OpenSSL's order) is this key's over Streebog-256 of `data`."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        digest = streebog256(data)
        point = self.x.to_bytes(KEY_SIZE, "big") + self.y.to_bytes(KEY_SIZE, "big")
        r_s = signature[KEY_SIZE:] + signature[:KEY_SIZE]
        try:
            return bool(
                _curve(self.paramset).verify(bytearray(point), bytearray(digest[::-1]), bytearray(r_s))
            )
        except (gostsignature.GOSTSignatureError, ValueError, ZeroDivisionError):
            return False


@dataclass(frozen=True)
class GostPrivateKey:
    paramset: str
    d: int = field(repr=False)

    def sign(self, data: bytes) -> bytes:
        """The raw signature of Streebog-256 of `data`: 64 bytes, s‖r (what `openssl dgst -sign` writes)."""
        digest = streebog256(data)
        private = bytearray(self.d.to_bytes(KEY_SIZE, "big"))  # gostcrypto wipes it after use
        r_s = bytes(_curve(self.paramset).sign(private, bytearray(digest[::-1])))
        return r_s[KEY_SIZE:] + r_s[:KEY_SIZE]

    def public_key(self) -> GostPublicKey:
        private = bytearray(self.d.to_bytes(KEY_SIZE, "big"))
        point = bytes(_curve(self.paramset).public_key_generate(private))
        return GostPublicKey(
            self.paramset, int.from_bytes(point[:KEY_SIZE], "big"), int.from_bytes(point[KEY_SIZE:], "big")
        )


def _der_blocks(data: bytes, kinds: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """The PEM blocks of `kinds` in `data` (in order), or the data itself as one DER block."""
    if pem.detect(data):
        blocks = []
        for match in re.finditer(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", data, re.DOTALL):
            kind, _headers, der = pem.unarmor(match.group(0))
            if kind in kinds:
                blocks.append((kind, der))
        return blocks
    return [("DER", data)] if data[:1] == b"\x30" else []


def load_private_key(data: bytes) -> GostPrivateKey:
    """A GOST R 34.10-2012 256-bit private key from unencrypted PKCS#8 (PEM «PRIVATE KEY», or DER)."""
    blocks = _der_blocks(data, ("PRIVATE KEY",))
    if not blocks:
        if pem.detect(data) and b"ENCRYPTED PRIVATE KEY" in data:
            raise GostError("the private key is encrypted: give an unencrypted PKCS#8 key, or another signer")
        raise GostError("no PKCS#8 «PRIVATE KEY» found")
    try:
        info = _PrivateKeyInfo.load(blocks[0][1])
        paramset = _paramset(info["private_key_algorithm"])
        raw = info["private_key"].native
    except (ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, GostError):
            raise
        raise GostError(f"unreadable PKCS#8 private key ({type(exc).__name__})") from None
    d = _private_number(raw, _order(paramset))
    if not 0 < d < _order(paramset):
        raise GostError("the private key is out of range for its curve")
    return GostPrivateKey(paramset, d)


def _private_number(raw: bytes, q: int) -> int:
    """The key as OpenSSL's GOST engine reads it: bare (and masked) little-endian bytes, else a wrapped
    OCTET STRING (little-endian), INTEGER (big-endian) or MASKED_GOST_KEY."""
    if raw and len(raw) % KEY_SIZE == 0:
        return _unmask(raw, q)
    try:
        if raw[:1] == b"\x04":
            inner = core.OctetString.load(raw).native
            if len(inner) != KEY_SIZE:
                raise GostError("the private key is not 32 bytes")
            return int.from_bytes(inner, "little")
        if raw[:1] == b"\x02":
            return core.Integer.load(raw).native
        if raw[:1] == b"\x30":
            masked = _MaskedKey.load(raw)["masked_priv_key"].native
            if not masked or len(masked) % KEY_SIZE:
                raise GostError("the masked private key has a wrong length")
            return _unmask(masked, q)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, GostError):
            raise
        raise GostError(f"unreadable private key value ({type(exc).__name__})") from None
    raise GostError("unknown private key encoding")


def _unmask(raw: bytes, q: int) -> int:
    """CryptoPro's masked key: the key times every mask that follows it, modulo q (all little-endian)."""
    parts = [int.from_bytes(raw[i : i + KEY_SIZE], "little") for i in range(0, len(raw), KEY_SIZE)]
    key = parts[0]
    for mask in parts[1:]:
        key = key * mask % q
    return key


# --- certificates ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Certificate:
    """An X.509 certificate, whatever its key (GOST for eirc's own, RSA or GOST for ЕСИА's tokens)."""

    der: bytes = field(repr=False)
    subject: str
    not_before: datetime
    not_after: datetime
    key_algorithm: str  # "gost2012_256", "rsa" or the dotted OID of anything else
    public_key_info: bytes = field(repr=False)  # DER SubjectPublicKeyInfo

    @property
    def gost_hash(self) -> str:
        """`client_certificate_hash`: hex (lower case) of Streebog-256 of the DER bytes — not of the PEM text."""
        return streebog256(self.der).hex()

    def gost_public_key(self) -> GostPublicKey:
        if self.key_algorithm != "gost2012_256":
            raise GostError("the certificate's key is not a GOST R 34.10-2012 256-bit key")
        return public_key_from_info(self.public_key_info)


def public_key_from_info(spki: bytes) -> GostPublicKey:
    """A GOST public key from a DER SubjectPublicKeyInfo (RFC 9215: an OCTET STRING of X‖Y, little-endian)."""
    try:
        info = _PublicKeyInfo.load(spki)
        paramset = _paramset(info["algorithm"])
        point = core.OctetString.load(info["public_key"].contents[1:]).native  # after the unused-bits byte
    except (ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, GostError):
            raise
        raise GostError(f"unreadable GOST public key ({type(exc).__name__})") from None
    if len(point) != 2 * KEY_SIZE:
        raise GostError("the GOST public key is not 64 bytes")
    return GostPublicKey(
        paramset, int.from_bytes(point[:KEY_SIZE], "little"), int.from_bytes(point[KEY_SIZE:], "little")
    )


def _key_algorithm(spki: bytes) -> str:
    oid = _PublicKeyInfo.load(spki)["algorithm"]["algorithm"].dotted
    return {GOST_2012_256: "gost2012_256", RSA_ENCRYPTION: "rsa"}.get(oid, oid)


def _subject(name: x509.Name) -> str:
    """The subject as `CN=…, O=…` (attributes asn1crypto does not know, e.g. ИНН or ОГРН, by their OID)."""
    parts = []
    for rdn in name.chosen:
        for attribute in rdn:
            kind = attribute["type"]
            label = {
                "common_name": "CN",
                "organization_name": "O",
                "organizational_unit_name": "OU",
                "country_name": "C",
                "state_or_province_name": "ST",
                "locality_name": "L",
                "surname": "SN",
                "given_name": "GN",
                "email_address": "E",
            }.get(kind.native, kind.dotted)
            try:
                value = attribute["value"].native
            except (ValueError, TypeError):
                value = None
            parts.append(f"{label}={value if isinstance(value, str) else attribute['value'].contents.hex()}")
    return ", ".join(parts)


def _certificate(der: bytes) -> Certificate:
    try:
        cert = x509.Certificate.load(der)
        tbs = cert["tbs_certificate"]
        spki = tbs["subject_public_key_info"].dump()
        validity = tbs["validity"]
        return Certificate(
            der=cert.dump(),
            subject=_subject(tbs["subject"]),
            not_before=validity["not_before"].native,
            not_after=validity["not_after"].native,
            key_algorithm=_key_algorithm(spki),
            public_key_info=spki,
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise GostError(f"unreadable certificate ({type(exc).__name__})") from None


def load_certificates(data: bytes) -> list[Certificate]:
    """Every certificate in `data`: PEM (one or several «CERTIFICATE» blocks: a bundle) or one DER certificate.
    None found → GostError."""
    blocks = _der_blocks(data, ("CERTIFICATE",))
    if not blocks:
        raise GostError("no certificate found (PEM «CERTIFICATE» or DER expected)")
    return [_certificate(der) for _kind, der in blocks]


def load_public_keys(data: bytes) -> list[tuple[str, bytes]]:
    """Bare public keys (PEM «PUBLIC KEY»): (key algorithm, DER SubjectPublicKeyInfo) each."""
    keys = []
    for _kind, der in _der_blocks(data, ("PUBLIC KEY",)) if pem.detect(data) else []:
        try:
            keys.append((_key_algorithm(der), der))
        except (ValueError, TypeError, KeyError) as exc:
            raise GostError(f"unreadable public key ({type(exc).__name__})") from None
    return keys
