"""Proof that a billing account is the resident's (SPEC §2 step 3; the same check serves `addAddress`, §8).

The resident names a period among the last three billed months, the account number and the amount due of
that month's bill; the amount must equal the bill to the kopeck, in any spelling people type.

Guessing is bounded: each caller passes the counter keys that limit it (per flow and per phone for
registration; per user for `addAddress`), and every proof is counted *before* anything is compared — a
success gives its attempt back. Once a key has `EIRC_ACCOUNT_MAX_ATTEMPTS` failed proofs in its hour,
even a right answer is refused (``ACCOUNT_ATTEMPTS_EXCEEDED``), so the amount cannot be found by trying.
An unknown account counts as a failed proof too (account numbers are not to be enumerated either).
Malformed input (``REQUIRED``, ``INVALID_PERIOD``, ``INVALID_AMOUNT``, ``INVALID_INPUT``) reveals nothing and
is not counted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eirc.domain import limits
from eirc.domain.errors import DomainError, DomainErrors, ErrorCode
from eirc.domain.money import parse_amount
from eirc.domain.periods import Period
from eirc.services.billing import periods_in
from eirc.storage.db import UnitOfWork

if TYPE_CHECKING:
    from eirc.services.deps import Deps

log = logging.getLogger("eirc.accounts")

WINDOW_SECONDS = 3600
MAX_ACCOUNT_NUMBER_LENGTH = limits.ACCOUNT_NUMBER


@dataclass(frozen=True)
class ProvenAccount:
    account_number: str
    address: str
    period: str  # "YYYY-MM"
    amount_due: str  # as the resident typed it
    amount_kopecks: int


def normalize_account_number(raw: str | None) -> str:
    """Spaces people type inside a number («123 456 7890») are dropped."""
    return "".join((raw or "").split())


def _parse(period: str | None, account_number: str | None, amount_due: str | None) -> tuple[Period, str, int]:
    errors: list[DomainError] = []
    parsed_period: Period | None = None
    kopecks = 0
    number = normalize_account_number(account_number)
    try:
        parsed_period = Period.parse(period, "period")
    except DomainError as exc:
        errors.append(exc)
    if not number:
        errors.append(DomainError(ErrorCode.REQUIRED, "accountNumber"))
    elif len(number) > MAX_ACCOUNT_NUMBER_LENGTH:
        errors.append(DomainError(ErrorCode.TOO_LONG, "accountNumber"))
    elif not number.isprintable():  # NUL, lone surrogates…: no database could even be asked
        errors.append(DomainError(ErrorCode.INVALID_INPUT, "accountNumber"))
    try:
        kopecks = parse_amount(amount_due, "amountDue")
    except DomainError as exc:
        errors.append(exc)
    if errors:
        raise DomainErrors(errors)
    assert parsed_period is not None
    return parsed_period, number, kopecks


async def prove_account(
    tx: UnitOfWork,
    deps: Deps,
    *,
    period: str | None,
    account_number: str | None,
    amount_due: str | None,
    limiter_keys: Sequence[str],
) -> ProvenAccount:
    """The proven account, or a DomainError.

    Call it before making other changes in `tx`: a failed proof (``UNKNOWN_ACCOUNT``, ``AMOUNT_MISMATCH``)
    must count even though the use case fails, so this function COMMITS `tx` before raising it.
    `limiter_keys`: counter keys, e.g. ``("acct:flow:<flow digest>", "acct:phone:+7916…")``; an empty
    sequence means no limit (the support command line).
    """
    parsed_period, number, kopecks = _parse(period, account_number, amount_due)
    now = deps.clock.now()
    allowed = await periods_in(tx, now=now)
    if parsed_period not in allowed:
        raise DomainError(ErrorCode.INVALID_PERIOD, "period")

    limit = deps.settings.account_max_attempts
    windows = await tx.counters.hit_many([(key, WINDOW_SECONDS) for key in limiter_keys], now=now)
    if any(window.count > limit for window in windows.values()):
        await tx.commit()  # what the caller counted before (its client's calls) stands
        raise DomainError(ErrorCode.ACCOUNT_ATTEMPTS_EXCEEDED, "accountNumber")

    account = await tx.billing.account(number)
    if account is None:
        await tx.commit()
        raise DomainError(ErrorCode.UNKNOWN_ACCOUNT, "accountNumber")
    billed = await tx.billing.amount_due(number, parsed_period.value)
    if billed is None or billed != kopecks:
        await tx.commit()
        raise DomainError(ErrorCode.AMOUNT_MISMATCH, "amountDue")

    # a success gives its attempt back
    await tx.counters.hit_many([(key, WINDOW_SECONDS) for key in limiter_keys], now=now, amount=-1)
    return ProvenAccount(
        account_number=account.account_number,
        address=account.address,
        period=parsed_period.value,
        amount_due=(amount_due or "").strip(),
        amount_kopecks=kopecks,
    )
