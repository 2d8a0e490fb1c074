"""«Вход через портал Госуслуги» (SPEC §9; docs/gosuslugi.md): sign in, link a profile, or start a
registration with what the provider vouches for.

`start` → the provider's authorize URL. `state` (32 random bytes; a UUID for ЕСИА), `nonce` and the PKCE
verifier are fresh random secrets (ЕСИА uses neither of the last two), single-use, living
`oidc_state_ttl_seconds`; the `oidc_state` row keeps the SHA-256 of the state and of the nonce and the
verifier encrypted with the secret key (it must be sent back once), and — when a signed-in resident started
it — the user to link.

`complete(code, state)`:
1. the state is claimed atomically (`UPDATE … WHERE used_at IS NULL AND expires_at > now`, its verifier wiped
   in the same statement) before anything else: unknown, used or expired → ``INVALID_TOKEN`` (field
   ``state``), and a replay is refused even while the first attempt is still running;
2. the code is exchanged and what comes back checked by the configured provider (eirc.identity: ЕСИА, or a
   generic OpenID Connect provider with the verifier and nonce): provider down or answering garbage →
   ``GOSUSLUGI_UNAVAILABLE``; the code refused or a token failing a check → ``INVALID_TOKEN`` (field
   ``code``);
3. then, by who the person is:
   - a linking state (started with a session) → the provider identity is linked to that profile — only
     when the same resident completes it (``NOT_AUTHENTICATED`` without the session); one identity per
     profile and one profile per identity (``GOSUSLUGI_ALREADY_LINKED``);
   - a person already linked (`User.gosuslugi_sub` = `sub`) → a new session and the profile;
   - an unknown person with a verified mobile phone → a REGISTRATION flow at ACCOUNT: the phone verified (no
     SMS), names, e-mail and birth date prefilled in the flow's data; the identity is linked when that
     registration completes (`link_new_user`);
   - a provider phone that is absent, unverified or not a Russian mobile → ``GOSUSLUGI_PHONE_REQUIRED``;
   - a provider phone that belongs to a resident not linked yet → ``PHONE_TAKEN``: the resident signs in
     by phone and password and links from the profile. A provider's «verified» flag may be years old and
     phone numbers are reissued, so it never opens an existing account on its own.

No database transaction is held while the provider is called.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from eirc.domain import limits, texts
from eirc.domain.email import parse_email
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.flows import FlowKind, FlowStep
from eirc.domain.names import clean_optional
from eirc.domain.personal import check_birth_date, local_today
from eirc.domain.phone import mask_phone, parse_phone
from eirc.identity import Identity, IdentityProvider, IdentityRejected, IdentityUnavailable, build_provider
from eirc.security import new_token, token_digest
from eirc.services import sessions
from eirc.services.flows import FlowView, create_flow, view_of
from eirc.services.profile import ProfileView, load_profile, lock_user
from eirc.services.throttle import throttle
from eirc.storage.db import UnitOfWork
from eirc.storage.repository import Conflict
from eirc.storage.tables import Consent, OidcState, User

if TYPE_CHECKING:
    from eirc.services.deps import Deps
    from eirc.settings import Settings

log = logging.getLogger("eirc.gosuslugi")

CALLBACK_PATH = "/auth/gosuslugi/callback"
STARTS_PER_CLIENT_PER_HOUR = 60  # each start writes a row: one client address cannot fill the table
MAX_STATE_LENGTH = limits.OIDC_STATE
MAX_CODE_LENGTH = limits.OIDC_CODE
MAX_SUB_LENGTH = limits.OIDC_SUBJECT
_CLIENT_KEY = "oidc_client"


# --- the provider ------------------------------------------------------------------------------------------
def unavailable() -> DomainError:
    return DomainError(ErrorCode.GOSUSLUGI_UNAVAILABLE)


def redirect_uri(settings: Settings) -> str:
    """The redirect URI registered at the provider (ЕСИА's technology portal, or the OIDC provider)."""
    return settings.public_url.rstrip("/") + CALLBACK_PATH


def provider(deps: Deps) -> IdentityProvider:
    """The configured provider, ЕСИА or OpenID Connect (one per container: it caches discovery, keys and
    certificates), or GOSUSLUGI_UNAVAILABLE."""
    client = deps.clients.get(_CLIENT_KEY)
    if client is None:
        try:
            client = build_provider(deps.settings, deps.clock, redirect_uri=redirect_uri(deps.settings))
        except IdentityUnavailable as exc:
            log.error("Госуслуги sign-in is off: %s", exc)
            raise unavailable() from None
        if client is None:
            raise unavailable()
        deps.clients[_CLIENT_KEY] = client
    return client


# --- gosuslugiStart ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Started:
    url: str
    state: str  # for the browser route's cookie (binds the callback to the browser that started it)


async def start(deps: Deps, *, user_id: str | None, client_ip: str | None) -> Started:
    """A new sign-in (or, with `user_id`, linking) at the provider: its authorize URL."""
    client = provider(deps)
    now = deps.clock.now()
    await throttle(
        deps, action="oidc:start", client_ip=client_ip, limit=STARTS_PER_CLIENT_PER_HOUR, window_seconds=3600
    )

    state, nonce, verifier = client.new_state(), new_token(), new_token()  # verifier: 43 chars, RFC 7636 §4.1
    try:
        url = await client.authorization_url(state=state, nonce=nonce, code_verifier=verifier)
    except IdentityUnavailable as exc:
        log.warning("Госуслуги unavailable at start: %s", exc)
        raise unavailable() from None

    async with deps.uow() as tx:
        # Spent and expired states are of no use (an unknown state gets the same answer): clear them.
        await tx.oidc_states.purge_expired(now=now)
        await tx.oidc_states.add(
            OidcState(
                id=token_digest(state),
                nonce_hash=token_digest(nonce),
                verifier_enc=deps.secrets.encrypt(verifier),
                user_id=user_id,
                created_at=now,
                expires_at=now + timedelta(seconds=deps.settings.oidc_state_ttl_seconds),
            )
        )
        await tx.commit()
    log.info("Госуслуги %s started", "linking" if user_id else "sign-in")
    return Started(url=url, state=state)


# --- gosuslugiComplete --------------------------------------------------------------------------------------
class Outcome(StrEnum):
    SIGNED_IN = "signed_in"
    LINKED = "linked"
    REGISTRATION = "registration"


@dataclass(frozen=True)
class Completed:
    outcome: Outcome
    session: sessions.IssuedSession | None = None
    profile: ProfileView | None = None
    flow: FlowView | None = None


@dataclass(frozen=True)
class ProviderPerson:
    """What the provider says about the person, cleaned; a field it did not give (or gave broken) is None."""

    sub: str
    phone: str | None
    phone_verified: bool
    last_name: str | None
    first_name: str | None
    middle_name: str | None
    email: str | None
    email_verified: bool
    birth_date: date | None


@dataclass(frozen=True)
class _Claimed:
    nonce_hash: str
    verifier: str
    user_id: str | None


def _state_invalid() -> DomainError:
    return DomainError(ErrorCode.INVALID_TOKEN, "state", message=texts.GOSUSLUGI_STATE_INVALID)


def _login_failed() -> DomainError:
    return DomainError(ErrorCode.INVALID_TOKEN, "code", message=texts.GOSUSLUGI_LOGIN_FAILED)


async def complete(
    deps: Deps,
    *,
    code: str | None,
    state: str | None,
    session_user_id: str | None,
    client_ip: str | None = None,
    user_agent: str | None = None,
) -> Completed:
    """The provider sent the resident back with `code` and `state` (see the module's docstring)."""
    client = provider(deps)
    if not state or len(state) > MAX_STATE_LENGTH:
        raise _state_invalid()
    if not code or len(code) > MAX_CODE_LENGTH:
        raise DomainError(
            ErrorCode.REQUIRED if not code else ErrorCode.TOO_LONG, None
        )  # the provider's code: no screen field
    claimed = await _claim_state(deps, state)
    if claimed.user_id is not None:  # linking: only the resident who started it may complete it
        if session_user_id is None:
            raise DomainError(ErrorCode.NOT_AUTHENTICATED)
        if session_user_id != claimed.user_id:  # another resident's linking: never cross profiles
            raise _state_invalid()

    try:
        identity = await client.complete(
            code=code, code_verifier=claimed.verifier, nonce_digest=claimed.nonce_hash
        )
    except IdentityUnavailable as exc:
        log.warning("Госуслуги unavailable at completion: %s", exc)
        raise unavailable() from None
    except IdentityRejected as exc:
        log.warning("Госуслуги sign-in refused: %s", exc)
        raise _login_failed() from None
    person = person_from_identity(identity, today=local_today(deps.clock.now()))
    if person is None:
        log.warning("Госуслуги sign-in refused: the provider's subject is not usable")
        raise _login_failed()

    if claimed.user_id is not None:
        return await _link(deps, claimed.user_id, person)
    return await _sign_in_or_register(deps, person, client_ip=client_ip, user_agent=user_agent)


async def _claim_state(deps: Deps, state: str) -> _Claimed:
    """Mark the state used — atomically, so that of two racing completions exactly one goes on — and read
    what it holds. The verifier is wiped at once: it is sent to the provider only this time."""
    now = deps.clock.now()
    key = token_digest(state)
    async with deps.uow() as tx:
        held = await tx.oidc_states.claim(key, now=now)
        if held is None:
            raise _state_invalid()
        await tx.commit()
    verifier = deps.secrets.decrypt(held.verifier_enc)
    if not verifier:  # encrypted with another secret key: as good as unknown
        raise _state_invalid()
    return _Claimed(nonce_hash=held.nonce_hash, verifier=verifier, user_id=held.user_id)


async def abandon(deps: Deps, *, state: str) -> None:
    """The resident came back without a code (declined at the provider): the state is spent."""
    if not state or len(state) > MAX_STATE_LENGTH:
        return
    try:
        await _claim_state(deps, state)
    except DomainError:
        pass


def person_from_identity(identity: Identity, *, today: date) -> ProviderPerson | None:
    """The person the provider describes, by our own rules; None without a usable subject. Each other field is
    optional: one that is missing or does not pass our rules (phone, e-mail, name length, dates, control
    characters) is left out."""
    sub = identity.subject
    if (
        not isinstance(sub, str)
        or not sub.strip()
        or len(sub) > MAX_SUB_LENGTH
        or not sub.isprintable()  # NUL, lone surrogates, bidirectional controls: a subject identifies nobody
    ):
        return None

    def name(value: str | None, field: str) -> str | None:
        try:
            return clean_optional(value, field)
        except DomainError:
            return None

    phone = None
    if identity.phone is not None:
        try:
            phone = parse_phone(identity.phone)
        except DomainError:
            phone = None
    email = None
    if identity.email is not None:
        try:
            email = parse_email(identity.email)
        except DomainError:
            email = None
    birth = None
    if identity.birth_date is not None:
        try:
            birth = check_birth_date(identity.birth_date, today)
        except DomainError:
            birth = None
    return ProviderPerson(
        sub=sub,
        phone=phone,
        phone_verified=identity.phone_verified,
        last_name=name(identity.last_name, "lastName"),
        first_name=name(identity.first_name, "firstName"),
        middle_name=name(identity.middle_name, "middleName"),
        email=email,
        email_verified=identity.email_verified,
        birth_date=birth,
    )


async def _sign_in_or_register(
    deps: Deps, person: ProviderPerson, *, client_ip: str | None, user_agent: str | None
) -> Completed:
    now = deps.clock.now()
    async with deps.uow() as tx:
        user = await tx.users.by_gosuslugi_sub(person.sub)
        if user is not None:
            issued = await sessions.create_session(
                tx,
                user_id=user.id,
                now=now,
                ttl_seconds=deps.settings.session_ttl_seconds,
                client_ip=client_ip,
                user_agent=user_agent,
            )
            profile = await load_profile(tx, user)
            await tx.commit()
            log.info("user %s signed in through Госуслуги", user.id)
            return Completed(Outcome.SIGNED_IN, session=issued, profile=profile)

        if person.phone is None or not person.phone_verified:
            raise DomainError(ErrorCode.GOSUSLUGI_PHONE_REQUIRED)
        if await tx.users.phone_taken(person.phone):
            log.info("Госуслуги sign-in: %s belongs to an unlinked user", mask_phone(person.phone))
            raise DomainError(ErrorCode.PHONE_TAKEN, message=texts.GOSUSLUGI_PHONE_TAKEN)

        flow_id, row = await create_flow(
            tx,
            deps,
            kind=FlowKind.REGISTRATION,
            phone=person.phone,
            step=FlowStep.ACCOUNT,
            phone_verified=True,
            data=_registration_data(person, now),
        )
        # The consent checkbox sits on the phone screen above both buttons (SPEC §1): the screen lets
        # «Вход через портал Госуслуги» through only when it is ticked, as it does «Далее».
        await tx.consents.add(
            Consent(
                kind="personal_data", phone=person.phone, flow_id=row.id, client_ip=client_ip, accepted_at=now
            )
        )
        await tx.commit()
    log.info("Госуслуги sign-in: registration started for %s", mask_phone(person.phone))
    return Completed(Outcome.REGISTRATION, flow=view_of(flow_id, row, deps))


def _registration_data(person: ProviderPerson, now: datetime) -> dict[str, Any]:
    """The flow's data: the prefill of «Регистрация: личные данные» (keys of services.flows.ENTERED_KEYS),
    and the identity to link when the registration completes."""
    data: dict[str, Any] = {
        "personal_data_consent_at": now.isoformat(),
        "gosuslugi_sub": person.sub,
    }
    prefill = {
        "last_name": person.last_name,
        "first_name": person.first_name,
        "middle_name": person.middle_name,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "email": person.email,
    }
    data.update({k: v for k, v in prefill.items() if v is not None})
    return data


async def _link(deps: Deps, user_id: str, person: ProviderPerson) -> Completed:
    now = deps.clock.now()
    async with deps.uow() as tx:
        user = await lock_user(tx, user_id)
        if user.gosuslugi_sub == person.sub:  # linked already: nothing to do
            return Completed(Outcome.LINKED, profile=await load_profile(tx, user))
        if user.gosuslugi_sub is not None:
            raise DomainError(
                ErrorCode.GOSUSLUGI_ALREADY_LINKED, message=texts.GOSUSLUGI_OTHER_ACCOUNT_LINKED
            )
        await _attach(tx, user, person.sub, now=now)
        profile = await load_profile(tx, user)
        await tx.commit()
    log.info("user %s linked a Госуслуги account", user_id)
    return Completed(Outcome.LINKED, profile=profile)


async def _attach(tx: UnitOfWork, user: User, sub: str, *, now: datetime) -> None:
    """Set the user's provider identity; one identity belongs to one profile (the column is unique)."""
    other = await tx.users.by_gosuslugi_sub(sub)
    if other is not None and other.id != user.id:
        raise DomainError(ErrorCode.GOSUSLUGI_ALREADY_LINKED)
    try:  # a racing twin linked it meanwhile: refused cleanly
        await tx.users.set_gosuslugi_sub(user, sub, now=now)
    except Conflict:
        raise DomainError(ErrorCode.GOSUSLUGI_ALREADY_LINKED) from None


async def link_new_user(tx: UnitOfWork, deps: Deps, user: User, data: dict[str, Any]) -> None:
    """Registration completion (services.registration): a flow started by Госуслуги links its identity to
    the new user, in the completing transaction. Nothing for other flows."""
    sub = data.get("gosuslugi_sub")
    if not sub:
        return
    await _attach(tx, user, sub, now=deps.clock.now())
    user.source = "gosuslugi"
