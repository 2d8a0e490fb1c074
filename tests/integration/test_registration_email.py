"""E-mail confirmation (SPEC §6) on both backends: by the `confirmEmail` mutation and by the link's page;
single use, expiry, and one answer for unknown, expired and used tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from eirc.storage.tables import EmailToken, User
from tests.registration_kit import (
    CONFIRM_EMAIL,
    EMAIL,
    ME,
    errors_of,
    last_email_token,
    register,
    seed_billing,
)

INVALID_TOKEN = [("INVALID_TOKEN", None)]


@pytest.fixture
async def registered(gql, container):
    await seed_billing(container)
    done = await register(gql, container)
    return done["session"]["token"], await last_email_token(container)


async def test_confirm_by_mutation_once(gql, container, registered):
    session_token, token = registered
    answer = (await gql(CONFIRM_EMAIL, {"token": token}, token=session_token))["confirmEmail"]
    assert answer["errors"] == [] and answer["profile"]["emailConfirmed"] is True
    assert answer["profile"]["email"] == EMAIL
    assert (await gql(ME, token=session_token))["me"]["emailConfirmed"] is True
    again = (await gql(CONFIRM_EMAIL, {"token": token}))["confirmEmail"]
    assert errors_of(again) == INVALID_TOKEN and again["profile"] is None
    assert again["errors"][0]["message"] == "Ссылка недействительна или уже использована"


async def test_unknown_expired_and_used_tokens_get_one_answer(gql, container, clock, registered):
    _, token = registered
    answers = []
    for candidate in ("no-such-token", "", "x" * 128):
        answers.append((await gql(CONFIRM_EMAIL, {"token": candidate}))["confirmEmail"])
    clock.advance(container.settings.email_token_ttl_seconds)
    answers.append((await gql(CONFIRM_EMAIL, {"token": token}))["confirmEmail"])
    assert all(a == answers[0] for a in answers) and errors_of(answers[0]) == INVALID_TOKEN
    async with container.uow() as tx:
        assert (await tx.session.execute(select(User.email_confirmed))).scalar_one() is False


async def test_a_token_for_a_replaced_email_is_dead(gql, container, registered):
    _, token = registered
    async with container.uow() as tx:
        await tx.session.execute(update(User).values(email="new@example.com"))
        await tx.commit()
    assert errors_of((await gql(CONFIRM_EMAIL, {"token": token}))["confirmEmail"]) == INVALID_TOKEN
    async with container.uow() as tx:
        assert (await tx.session.execute(select(User.email_confirmed))).scalar_one() is False


async def test_the_link_opens_a_page_once(http, container, registered):
    _, token = registered
    # A link previewer's HEAD does not use the token up.
    head = await http.head(f"/confirm-email?token={token}")
    assert head.status_code == 200
    page = await http.get(f"/confirm-email?token={token}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "E-mail подтвержден" in page.text and '<html lang="ru">' in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    async with container.uow() as tx:
        assert (await tx.session.execute(select(User.email_confirmed))).scalar_one() is True
        assert (await tx.session.execute(select(EmailToken.used_at))).scalar_one() is not None
    again = await http.get(f"/confirm-email?token={token}")
    assert again.status_code == 400 and "Ссылка устарела или уже использована" in again.text


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?token=",
        "?token=nope",
        "?token=" + "a" * 5000,
        "?token=%00%ff",
        "?token=<script>alert(1)</script>",
    ],
)
async def test_bad_links_get_the_expired_page(http, container, query):
    page = await http.get(f"/confirm-email{query}")
    assert page.status_code == 400 and "Ссылка устарела или уже использована" in page.text
    assert "<script>" not in page.text
