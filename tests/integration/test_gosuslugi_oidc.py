"""Госуслуги (SPEC §9) through the service, against the local OpenID provider (tests/oidc_provider.py), on both
backends: the code flow with state, nonce and PKCE, the three outcomes, and every way it must refuse."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from joserfc.jwk import RSAKey
from sqlalchemy import select

from eirc.bootstrap import Container
from eirc.domain import texts
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.flows import FlowKind, FlowStep
from eirc.identity.oidc import OidcClient
from eirc.security import token_digest
from eirc.services import gosuslugi, sessions
from eirc.storage.tables import Consent, Delivery, Flow, OidcState, User
from tests.conftest import make_settings
from tests.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    Callback,
    LocalOidcProvider,
    Person,
    authorize_params,
    follow_authorize,
    oidc_provider_fixture,  # noqa: F401  (the `oidc_provider` fixture)
    oidc_settings_fixture,  # noqa: F401  (the `oidc_settings` fixture)
)

PROVIDER_PHONE = "+79167654321"


@pytest.fixture
def settings_overrides(oidc_settings: dict[str, Any]) -> dict[str, Any]:
    return oidc_settings


# --- helpers ------------------------------------------------------------------------------------------------
async def add_user(
    c: Container, *, phone: str = "+79160000001", sub: str | None = None, email: str | None = None
) -> str:
    now = c.clock.now()
    async with c.uow() as tx:
        user = User(
            phone=phone,
            email=email,
            last_name="Сидоров",
            first_name="Петр",
            gosuslugi_sub=sub,
            password_hash="x",
            created_at=now,
            updated_at=now,
        )
        tx.session.add(user)
        await tx.commit()
        return user.id


async def get_user(c: Container, user_id: str) -> User:
    async with c.uow() as tx:
        user = await tx.session.get(User, user_id)
        assert user is not None
        tx.session.expunge(user)
        return user


async def sign_in_at_provider(c: Container, *, user_id: str | None = None) -> Callback:
    started = await gosuslugi.start(c, user_id=user_id, client_ip="10.0.0.1")
    callback = follow_authorize(started.url)
    assert callback.state == started.state and callback.code, callback
    return callback


async def complete(
    c: Container, callback: Callback, *, session_user_id: str | None = None
) -> gosuslugi.Completed:
    return await gosuslugi.complete(
        c, code=callback.code, state=callback.state, session_user_id=session_user_id, client_ip="10.0.0.1"
    )


async def refused(c: Container, callback: Callback, *, session_user_id: str | None = None) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await complete(c, callback, session_user_id=session_user_id)
    return caught.value


async def state_rows(c: Container) -> list[OidcState]:
    async with c.uow() as tx:
        rows = list((await tx.session.execute(select(OidcState))).scalars())
        tx.session.expunge_all()
        return rows


# --- the authorization request ---------------------------------------------------------------------------------
async def test_the_authorization_url_is_a_code_flow_with_state_nonce_and_pkce(
    container: Container,
    oidc_provider: LocalOidcProvider,
) -> None:
    started = await gosuslugi.start(container, user_id=None, client_ip="10.0.0.1")
    assert started.url.startswith(oidc_provider.issuer + "/authorize?")
    params = authorize_params(started.url)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "http://testserver/auth/gosuslugi/callback"
    assert params["scope"] == "openid profile email phone"
    assert params["state"] == started.state and len(started.state) >= 43
    assert len(params["nonce"]) >= 43
    assert params["code_challenge_method"] == "S256"

    [row] = await state_rows(container)
    # Stored: digests of state and nonce, the verifier encrypted — none of them in clear.
    assert row.id == token_digest(started.state)
    assert row.nonce_hash == token_digest(params["nonce"])
    verifier = container.secrets.decrypt(row.verifier_enc)
    assert verifier and verifier not in row.verifier_enc
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert params["code_challenge"] == challenge
    stored = str(row.model_dump())
    for secret in (started.state, params["nonce"], verifier):
        assert secret not in stored
    assert row.user_id is None and row.used_at is None
    assert row.expires_at == container.clock.now() + timedelta(seconds=600)


async def test_two_starts_are_two_different_secrets(container: Container) -> None:
    first = authorize_params((await gosuslugi.start(container, user_id=None, client_ip=None)).url)
    second = authorize_params((await gosuslugi.start(container, user_id=None, client_ip=None)).url)
    for name in ("state", "nonce", "code_challenge"):
        assert first[name] != second[name]


# --- the three outcomes --------------------------------------------------------------------------------------
async def test_a_linked_person_is_signed_in(container: Container, oidc_provider: LocalOidcProvider) -> None:
    user_id = await add_user(container, sub="esia-1000001")
    done = await complete(container, await sign_in_at_provider(container))

    assert done.outcome == gosuslugi.Outcome.SIGNED_IN
    assert done.session is not None and done.profile is not None and done.flow is None
    assert done.profile.id == user_id and done.profile.gosuslugi_linked
    resolved = await sessions.resolve(container.uow, done.session.token, now=container.clock.now())
    assert resolved is not None and resolved[1].id == user_id

    # The code went back with the PKCE verifier, the client authenticated as discovery allows (basic first).
    [token_request] = oidc_provider.received("/token")
    assert token_request.params["grant_type"] == "authorization_code"
    assert token_request.params["code_verifier"]
    assert token_request.params["redirect_uri"] == "http://testserver/auth/gosuslugi/callback"
    assert token_request.headers["authorization"].startswith("Basic ")
    assert "client_secret" not in token_request.params


async def test_an_unknown_person_gets_a_registration_flow_at_account_prefilled(
    container: Container,
    oidc_provider: LocalOidcProvider,
) -> None:
    done = await complete(container, await sign_in_at_provider(container))

    assert done.outcome == gosuslugi.Outcome.REGISTRATION
    assert done.session is None and done.profile is None
    flow = done.flow
    assert flow is not None
    assert (flow.kind, flow.step) == (FlowKind.REGISTRATION, FlowStep.ACCOUNT)
    assert flow.phone == PROVIDER_PHONE and flow.phone_verified
    assert flow.resend_available_in_seconds == 0
    assert flow.entered == {
        "last_name": "Петров",
        "first_name": "Иван",
        "middle_name": "Сергеевич",
        "birth_date": "1985-04-12",
        "email": "ivan.petrov@gosuslugi.example",
    }
    async with container.uow() as tx:
        row = (await tx.session.execute(select(Flow))).scalar_one()
        assert row.data["gosuslugi_sub"] == "esia-1000001"
        assert row.code_hash is None  # no SMS code: the provider verified the phone
        consent = (await tx.session.execute(select(Consent))).scalar_one()
        assert (consent.kind, consent.phone, consent.flow_id) == ("personal_data", PROVIDER_PHONE, row.id)
        assert (await tx.session.execute(select(Delivery))).first() is None  # nothing sent


async def test_a_signed_in_resident_links_the_profile(container: Container) -> None:
    user_id = await add_user(container)
    callback = await sign_in_at_provider(container, user_id=user_id)
    [row] = await state_rows(container)
    assert row.user_id == user_id

    done = await complete(container, callback, session_user_id=user_id)

    assert done.outcome == gosuslugi.Outcome.LINKED
    assert done.session is None and done.flow is None
    assert done.profile is not None and done.profile.id == user_id and done.profile.gosuslugi_linked
    assert (await get_user(container, user_id)).gosuslugi_sub == "esia-1000001"
    # …and from now on that person signs in to this profile.
    again = await complete(container, await sign_in_at_provider(container))
    assert again.outcome == gosuslugi.Outcome.SIGNED_IN and again.profile and again.profile.id == user_id


async def test_linking_again_with_the_same_identity_changes_nothing(container: Container) -> None:
    user_id = await add_user(container, sub="esia-1000001")
    done = await complete(
        container, await sign_in_at_provider(container, user_id=user_id), session_user_id=user_id
    )
    assert done.outcome == gosuslugi.Outcome.LINKED and done.profile and done.profile.gosuslugi_linked


async def test_linking_needs_the_session_that_started_it(container: Container) -> None:
    user_id = await add_user(container)
    other_id = await add_user(container, phone="+79160000002")

    error = await refused(container, await sign_in_at_provider(container, user_id=user_id))
    assert error.code == ErrorCode.NOT_AUTHENTICATED

    error = await refused(
        container, await sign_in_at_provider(container, user_id=user_id), session_user_id=other_id
    )
    assert (error.code, error.field) == (ErrorCode.INVALID_TOKEN, "state")
    assert (await get_user(container, user_id)).gosuslugi_sub is None
    assert (await get_user(container, other_id)).gosuslugi_sub is None


async def test_one_identity_links_one_profile(container: Container) -> None:
    await add_user(container, phone="+79160000009", sub="esia-1000001")
    user_id = await add_user(container)

    error = await refused(
        container, await sign_in_at_provider(container, user_id=user_id), session_user_id=user_id
    )
    assert error.code == ErrorCode.GOSUSLUGI_ALREADY_LINKED
    assert error.message == texts.ERROR_TEXTS[ErrorCode.GOSUSLUGI_ALREADY_LINKED]
    assert (await get_user(container, user_id)).gosuslugi_sub is None


async def test_a_profile_linked_to_another_identity_is_not_relinked(container: Container) -> None:
    user_id = await add_user(container, sub="esia-other")
    error = await refused(
        container, await sign_in_at_provider(container, user_id=user_id), session_user_id=user_id
    )
    assert error.code == ErrorCode.GOSUSLUGI_ALREADY_LINKED
    assert error.message == texts.GOSUSLUGI_OTHER_ACCOUNT_LINKED
    assert (await get_user(container, user_id)).gosuslugi_sub == "esia-other"


# --- the provider's phone ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change",
    [
        {"phone_number_verified": False},
        {"phone_number_verified": None},
        {"phone_number": None},
        {"phone_number": "+1 202 555 0143"},  # not a Russian mobile
        {"phone_number": "+7 495 123-45-67"},  # a landline
    ],
    ids=["unverified", "verified-absent", "absent", "foreign", "landline"],
)
async def test_an_unknown_person_without_a_verified_mobile_is_refused(
    container: Container,
    oidc_provider: LocalOidcProvider,
    change: dict,
) -> None:
    oidc_provider.person = dataclasses.replace(Person(), **change)
    error = await refused(container, await sign_in_at_provider(container))
    assert error.code == ErrorCode.GOSUSLUGI_PHONE_REQUIRED
    assert error.message == texts.GOSUSLUGI_PHONE_REQUIRED
    async with container.uow() as tx:
        assert (await tx.session.execute(select(Flow))).first() is None


async def test_the_phone_of_an_unlinked_resident_does_not_open_that_account(container: Container) -> None:
    user_id = await add_user(container, phone=PROVIDER_PHONE)
    error = await refused(container, await sign_in_at_provider(container))
    assert (error.code, error.message) == (ErrorCode.PHONE_TAKEN, texts.GOSUSLUGI_PHONE_TAKEN)
    assert (await get_user(container, user_id)).gosuslugi_sub is None
    async with container.uow() as tx:
        assert (await tx.session.execute(select(Flow))).first() is None


async def test_claims_that_break_our_rules_are_left_out_of_the_prefill(
    container: Container,
    oidc_provider: LocalOidcProvider,
) -> None:
    oidc_provider.person = dataclasses.replace(
        Person(), family_name="Щ" * 101, given_name="  Иван \n ", email="not-an-email", birthdate="2999-01-01"
    )
    done = await complete(container, await sign_in_at_provider(container))
    assert done.flow is not None
    assert done.flow.entered == {"first_name": "Иван", "middle_name": "Сергеевич"}


async def test_profile_claims_missing_from_the_id_token_come_from_userinfo(
    container: Container,
    oidc_provider: LocalOidcProvider,
) -> None:
    oidc_provider.claims_in_id_token = False
    done = await complete(container, await sign_in_at_provider(container))
    assert done.flow is not None and done.flow.phone == PROVIDER_PHONE
    assert done.flow.entered["last_name"] == "Петров"
    assert oidc_provider.received("/userinfo")


# --- the state ----------------------------------------------------------------------------------------------
async def test_a_forged_state_is_refused_before_the_provider_is_asked(
    container: Container,
    oidc_provider: LocalOidcProvider,
) -> None:
    real = await sign_in_at_provider(container)
    for state in ("forged-" + "x" * 40, "", "x" * 300):
        error = await refused(container, dataclasses.replace(real, state=state))
        assert (error.code, error.field) == (ErrorCode.INVALID_TOKEN, "state")
        assert error.message == texts.GOSUSLUGI_STATE_INVALID
    assert oidc_provider.received("/token") == []


async def test_a_replayed_state_is_refused(container: Container, oidc_provider: LocalOidcProvider) -> None:
    callback = await sign_in_at_provider(container)
    assert (await complete(container, callback)).outcome == gosuslugi.Outcome.REGISTRATION

    error = await refused(container, callback)
    assert (error.code, error.field) == (ErrorCode.INVALID_TOKEN, "state")
    assert len(oidc_provider.received("/token")) == 1
    [row] = await state_rows(container)
    assert row.used_at is not None and row.verifier_enc == ""  # the verifier is wiped once used


async def test_two_racing_completions_of_one_state_make_one_outcome(
    container: Container, oidc_provider: LocalOidcProvider
) -> None:
    callback = await sign_in_at_provider(container)
    results = await asyncio.gather(
        complete(container, callback), complete(container, callback), return_exceptions=True
    )
    outcomes = [r for r in results if isinstance(r, gosuslugi.Completed)]
    errors = [r for r in results if isinstance(r, DomainError)]
    assert len(outcomes) == 1 and len(errors) == 1, results
    assert (errors[0].code, errors[0].field) == (ErrorCode.INVALID_TOKEN, "state")
    assert len(oidc_provider.received("/token")) == 1
    async with container.uow() as tx:
        assert len((await tx.session.execute(select(Flow))).all()) == 1


async def test_an_expired_state_is_refused(container: Container, oidc_provider: LocalOidcProvider) -> None:
    callback = await sign_in_at_provider(container)
    container.clock.advance(601)  # type: ignore[attr-defined]
    error = await refused(container, callback)
    assert (error.code, error.field) == (ErrorCode.INVALID_TOKEN, "state")
    assert oidc_provider.received("/token") == []


async def test_spent_and_expired_states_are_cleared_by_later_starts(container: Container) -> None:
    await complete(container, await sign_in_at_provider(container))
    await gosuslugi.start(container, user_id=None, client_ip=None)
    container.clock.advance(601)  # type: ignore[attr-defined]
    latest = await gosuslugi.start(container, user_id=None, client_ip=None)
    assert [r.id for r in await state_rows(container)] == [token_digest(latest.state)]


async def test_a_code_sent_back_with_another_state_fails_pkce(container: Container) -> None:
    stolen = await sign_in_at_provider(container)
    mine = await sign_in_at_provider(container)
    error = await refused(container, dataclasses.replace(mine, code=stolen.code))
    assert (error.code, error.field) == (ErrorCode.INVALID_TOKEN, "code")
    assert error.message == texts.GOSUSLUGI_LOGIN_FAILED


async def test_starts_are_throttled_per_client_address(container: Container) -> None:
    for _ in range(gosuslugi.STARTS_PER_CLIENT_PER_HOUR):
        await gosuslugi.start(container, user_id=None, client_ip="10.9.9.9")
    with pytest.raises(DomainError) as caught:
        await gosuslugi.start(container, user_id=None, client_ip="10.9.9.9")
    assert caught.value.code == ErrorCode.RATE_LIMITED
    await gosuslugi.start(container, user_id=None, client_ip="10.9.9.10")


# --- the ID token -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "misbehave",
    [
        pytest.param(lambda p: p.sign_with_other_key(), id="signed-by-another-key"),
        pytest.param(lambda p: setattr(p, "audience", ["someone-else"]), id="wrong-audience"),
        pytest.param(lambda p: setattr(p, "nonce_override", "n" * 43), id="wrong-nonce"),
        pytest.param(lambda p: setattr(p, "issuer_claim", "https://evil.example"), id="wrong-issuer"),
        pytest.param(lambda p: setattr(p, "id_token_lifetime", -300), id="expired"),
    ],
)
async def test_an_id_token_that_fails_a_check_is_refused(
    container: Container,
    oidc_provider: LocalOidcProvider,
    misbehave: Any,
) -> None:
    await add_user(container, sub="esia-1000001")
    callback = await sign_in_at_provider(container)
    misbehave(oidc_provider)
    error = await refused(container, callback)
    assert (error.code, error.field) == (ErrorCode.INVALID_TOKEN, "code")
    assert error.message == texts.GOSUSLUGI_LOGIN_FAILED
    async with container.uow() as tx:
        assert (await tx.session.execute(select(Flow))).first() is None


async def test_several_audiences_without_azp_are_refused(
    container: Container,
    oidc_provider: LocalOidcProvider,
) -> None:
    # OpenID Connect Core §2: several audiences need `azp` naming the client.
    oidc_provider.audience = [CLIENT_ID, "another-service"]
    callback = await sign_in_at_provider(container)
    error = await refused(container, callback)
    assert (error.code, error.field) == (ErrorCode.INVALID_TOKEN, "code")


async def test_a_rotated_key_is_fetched_again(container: Container, oidc_provider: LocalOidcProvider) -> None:
    await add_user(container, sub="esia-1000001")
    assert (
        await complete(container, await sign_in_at_provider(container))
    ).outcome == gosuslugi.Outcome.SIGNED_IN
    oidc_provider.rotate_key()
    assert (
        await complete(container, await sign_in_at_provider(container))
    ).outcome == gosuslugi.Outcome.SIGNED_IN
    assert len(oidc_provider.received("/jwks")) == 2
    # A token under a kid the provider never published refetches at most once a minute.
    container.clock.advance(61)  # type: ignore[attr-defined]
    oidc_provider.signing_key = RSAKey.import_key(
        oidc_provider.signing_key.as_dict(private=True) | {"kid": "unknown"}
    )
    for _ in range(2):
        error = await refused(container, await sign_in_at_provider(container))
        assert error.code == ErrorCode.INVALID_TOKEN
    assert len(oidc_provider.received("/jwks")) == 3


# --- the provider unreachable or broken -----------------------------------------------------------------------
async def test_provider_down_at_start(container: Container, oidc_provider: LocalOidcProvider) -> None:
    oidc_provider.down()
    with pytest.raises(DomainError) as caught:
        await gosuslugi.start(container, user_id=None, client_ip=None)
    assert caught.value.code == ErrorCode.GOSUSLUGI_UNAVAILABLE
    assert caught.value.message == "Вход через портал Госуслуги сейчас недоступен"
    assert await state_rows(container) == []


async def test_provider_down_at_completion(container: Container, oidc_provider: LocalOidcProvider) -> None:
    callback = await sign_in_at_provider(container)
    oidc_provider.down()
    error = await refused(container, callback)
    assert error.code == ErrorCode.GOSUSLUGI_UNAVAILABLE


@pytest.mark.parametrize("mode", ["garbage", "not_json", "wrong_issuer", "error_500"])
async def test_a_broken_discovery_document_makes_it_unavailable(
    container: Container,
    oidc_provider: LocalOidcProvider,
    mode: str,
) -> None:
    oidc_provider.discovery_mode = mode
    with pytest.raises(DomainError) as caught:
        await gosuslugi.start(container, user_id=None, client_ip=None)
    assert caught.value.code == ErrorCode.GOSUSLUGI_UNAVAILABLE


@pytest.mark.parametrize("mode", ["error_500", "garbage"])
async def test_a_broken_token_endpoint_makes_it_unavailable(
    container: Container,
    oidc_provider: LocalOidcProvider,
    mode: str,
) -> None:
    callback = await sign_in_at_provider(container)
    oidc_provider.token_mode = mode
    error = await refused(container, callback)
    assert error.code == ErrorCode.GOSUSLUGI_UNAVAILABLE


async def test_refused_client_credentials_make_it_unavailable(
    container: Container,
    oidc_provider: LocalOidcProvider,
) -> None:
    callback = await sign_in_at_provider(container)
    oidc_provider.clients[CLIENT_ID].client_secret = "rotated-at-the-provider"
    error = await refused(container, callback)
    assert error.code == ErrorCode.GOSUSLUGI_UNAVAILABLE  # invalid_client: nothing the resident can fix


async def test_unset_issuer_makes_it_unavailable(container: Container, database_url: str) -> None:
    off = dataclasses.replace(container, settings=make_settings(database_url), clients={})
    with pytest.raises(DomainError) as caught:
        await gosuslugi.start(off, user_id=None, client_ip=None)
    assert caught.value.code == ErrorCode.GOSUSLUGI_UNAVAILABLE
    with pytest.raises(DomainError) as caught:
        await gosuslugi.complete(off, code="c", state="s", session_user_id=None)
    assert caught.value.code == ErrorCode.GOSUSLUGI_UNAVAILABLE


# --- discovery and client authentication ------------------------------------------------------------------------
async def test_discovery_is_cached_for_its_ttl(
    container: Container, oidc_provider: LocalOidcProvider
) -> None:
    for _ in range(3):
        await gosuslugi.start(container, user_id=None, client_ip=None)
    assert len(oidc_provider.received("/.well-known/openid-configuration")) == 1
    container.clock.advance(3601)  # type: ignore[attr-defined]
    await gosuslugi.start(container, user_id=None, client_ip=None)
    assert len(oidc_provider.received("/.well-known/openid-configuration")) == 2
    assert len(oidc_provider.received("/jwks")) == 2  # the keys come with it


async def test_client_secret_post_when_the_provider_only_takes_that(
    container: Container,
    oidc_provider: LocalOidcProvider,
) -> None:
    oidc_provider.auth_methods = ["client_secret_post"]
    await add_user(container, sub="esia-1000001")
    done = await complete(container, await sign_in_at_provider(container))
    assert done.outcome == gosuslugi.Outcome.SIGNED_IN
    [token_request] = oidc_provider.received("/token")
    assert token_request.params["client_id"] == CLIENT_ID
    assert token_request.params["client_secret"] == CLIENT_SECRET
    assert "authorization" not in token_request.headers


async def test_a_provider_announcing_no_usable_client_authentication_is_unavailable(
    container: Container,
    oidc_provider: LocalOidcProvider,
) -> None:
    oidc_provider.auth_methods = ["private_key_jwt"]
    with pytest.raises(DomainError) as caught:
        await gosuslugi.start(container, user_id=None, client_ip=None)
    assert caught.value.code == ErrorCode.GOSUSLUGI_UNAVAILABLE


async def test_one_client_per_container(container: Container) -> None:
    assert isinstance(gosuslugi.provider(container), OidcClient)
    assert gosuslugi.provider(container) is gosuslugi.provider(container)


async def test_a_subject_the_database_cannot_store_is_refused_cleanly(
    container: Container, oidc_provider: LocalOidcProvider
) -> None:
    """Claims are hostile input (issue 17): a NUL in `sub` was a masked internal error on PostgreSQL."""
    for sub in ("esia-\x001", "esia-\u202e1", "x" * 300):
        oidc_provider.person = dataclasses.replace(Person(), sub=sub)
        with pytest.raises(DomainError) as refused:
            await complete(container, await sign_in_at_provider(container))
        assert refused.value.code == ErrorCode.INVALID_TOKEN
    oidc_provider.person = dataclasses.replace(
        Person(), family_name="Пет\x00ров", given_name="\u202eИван", middle_name="Сергеевич\x07"
    )
    done = await complete(container, await sign_in_at_provider(container))
    assert done.flow is not None
    # the names that cannot be stored are left out; the bidirectional control is dropped from the one that can
    entered = done.flow.entered
    assert entered["first_name"] == "Иван" and "last_name" not in entered and "middle_name" not in entered
