"""Sign-in (SPEC §4, §11): login by phone or confirmed e-mail and password.

- A login is a phone number in any spelling people type, or an e-mail (it contains «@»). A login that
  is neither, an unknown login, a user without a password and a wrong password all answer
  ``INVALID_CREDENTIALS`` with the same text after exactly one argon2 verification (against a dummy hash
  when there is no stored one), so neither the answer nor its timing tells whether the person exists.
- Every attempt is counted before the password is verified, and locks as services/lockout.py says.
- The right password for an e-mail that is not confirmed yet answers ``EMAIL_NOT_CONFIRMED`` and sends the
  confirmation letter again (at most one per ``EMAIL_RESEND_SECONDS``).

docs/signin.md has the long version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eirc.domain import texts
from eirc.domain.email import parse_email
from eirc.domain.errors import DomainError, DomainErrors, ErrorCode
from eirc.domain.password import normalize_password
from eirc.domain.phone import mask_phone, parse_phone
from eirc.services import lockout, sessions
from eirc.services.email_confirmation import resend_confirmation
from eirc.services.profile import ProfileView, load_profile
from eirc.storage.db import UnitOfWork
from eirc.storage.tables import User

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.signin")


# --- logins and subjects -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedLogin:
    kind: str  # phone | email | invalid
    value: str  # normalized phone / e-mail, or the stripped, lower-cased text


def parse_login(raw: str) -> ParsedLogin:
    """A phone in any accepted spelling, or an e-mail when it contains «@»; otherwise `invalid`."""
    text = raw.strip()
    try:
        if "@" in text:
            return ParsedLogin("email", parse_email(text, "login"))
        return ParsedLogin("phone", parse_phone(text))
    except DomainError:
        return ParsedLogin("invalid", text.lower())


def login_subject(deps: Deps, login: ParsedLogin) -> str:
    """The lockout subject of a login that belongs to nobody — keyed by an HMAC, so the counter table holds
    no phone numbers or e-mails of strangers."""
    return "l:" + deps.secrets.mac("login-subject", login.kind, login.value)[:40]


async def find_user_by_login(tx: UnitOfWork, login: ParsedLogin) -> User | None:
    if login.kind == "phone":
        return await tx.users.by_phone(login.value)
    if login.kind == "email":
        return await tx.users.by_email(login.value)
    return None


# --- login ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedIn:
    user_id: str
    session: sessions.IssuedSession
    profile: ProfileView | None  # None when not asked for (`with_profile=False`)


def _required(login: str | None, password: str | None) -> None:
    missing = []
    if not (login or "").strip():
        missing.append(DomainError(ErrorCode.REQUIRED, "login"))
    if not password:
        missing.append(DomainError(ErrorCode.REQUIRED, "password"))
    if len(missing) == 1:
        raise missing[0]
    if missing:
        raise DomainErrors(missing)


async def login(
    deps: Deps,
    *,
    login: str | None,
    password: str | None,
    client_ip: str | None = None,
    user_agent: str | None = None,
    with_profile: bool = True,
) -> SignedIn:
    """Sign in by phone or confirmed e-mail: a new session, or a DomainError (see the module's rules).

    `with_profile=False` skips loading the profile (the client did not ask for it).
    """
    _required(login, password)
    assert login is not None and password is not None
    parsed = parse_login(login)
    typed = normalize_password(password)

    async with deps.uow() as tx:  # the attempt is counted, and committed, before the hash
        user = await find_user_by_login(tx, parsed)
        subject = lockout.user_subject(user.id) if user is not None else login_subject(deps, parsed)
        attempt = await lockout.begin_attempt(tx, deps, subject=subject, client_ip=client_ip)
        await tx.commit()

    stored = user.password_hash if user is not None else None
    if not await deps.hasher.verify(stored, typed) or user is None:
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "password")  # under «Пароль», as the seed shows it

    now = deps.clock.now()
    async with deps.uow() as tx:
        await lockout.clear(tx, attempt.subject)
        if parsed.kind == "email" and not user.email_confirmed:
            sent = await resend_confirmation(tx, deps, user_id=user.id)
            await tx.commit()
            log.info("sign-in by an unconfirmed e-mail (user %s); letter re-sent: %s", user.id, sent)
            # «мы отправили повторное письмо» only when one really went out now
            raise DomainError(
                ErrorCode.EMAIL_NOT_CONFIRMED,
                "login",
                message=None if sent else texts.EMAIL_NOT_CONFIRMED_LETTER_PENDING,
            )
        if stored and deps.hasher.needs_rehash(stored):
            fresh = await tx.users.get(user.id)
            if fresh is not None:
                fresh.password_hash = await deps.hasher.hash(typed)
        issued = await sessions.create_session(
            tx,
            user_id=user.id,
            now=now,
            ttl_seconds=deps.settings.session_ttl_seconds,
            client_ip=client_ip,
            user_agent=user_agent,
        )
        await tx.commit()
    profile = None
    if with_profile:
        async with deps.uow() as tx:
            profile = await load_profile(tx, user)
    log.info(
        "signed in: user %s by %s",
        user.id,
        parsed.kind if parsed.kind != "phone" else mask_phone(parsed.value),
    )
    return SignedIn(user_id=user.id, session=issued, profile=profile)
