"""Who signs ЕСИА's `client_secret`: the GOST R 34.10-2012 key may be a file, or live where it cannot be read
(a token, a HSM, a signing service). `EIRC_ESIA_SIGNER` picks one (docs/gosuslugi.md):

- `file` (default) — the PKCS#8 PEM key of `EIRC_ESIA_KEY_FILE`, signed in-process (eirc.identity.gost,
  gostcrypto's arithmetic; ~40 ms a signature, in a worker thread, never on the event loop);
- `openssl` — `openssl dgst -engine gost -md_gost12_256 -sign EIRC_ESIA_KEY_FILE` (Debian's
  `libengine-gost-openssl`), the message on stdin, the signature on stdout; the binary is `EIRC_ESIA_OPENSSL`;
- `http` — a signing service for a non-exportable key: `POST EIRC_ESIA_SIGNER_URL` with JSON
  `{"data": "<base64 of the bytes>", "algorithm": "GOST3410_2012_256"}` (and `Authorization: Bearer
  EIRC_ESIA_SIGNER_TOKEN` when set), answered 200 with `{"signature": "<base64 or base64url>"}`.

Every signer returns the raw 64-byte signature in OpenSSL's byte order (s‖r, each big-endian) of
Streebog-256 of the bytes; `eirc gosuslugi check` verifies one against the certificate, so a signer with
another key or another byte order is found before a resident meets it. Failures are `SignerError`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from typing import Protocol

import httpx

from eirc.identity.gost import SIGNATURE_SIZE, GostError, GostPrivateKey, GostPublicKey, load_private_key
from eirc.identity.provider import IdentityUnavailable

MAX_SIGNER_ANSWER = 64 * 1024


class SignerError(IdentityUnavailable):
    """The signature could not be made (the message names the signer's problem, never the key)."""


class Signer(Protocol):
    name: str

    async def sign(self, data: bytes) -> bytes: ...


def _checked(signature: bytes, who: str) -> bytes:
    if len(signature) != SIGNATURE_SIZE:
        raise SignerError(f"{who}: a signature of {len(signature)} bytes, not {SIGNATURE_SIZE}")
    return signature


class FileSigner:
    """The key of a PEM file, signed in-process."""

    name = "file"

    def __init__(self, key: GostPrivateKey) -> None:
        self._key = key

    @classmethod
    def from_file(cls, path: str) -> FileSigner:
        try:
            with open(path, "rb") as f:
                data = f.read(1024 * 1024)
        except OSError as exc:
            raise SignerError(f"EIRC_ESIA_KEY_FILE: cannot read {path}: {exc.strerror or exc}") from None
        try:
            return cls(load_private_key(data))
        except GostError as exc:
            raise SignerError(f"EIRC_ESIA_KEY_FILE: {exc}") from None

    def public_key(self) -> GostPublicKey:
        return self._key.public_key()

    async def sign(self, data: bytes) -> bytes:
        return _checked(await asyncio.to_thread(self._key.sign, data), "file signer")


class OpenSslSigner:
    """OpenSSL with the GOST engine, as a subprocess (the key file is read by OpenSSL, not by eirc)."""

    name = "openssl"

    def __init__(self, key_file: str, *, openssl: str = "openssl", timeout: float = 10) -> None:
        self.key_file = key_file
        self.openssl = openssl
        self.timeout = timeout

    async def sign(self, data: bytes) -> bytes:
        args = [self.openssl, "dgst", "-engine", "gost", "-md_gost12_256", "-binary", "-sign", self.key_file]
        try:
            process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise SignerError(f"openssl signer: cannot run {self.openssl}: {exc.strerror or exc}") from None
        try:
            out, err = await asyncio.wait_for(process.communicate(data), self.timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise SignerError(f"openssl signer: no answer within {self.timeout:g} s") from None
        if process.returncode != 0:
            lines = [line for line in err.decode(errors="replace").splitlines() if "error" in line.lower()]
            reason = (lines or err.decode(errors="replace").splitlines() or ["no message"])[0][:200]
            raise SignerError(f"openssl signer: exit {process.returncode}: {reason}")
        return _checked(out, "openssl signer")


class HttpSigner:
    """A signing service that holds the key (see the module's docstring for the protocol)."""

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 10,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.token = token or None
        self.timeout = timeout
        self._transport = transport

    async def sign(self, data: bytes) -> bytes:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"data": base64.b64encode(data).decode(), "algorithm": "GOST3410_2012_256"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
                response = await client.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SignerError(f"signing service: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise SignerError(f"signing service answered {response.status_code}")
        if len(response.content) > MAX_SIGNER_ANSWER:
            raise SignerError("signing service: answer too large")
        try:
            document = response.json()
            encoded = document["signature"]
            if not isinstance(encoded, str):
                raise TypeError
            encoded = encoded.strip().replace("-", "+").replace("_", "/")
            signature = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise SignerError('signing service: the answer is not {"signature": "<base64>"}') from None
        return _checked(signature, "signing service")
