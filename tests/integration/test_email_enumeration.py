"""Registered e-mails cannot be tested without limit (issue 17): every way an answer tells whether an e-mail
is taken counts against the limit of the change it belongs to, before the answer is given."""

from __future__ import annotations

from eirc.services.profile_changes import EMAIL_CHANGES_PER_HOUR
from eirc.services.registration import EMAIL_CHECKS_PER_FLOW
from tests.profile_kit import EMAIL_B, PAYLOAD, two_residents
from tests.registration_kit import (
    CONFIRM_ADDRESS,
    GO_BACK,
    PERSONAL,
    PERSONAL_DEFAULTS,
    errors_of,
    prove,
    seed_billing,
    to_account_step,
)

UPDATE_EMAIL = f"mutation($email: String!) {{ updateProfile(email: $email) {PAYLOAD} }}"


async def test_update_profile_counts_a_taken_email_like_a_change(gql, container):
    ivan, _maria = await two_residents(gql, container)
    answers = []
    for i in range(EMAIL_CHANGES_PER_HOUR):
        answer = (await gql(UPDATE_EMAIL, {"email": f"probe{i}@example.com"}, token=ivan.token))["updateProfile"]
        answers.append(errors_of(answer))
    assert answers == [[]] * EMAIL_CHANGES_PER_HOUR
    # over the limit: even a taken address answers RATE_LIMITED — nothing is told about it
    taken = (await gql(UPDATE_EMAIL, {"email": EMAIL_B}, token=ivan.token))["updateProfile"]
    assert errors_of(taken) == [("RATE_LIMITED", "email")]


async def test_taken_answers_count_too(gql, container):
    ivan, _maria = await two_residents(gql, container)
    for _ in range(EMAIL_CHANGES_PER_HOUR):
        taken = (await gql(UPDATE_EMAIL, {"email": EMAIL_B}, token=ivan.token))["updateProfile"]
        assert errors_of(taken) == [("EMAIL_TAKEN", "email")]
    assert errors_of((await gql(UPDATE_EMAIL, {"email": EMAIL_B}, token=ivan.token))["updateProfile"]) == [
        ("RATE_LIMITED", "email")
    ]


async def test_one_flow_cannot_try_emails_forever_with_go_back(gql, container):
    await seed_billing(container)
    flow_id = await to_account_step(gql, container)
    assert (await prove(gql, flow_id))["errors"] == []
    assert (await gql(CONFIRM_ADDRESS, {"id": flow_id}))["confirmAddress"]["errors"] == []
    codes = []
    for i in range(EMAIL_CHECKS_PER_FLOW + 3):
        answer = (
            await gql(PERSONAL, {"id": flow_id, **PERSONAL_DEFAULTS, "email": f"guess{i}@example.com"})
        )["setPersonalData"]
        codes.append([code for code, _field in errors_of(answer)])
        if answer["flow"]["step"] == "PASSWORD":
            assert (await gql(GO_BACK, {"id": flow_id}))["goBack"]["flow"]["step"] == "PERSONAL"
    assert codes[:EMAIL_CHECKS_PER_FLOW] == [[]] * EMAIL_CHECKS_PER_FLOW
    assert codes[EMAIL_CHECKS_PER_FLOW:] == [["RATE_LIMITED"]] * 3
