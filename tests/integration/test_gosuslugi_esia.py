"""Госуслуги through ЕСИА itself (SPEC §9, INTEGRATIONS.md §1), through the service, against the local ЕСИА
(tests/esia_provider.py) that verifies every signature with OpenSSL's GOST engine, on both backends: the
protocol's fields, the three outcomes, and every way it must refuse."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from eirc.bootstrap import Container
from eirc.domain import texts
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.flows import FlowKind, FlowStep
from eirc.identity.esia import EsiaClient
from eirc.identity.gost import streebog256
from eirc.security import token_digest
from eirc.services import gosuslugi, sessions
from eirc.storage.tables import Consent, Delivery, Flow, OidcState, User
from tests.esia_provider import (
    CLIENT_ID,
    OID,
    OMIT,
    PROVIDER_PHONE,
    Callback,
    EsiaPerson,
    FakeEsia,
    Material,
    authorize_params,
    certificate_hash,
    contact,
    esia_material_fixture,  # noqa: F401  (the `esia_material` fixture)
    esia_provider_fixture,  # noqa: F401  (the `esia_provider` fixture)
    esia_settings_fixture,  # noqa: F401  (the `esia_settings` fixture)
    follow_authorize,
    openssl_verifies,
)

REDIRECT_URI = "http://testserver/auth/gosuslugi/callback"
SCOPE = "openid fullname birthdate mobile email"


@pytest.fixture
def settings_overrides(esia_settings: dict[str, Any]) -> dict[str, Any]:
    return esia_settings


# --- helpers ------------------------------------------------------------------------------------------------
async def add_user(c: Container, *, phone: str = "+79160000001", sub: str | None = None) -> str:
    now = c.clock.now()
    async with c.uow() as tx:
        user = User(
            phone=phone,
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


async def sign_in_at_esia(c: Container, *, user_id: str | None = None) -> Callback:
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


async def no_flow(c: Container) -> bool:
    async with c.uow() as tx:
        return (await tx.session.execute(select(Flow))).first() is None


# --- the authorization request ---------------------------------------------------------------------------------
async def test_the_authorization_url_is_esias_signed_v2_request(
    container: Container, esia_provider: FakeEsia, esia_material: Material
) -> None:
    started = await gosuslugi.start(container, user_id=None, client_ip="10.0.0.1")
    assert started.url.startswith(esia_provider.url + "/aas/oauth2/v2/ac?")
    params = authorize_params(started.url)
    assert params["client_id"] == CLIENT_ID
    assert params["response_type"] == "code"
    assert params["access_type"] == "online"
    assert params["scope"] == SCOPE
    assert params["redirect_uri"] == REDIRECT_URI
    assert params["state"] == started.state and str(uuid.UUID(started.state)) == started.state
    assert params["timestamp"] == "2026.01.15 12:00:00 +0000"  # the frozen clock, ЕСИА's format
    # The hash is Streebog-256 of the certificate's DER (as OpenSSL computes it), never of the PEM text.
    assert params["client_certificate_hash"] == certificate_hash(esia_material.client_cert)
    assert params["client_certificate_hash"] != streebog256(esia_material.client_cert.read_bytes()).hex()
    assert "nonce" not in params and "code_challenge" not in params
    # client_secret: base64url of the raw signature, which OpenSSL's GOST engine verifies with the certificate.
    signature = base64.urlsafe_b64decode(params["client_secret"])
    assert len(signature) == 64
    text = CLIENT_ID + SCOPE + params["timestamp"] + params["state"] + REDIRECT_URI
    public_key = esia_provider.certificates[params["client_certificate_hash"]]
    assert openssl_verifies(public_key, text.encode(), signature)
    assert not openssl_verifies(public_key, text.encode(), signature[32:] + signature[:32])  # s‖r, not r‖s

    [row] = await gosuslugi_states(container)
    assert row.id == token_digest(started.state) and row.user_id is None and row.used_at is None


async def gosuslugi_states(c: Container) -> list[OidcState]:
    async with c.uow() as tx:
        rows = list((await tx.session.execute(select(OidcState))).scalars())
        tx.session.expunge_all()
        return rows


async def test_the_token_request_is_signed_over_the_code_with_a_fresh_state(
    container: Container, esia_provider: FakeEsia
) -> None:
    callback = await sign_in_at_esia(container)
    await complete(container, callback)
    [token_request] = esia_provider.received("/aas/oauth2/v3/te")
    form = token_request.params
    assert form["grant_type"] == "authorization_code" and form["token_type"] == "Bearer"
    assert form["code"] == callback.code
    assert form["state"] != callback.state and uuid.UUID(form["state"])
    assert form["redirect_uri"] == REDIRECT_URI and form["scope"] == SCOPE
    # The fake verified both signatures with OpenSSL: the authorization's, then the token request's (+ code).
    authorization = esia_provider.received("/aas/oauth2/v2/ac")[0].params
    assert esia_provider.verified_signatures == [
        CLIENT_ID + SCOPE + authorization["timestamp"] + callback.state + REDIRECT_URI,
        CLIENT_ID + SCOPE + form["timestamp"] + form["state"] + REDIRECT_URI + callback.code,
    ]
    # The person was read with the access token.
    for path in (f"/rs/prns/{OID}", f"/rs/prns/{OID}/ctts"):
        [rest] = esia_provider.received(path)
        assert rest.headers["authorization"].startswith("Bearer ey")
    assert esia_provider.received(f"/rs/prns/{OID}/ctts")[0].params == {"embed": "(elements)"}


# --- the three outcomes --------------------------------------------------------------------------------------
async def test_an_unknown_resident_gets_a_registration_flow_at_account_prefilled(
    container: Container,
) -> None:
    done = await complete(container, await sign_in_at_esia(container))

    assert done.outcome == gosuslugi.Outcome.REGISTRATION
    assert done.session is None and done.profile is None
    flow = done.flow
    assert flow is not None
    assert (flow.kind, flow.step) == (FlowKind.REGISTRATION, FlowStep.ACCOUNT)
    assert flow.phone == PROVIDER_PHONE and flow.phone_verified
    assert flow.entered == {
        "last_name": "Петров",
        "first_name": "Иван",
        "middle_name": "Сергеевич",
        "birth_date": "1985-04-12",
        "email": "ivan.petrov@gosuslugi.example",
    }
    async with container.uow() as tx:
        row = (await tx.session.execute(select(Flow))).scalar_one()
        assert row.data["gosuslugi_sub"] == OID and row.code_hash is None
        consent = (await tx.session.execute(select(Consent))).scalar_one()
        assert (consent.kind, consent.phone) == ("personal_data", PROVIDER_PHONE)
        assert (await tx.session.execute(select(Delivery))).first() is None


async def test_a_linked_person_is_signed_in(container: Container) -> None:
    user_id = await add_user(container, sub=OID)
    done = await complete(container, await sign_in_at_esia(container))
    assert done.outcome == gosuslugi.Outcome.SIGNED_IN
    assert done.session is not None and done.profile is not None and done.profile.id == user_id
    resolved = await sessions.resolve(container.uow, done.session.token, now=container.clock.now())
    assert resolved is not None and resolved[1].id == user_id


async def test_a_signed_in_resident_links_the_profile(container: Container) -> None:
    user_id = await add_user(container)
    done = await complete(
        container, await sign_in_at_esia(container, user_id=user_id), session_user_id=user_id
    )
    assert done.outcome == gosuslugi.Outcome.LINKED and done.profile and done.profile.gosuslugi_linked
    assert (await get_user(container, user_id)).gosuslugi_sub == OID
    again = await complete(container, await sign_in_at_esia(container))
    assert again.outcome == gosuslugi.Outcome.SIGNED_IN and again.profile and again.profile.id == user_id


# --- the mobile phone -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "contacts",
    [
        [contact("MBT", "+7(916)7654321", verified=False)],
        [contact("EML", "ivan@example.org")],
        [],
        [contact("MBT", "+7(495)1234567")],  # a landline
        [contact("MBT", "+1(202)5550143")],  # not Russian
    ],
    ids=["unverified", "no-mobile", "no-contacts", "landline", "foreign"],
)
async def test_an_unknown_resident_without_a_verified_mobile_is_refused(
    container: Container, esia_provider: FakeEsia, contacts: list[dict]
) -> None:
    esia_provider.persons[OID] = dataclasses.replace(EsiaPerson(), contacts=contacts)
    error = await refused(container, await sign_in_at_esia(container))
    assert (error.code, error.message) == (ErrorCode.GOSUSLUGI_PHONE_REQUIRED, texts.GOSUSLUGI_PHONE_REQUIRED)
    assert await no_flow(container)


async def test_the_verified_mobile_is_chosen_over_an_unverified_one(
    container: Container, esia_provider: FakeEsia
) -> None:
    esia_provider.persons[OID] = dataclasses.replace(
        EsiaPerson(),
        contacts=[
            contact("MBT", "+7(903)1112233", verified=False, contact_id=1),
            contact("MBT", "+7(916)7654321", contact_id=2),
        ],
    )
    done = await complete(container, await sign_in_at_esia(container))
    assert done.flow is not None and done.flow.phone == PROVIDER_PHONE


async def test_contacts_given_as_links_are_read_one_by_one(
    container: Container, esia_provider: FakeEsia
) -> None:
    esia_provider.contacts_as_links = True
    done = await complete(container, await sign_in_at_esia(container))
    assert done.flow is not None and done.flow.phone == PROVIDER_PHONE
    assert esia_provider.received(f"/rs/prns/{OID}/ctts/14217")


async def test_the_phone_of_an_unlinked_resident_does_not_open_that_account(container: Container) -> None:
    user_id = await add_user(container, phone=PROVIDER_PHONE)
    error = await refused(container, await sign_in_at_esia(container))
    assert (error.code, error.message) == (ErrorCode.PHONE_TAKEN, texts.GOSUSLUGI_PHONE_TAKEN)
    assert (await get_user(container, user_id)).gosuslugi_sub is None


# --- hostile person data ----------------------------------------------------------------------------------------
async def test_person_data_that_breaks_our_rules_is_left_out(
    container: Container, esia_provider: FakeEsia
) -> None:
    esia_provider.persons[OID] = dataclasses.replace(
        EsiaPerson(),
        last_name="Щ" * 101,
        first_name="Ив\x00ан",
        middle_name="\ud800",
        birth_date="31.02.1985",
        contacts=[contact("MBT", "+7(916)7654321"), contact("EML", "not-an-email\x00")],
    )
    done = await complete(container, await sign_in_at_esia(container))
    assert done.flow is not None and done.flow.phone == PROVIDER_PHONE
    assert done.flow.entered == {}


async def test_person_data_of_the_wrong_type_is_left_out(
    container: Container, esia_provider: FakeEsia
) -> None:
    esia_provider.persons[OID] = EsiaPerson(
        last_name=42, first_name=["Иван"], middle_name={"a": 1}, birth_date=19850412
    )
    done = await complete(container, await sign_in_at_esia(container))
    assert (
        done.flow is not None
        and done.flow.phone == PROVIDER_PHONE
        and done.flow.entered == {"email": "ivan.petrov@gosuslugi.example"}
    )


async def test_contacts_of_the_wrong_shape_hold_no_mobile(
    container: Container, esia_provider: FakeEsia
) -> None:
    esia_provider.persons[OID] = EsiaPerson(
        contacts=[{"type": "MBT", "vrfStu": "VERIFIED", "value": 79167654321}, "garbage", 7, None]
    )
    error = await refused(container, await sign_in_at_esia(container))
    assert error.code == ErrorCode.GOSUSLUGI_PHONE_REQUIRED


@pytest.mark.parametrize(
    "subject", ["esia-1000001", "", "1" * 21, "0", -5, True, 1.5, "１２３", "\ud800", None], ids=repr
)
async def test_a_subject_that_is_not_a_numeric_oid_is_refused(
    container: Container, esia_provider: FakeEsia, subject: Any
) -> None:
    esia_provider.subject = subject if subject is not None else {"oid": OID}
    error = await refused(container, await sign_in_at_esia(container))
    assert (error.code, error.field, error.message) == (
        ErrorCode.INVALID_TOKEN,
        "code",
        texts.GOSUSLUGI_LOGIN_FAILED,
    )
    assert await no_flow(container)


# --- the state ------------------------------------------------------------------------------------------------
async def test_a_forged_state_is_refused_before_esia_is_asked(
    container: Container, esia_provider: FakeEsia
) -> None:
    real = await sign_in_at_esia(container)
    for state in (str(uuid.uuid4()), "", "x" * 300):
        error = await refused(container, dataclasses.replace(real, state=state))
        assert (error.code, error.field) == (ErrorCode.INVALID_TOKEN, "state")
    assert esia_provider.received("/aas/oauth2/v3/te") == []


async def test_a_replayed_state_is_refused(container: Container, esia_provider: FakeEsia) -> None:
    callback = await sign_in_at_esia(container)
    assert (await complete(container, callback)).outcome == gosuslugi.Outcome.REGISTRATION
    error = await refused(container, callback)
    assert (error.code, error.field) == (ErrorCode.INVALID_TOKEN, "state")
    assert len(esia_provider.received("/aas/oauth2/v3/te")) == 1


async def test_two_racing_completions_of_one_state_make_one_outcome(
    container: Container, esia_provider: FakeEsia
) -> None:
    callback = await sign_in_at_esia(container)
    results = await asyncio.gather(
        complete(container, callback), complete(container, callback), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["Completed", "DomainError"], results
    assert len(esia_provider.received("/aas/oauth2/v3/te")) == 1


async def test_a_code_used_twice_is_refused_by_esia(container: Container) -> None:
    first = await sign_in_at_esia(container)
    await complete(container, first)
    second = await sign_in_at_esia(container)
    error = await refused(container, dataclasses.replace(second, code=first.code))
    assert (error.code, error.field) == (ErrorCode.INVALID_TOKEN, "code")  # invalid_grant


# --- what the fake ЕСИА refuses: eirc's own fields must be exactly right -------------------------------------------
class _Swapped:
    """A signer returning r‖s instead of OpenSSL's s‖r (the byte-order trap)."""

    name = "swapped"

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def sign(self, data: bytes) -> bytes:
        signature = await self.inner.sign(data)
        return signature[32:] + signature[:32]


async def test_esia_refuses_a_swapped_signature(container: Container, esia_provider: FakeEsia) -> None:
    client = gosuslugi.provider(container)
    assert isinstance(client, EsiaClient)
    client.signer = _Swapped(client.signer)
    started = await gosuslugi.start(container, user_id=None, client_ip=None)
    callback = follow_authorize(started.url)
    assert callback.code is None and callback.error == "invalid_client"
    assert esia_provider.refusals == ["ESIA-007053: clientSecretWrong (signature)"]


async def test_esia_refuses_a_hash_of_the_pem_text(
    container: Container, esia_provider: FakeEsia, esia_material: Material
) -> None:
    client = gosuslugi.provider(container)
    assert isinstance(client, EsiaClient)
    client.certificate_hash = streebog256(esia_material.client_cert.read_bytes()).hex()
    callback = follow_authorize((await gosuslugi.start(container, user_id=None, client_ip=None)).url)
    assert callback.error == "invalid_client"
    assert esia_provider.refusals == ["ESIA-007053: clientSecretWrong (unknown certificate hash)"]


async def test_esia_refuses_a_stale_timestamp(container: Container, esia_provider: FakeEsia) -> None:
    esia_provider.skew = 600  # ЕСИА's clock runs ten minutes ahead of ours
    callback = follow_authorize((await gosuslugi.start(container, user_id=None, client_ip=None)).url)
    assert callback.error == "invalid_request" and esia_provider.refusals == [
        "ESIA-007005: timestamp is stale"
    ]


async def test_esia_refuses_a_redirect_uri_it_does_not_know(
    container: Container, esia_provider: FakeEsia, database_url: str
) -> None:
    from tests.conftest import make_settings

    moved = dataclasses.replace(
        container,
        settings=make_settings(
            database_url, **{**_settings_of(container), "public_url": "http://elsewhere.example"}
        ),
        clients={},
    )
    started = await gosuslugi.start(moved, user_id=None, client_ip=None)
    assert _status_of(started.url) == 400
    assert esia_provider.refusals == ["redirect_uri"]


def _status_of(url: str) -> int:
    return httpx.get(url, follow_redirects=False).status_code


def _settings_of(c: Container) -> dict[str, Any]:
    return {k: v for k, v in c.settings.model_dump().items() if k.startswith("esia_")}


async def test_a_signature_refused_at_the_token_endpoint_makes_it_unavailable(
    container: Container, esia_provider: FakeEsia
) -> None:
    callback = await sign_in_at_esia(container)
    client = gosuslugi.provider(container)
    assert isinstance(client, EsiaClient)
    client.signer = _Swapped(client.signer)
    error = await refused(container, callback)
    assert error.code == ErrorCode.GOSUSLUGI_UNAVAILABLE  # invalid_client: nothing the resident can fix
    assert esia_provider.refusals == ["ESIA-007053: clientSecretWrong (signature)"]


async def test_a_declined_sign_in_comes_back_with_an_error(
    container: Container, esia_provider: FakeEsia
) -> None:
    esia_provider.person = None
    callback = follow_authorize((await gosuslugi.start(container, user_id=None, client_ip=None)).url)
    assert callback.error == "access_denied" and callback.code is None


# --- the tokens -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "misbehave",
    [
        pytest.param(lambda p: setattr(p, "sign_with_other_key", True), id="signed-by-another-key"),
        pytest.param(lambda p: setattr(p, "issuer", "https://evil.example/"), id="wrong-issuer"),
        pytest.param(lambda p: setattr(p, "audience", "SOMEONE"), id="wrong-audience"),
        pytest.param(lambda p: setattr(p, "client_id_claim", "SOMEONE"), id="wrong-client-id"),
        pytest.param(lambda p: setattr(p, "token_lifetime", -300), id="expired"),
        pytest.param(
            lambda p: (setattr(p, "id_token", False), setattr(p, "client_id_claim", OMIT)), id="no-audience"
        ),
    ],
)
async def test_a_token_that_fails_a_check_is_refused(
    container: Container, esia_provider: FakeEsia, misbehave: Any
) -> None:
    await add_user(container, sub=OID)
    callback = await sign_in_at_esia(container)
    misbehave(esia_provider)
    error = await refused(container, callback)
    assert (error.code, error.field, error.message) == (
        ErrorCode.INVALID_TOKEN,
        "code",
        texts.GOSUSLUGI_LOGIN_FAILED,
    )
    assert esia_provider.received(f"/rs/prns/{OID}") == []  # nothing is read with a token that failed


async def test_gost_signed_tokens_are_verified_too(container: Container, esia_provider: FakeEsia) -> None:
    esia_provider.token_alg = "GOST3410_2012_256"
    await add_user(container, sub=OID)
    assert (
        await complete(container, await sign_in_at_esia(container))
    ).outcome == gosuslugi.Outcome.SIGNED_IN


async def test_a_gost_token_under_a_key_not_configured_is_refused(
    container: Container, esia_provider: FakeEsia, esia_material: Material, database_url: str
) -> None:
    from tests.conftest import make_settings

    rsa_only = dataclasses.replace(
        container,
        settings=make_settings(
            database_url,
            **{**_settings_of(container), "esia_token_cert_file": str(esia_material.esia_rsa_cert)},
        ),
        clients={},
    )
    esia_provider.token_alg = "GOST3410_2012_256"
    error = await refused(rsa_only, await sign_in_at_esia(rsa_only))
    assert (error.code, error.field) == (ErrorCode.INVALID_TOKEN, "code")


async def test_the_access_token_alone_is_enough(container: Container, esia_provider: FakeEsia) -> None:
    esia_provider.id_token = False
    done = await complete(container, await sign_in_at_esia(container))
    assert done.flow is not None and done.flow.phone == PROVIDER_PHONE


async def test_the_production_issuer_and_esias_own_host_are_accepted(
    container: Container, esia_provider: FakeEsia
) -> None:
    esia_provider.issuer = esia_provider.url + "/"
    assert (await complete(container, await sign_in_at_esia(container))).flow is not None


# --- ЕСИА unreachable or broken ----------------------------------------------------------------------------------
async def test_esia_down_at_completion(container: Container, esia_provider: FakeEsia) -> None:
    callback = await sign_in_at_esia(container)
    esia_provider.down()
    assert (await refused(container, callback)).code == ErrorCode.GOSUSLUGI_UNAVAILABLE


@pytest.mark.parametrize("mode", ["error_500", "garbage"])
async def test_a_broken_token_endpoint_makes_it_unavailable(
    container: Container, esia_provider: FakeEsia, mode: str
) -> None:
    callback = await sign_in_at_esia(container)
    esia_provider.token_mode = mode
    assert (await refused(container, callback)).code == ErrorCode.GOSUSLUGI_UNAVAILABLE


@pytest.mark.parametrize("mode", ["error_500", "garbage", "forbidden"])
async def test_a_broken_person_api_makes_it_unavailable(
    container: Container, esia_provider: FakeEsia, mode: str
) -> None:
    callback = await sign_in_at_esia(container)
    esia_provider.rest_mode = mode
    assert (await refused(container, callback)).code == ErrorCode.GOSUSLUGI_UNAVAILABLE
    assert await no_flow(container)


async def test_a_token_answer_with_another_state_makes_it_unavailable(
    container: Container, esia_provider: FakeEsia
) -> None:
    callback = await sign_in_at_esia(container)
    esia_provider.state_echo = str(uuid.uuid4())
    assert (await refused(container, callback)).code == ErrorCode.GOSUSLUGI_UNAVAILABLE


async def test_an_unreadable_key_makes_it_unavailable_with_a_logged_reason(
    container: Container, database_url: str, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import make_settings

    broken = dataclasses.replace(
        container,
        settings=make_settings(
            database_url, **{**_settings_of(container), "esia_key_file": str(tmp_path / "missing.pem")}
        ),
        clients={},
    )
    with pytest.raises(DomainError) as caught:
        await gosuslugi.start(broken, user_id=None, client_ip=None)
    assert caught.value.code == ErrorCode.GOSUSLUGI_UNAVAILABLE
    assert "EIRC_ESIA_KEY_FILE: cannot read" in caplog.text


async def test_a_key_that_is_not_the_certificates_makes_it_unavailable(
    container: Container, database_url: str, esia_material: Material, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import make_settings

    broken = dataclasses.replace(
        container,
        settings=make_settings(
            database_url, **{**_settings_of(container), "esia_key_file": str(esia_material.other_key)}
        ),
        clients={},
    )
    with pytest.raises(DomainError) as caught:
        await gosuslugi.start(broken, user_id=None, client_ip=None)
    assert caught.value.code == ErrorCode.GOSUSLUGI_UNAVAILABLE
    assert "EIRC_ESIA_KEY_FILE does not match EIRC_ESIA_CERT_FILE" in caplog.text


async def test_one_client_per_container(container: Container) -> None:
    assert isinstance(gosuslugi.provider(container), EsiaClient)
    assert gosuslugi.provider(container) is gosuslugi.provider(container)


# --- the signers -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("signer", ["openssl", "http"])
async def test_every_signer_makes_signatures_esia_verifies(
    container: Container, esia_provider: FakeEsia, esia_material: Material, database_url: str, signer: str
) -> None:
    from tests.conftest import make_settings
    from tests.signing_service import SigningService

    service = SigningService(esia_material.client_key)
    try:
        extra: dict[str, Any] = {"esia_signer": signer}
        if signer == "http":
            extra |= {"esia_signer_url": service.url, "esia_key_file": None}
        other = dataclasses.replace(
            container, settings=make_settings(database_url, **{**_settings_of(container), **extra}), clients={}
        )
        done = await complete(other, await sign_in_at_esia(other))
    finally:
        service.down()
    assert done.outcome == gosuslugi.Outcome.REGISTRATION
    assert len(esia_provider.verified_signatures) == 2
    assert len(service.requests) == (2 if signer == "http" else 0)
