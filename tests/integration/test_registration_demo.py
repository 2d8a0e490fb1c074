"""The demo resident of `make serve` (eirc/demo/user.py): created once by registration's rules, idempotent."""

from __future__ import annotations

from eirc.demo.user import DEMO_PASSWORD, DEMO_PHONE, _create
from tests.registration_kit import ACCOUNT, OTHER_ACCOUNT, seed_billing, start


async def test_demo_user_is_created_once(gql, container):
    await seed_billing(container)
    first = await _create(container.settings)
    assert first.created and first.account_number in (ACCOUNT, OTHER_ACCOUNT)
    again = await _create(container.settings)
    assert not again.created and again.account_number == first.account_number
    assert (await start(gql, DEMO_PHONE))["flow"]["kind"] == "LOGIN"
    assert any(DEMO_PASSWORD in line for line in first.what_to_try())


async def test_demo_user_without_billing_data(container):
    demo = await _create(container.settings)
    assert demo.created and demo.account_number is None
