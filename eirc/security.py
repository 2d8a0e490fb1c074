"""Hashing, tokens and encryption — the only place secrets are handled.

- Passwords: argon2id with explicit parameters at least OWASP's minimum (m=19 MiB, t=2, p=1), hashed and
  verified in a bounded thread pool, never on the event loop.
- Bearer tokens (sessions, e-mail links, flow ids, OIDC state): 32 random bytes, stored as SHA-256.
- SMS codes: CSPRNG digits, stored as HMAC-SHA256 keyed with the secret key and bound to the flow.
- Secrets that must be read back later (a pending SMS text, a PKCE verifier): Fernet with a key derived
  from the secret key, wiped once no longer needed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken

ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_code(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


HASH_THREAD_NICENESS = 10  # where SCHED_IDLE is not available


def _lower_thread_priority() -> None:
    """Hashing threads yield the CPU to everything else: when the cores are busy with argon2, a cheap
    request (a query, a step of a flow) still runs at once instead of queuing behind hashes. Throughput is
    unchanged — the hashes get every cycle the rest leaves.

    Linux: the SCHED_IDLE policy, per thread — a waking request preempts a hash at once. Measured with
    `scripts/bench_login.py`, the trivial p99 under a full login load was 3.6–3.8 ms with nice 10 (a
    woken thread can wait for the next scheduler tick) and 2.2–2.9 ms with SCHED_IDLE. Only hashes run at
    this priority (argon2 releases the GIL while it hashes).
    Elsewhere nice 10, or nothing where neither is available.
    """
    import os
    import threading

    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):  # not Linux, or not permitted
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, tid, HASH_THREAD_NICENESS)
    except (AttributeError, OSError):  # keep the default priority
        pass


class PasswordHasher:
    def __init__(
        self,
        memory_kib: int = ARGON2_MEMORY_KIB,
        time_cost: int = ARGON2_TIME_COST,
        parallelism: int = ARGON2_PARALLELISM,
        max_threads: int = 2,
    ) -> None:
        self._hasher = _Argon2(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._pool = ThreadPoolExecutor(
            max_workers=max_threads, thread_name_prefix="argon2", initializer=_lower_thread_priority
        )
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify_sync(self, stored: str | None, password: str) -> bool:
        """Verify; with no stored hash, verify against a dummy hash so timing does not tell."""
        try:
            ok = self._hasher.verify(stored or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return ok and stored is not None

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.hash_sync, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self.verify_sync, stored, password
        )

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


class Secrets:
    """Keyed operations derived from EIRC_SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        raw = secret_key.encode()
        self._mac_key = hashlib.sha256(b"eirc-mac:" + raw).digest()
        fernet_key = base64.urlsafe_b64encode(hashlib.sha256(b"eirc-fernet:" + raw).digest())
        self._fernet = Fernet(fernet_key)

    def mac(self, *parts: str) -> str:
        msg = "\x1f".join(parts).encode("utf-8", "surrogatepass")
        return hmac.new(self._mac_key, msg, hashlib.sha256).hexdigest()

    def mac_equals(self, expected: str | None, *parts: str) -> bool:
        if not expected:
            return False
        return hmac.compare_digest(expected, self.mac(*parts))

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None
