"""The onboarding state machine (SPEC §1, §2, §5): kinds, steps, allowed transitions, «Назад», «Отмена», expiry.

Pure: no SQL, no clock of its own (``now`` is passed in). The services load a flow row, turn it into a
`FlowState`, ask this module for the next state, and store it back.

Kinds and their steps::

    REGISTRATION    CODE → ACCOUNT → ADDRESS → PERSONAL → PASSWORD → DONE
                             ACCOUNT ⇄ CONNECTION_REQUEST → DONE      (connection request, SPEC §3)
    PASSWORD_RESET  CODE → PASSWORD → LOGIN                           (SPEC §5)
    LOGIN           LOGIN                                             (a registered number, SPEC §1)

A REGISTRATION flow may also *start* at ACCOUNT when the phone was verified elsewhere (Госуслуги).

Rules:

- a step can only be left by one of its transitions; anything else is ``WRONG_STEP``;
- «Назад» (`back`) returns to the step the flow came from; what was entered is kept by the caller
  (the flow row's ``data``), so the screen can be prefilled. At the first step there is nothing to go
  back to (the phone screen is outside the flow: the client cancels instead) → ``WRONG_STEP``;
- going back to CODE after the code was verified keeps the phone verified: the next «Подтвердить номер»
  moves on without a new code (``phone_verified``); a verified flow never needs a second SMS;
- «Отмена» (`cancel`) ends the flow; a cancelled flow is as good as gone (``FLOW_NOT_FOUND``);
- a flow lives ``EIRC_FLOW_TTL_SECONDS`` from its start (a fixed lifetime, not extended by activity);
  after that every action answers ``FLOW_EXPIRED``;
- a finished flow (DONE, or LOGIN at the end of a reset) accepts nothing more (``WRONG_STEP``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from eirc.domain.errors import DomainError, ErrorCode


class FlowKind(StrEnum):
    REGISTRATION = "REGISTRATION"
    PASSWORD_RESET = "PASSWORD_RESET"
    LOGIN = "LOGIN"


class FlowStep(StrEnum):
    CODE = "CODE"
    ACCOUNT = "ACCOUNT"
    ADDRESS = "ADDRESS"
    PERSONAL = "PERSONAL"
    PASSWORD = "PASSWORD"
    CONNECTION_REQUEST = "CONNECTION_REQUEST"
    LOGIN = "LOGIN"
    DONE = "DONE"


class FlowStatus(StrEnum):
    ACTIVE = "active"
    DONE = "done"
    CANCELLED = "cancelled"


S = FlowStep

TRANSITIONS: dict[FlowKind, dict[FlowStep, frozenset[FlowStep]]] = {
    FlowKind.REGISTRATION: {
        S.CODE: frozenset({S.ACCOUNT}),
        S.ACCOUNT: frozenset({S.ADDRESS, S.CONNECTION_REQUEST}),
        S.CONNECTION_REQUEST: frozenset({S.ACCOUNT, S.DONE}),
        S.ADDRESS: frozenset({S.PERSONAL}),
        S.PERSONAL: frozenset({S.PASSWORD}),
        S.PASSWORD: frozenset({S.DONE}),
        S.DONE: frozenset(),
    },
    FlowKind.PASSWORD_RESET: {
        S.CODE: frozenset({S.PASSWORD}),
        S.PASSWORD: frozenset({S.LOGIN}),
        S.LOGIN: frozenset(),
    },
    FlowKind.LOGIN: {S.LOGIN: frozenset()},
}
"""Forward moves only; «Назад» retraces the history instead."""

FIRST_STEPS: dict[FlowKind, frozenset[FlowStep]] = {
    FlowKind.REGISTRATION: frozenset({S.CODE, S.ACCOUNT}),
    FlowKind.PASSWORD_RESET: frozenset({S.CODE}),
    FlowKind.LOGIN: frozenset({S.LOGIN}),
}

FINAL_STEPS: frozenset[FlowStep] = frozenset({S.DONE, S.LOGIN})
"""Reaching one of these finishes the flow (status done)."""

STEPS_AFTER_CODE: frozenset[FlowStep] = frozenset(
    {S.ACCOUNT, S.ADDRESS, S.PERSONAL, S.PASSWORD, S.CONNECTION_REQUEST}
)
"""Steps that need a verified phone: they can only be reached through CODE (or a verified start)."""


@dataclass(frozen=True)
class FlowState:
    kind: FlowKind
    step: FlowStep
    expires_at: datetime
    status: FlowStatus = FlowStatus.ACTIVE
    history: tuple[FlowStep, ...] = ()
    phone_verified: bool = False

    @property
    def finished(self) -> bool:
        return self.status == FlowStatus.DONE


def start(
    kind: FlowKind, *, expires_at: datetime, step: FlowStep | None = None, phone_verified: bool = False
) -> FlowState:
    """A new flow at its first step (CODE for registration and reset, LOGIN for a registered number)."""
    first = step or (FlowStep.LOGIN if kind == FlowKind.LOGIN else FlowStep.CODE)
    if first not in FIRST_STEPS[kind]:
        raise ValueError(f"a {kind} flow cannot start at {first}")
    if first in STEPS_AFTER_CODE and not phone_verified:
        raise ValueError(f"a flow starting at {first} needs a verified phone")
    status = FlowStatus.DONE if first in FINAL_STEPS else FlowStatus.ACTIVE
    return FlowState(
        kind=kind, step=first, expires_at=expires_at, status=status, phone_verified=phone_verified
    )


def check_alive(state: FlowState, now: datetime) -> None:
    """``FLOW_NOT_FOUND`` once cancelled, ``FLOW_EXPIRED`` once past its lifetime."""
    if state.status == FlowStatus.CANCELLED:
        raise DomainError(ErrorCode.FLOW_NOT_FOUND, "flowId")
    if now >= state.expires_at:
        raise DomainError(ErrorCode.FLOW_EXPIRED, "flowId")


def require_step(state: FlowState, step: FlowStep, now: datetime) -> None:
    """The action of `step` is allowed only while the flow is alive, active and at that step."""
    check_alive(state, now)
    if state.status != FlowStatus.ACTIVE or state.step != step:
        raise DomainError(ErrorCode.WRONG_STEP, "flowId")


def can_move(state: FlowState, to: FlowStep) -> bool:
    return to in TRANSITIONS[state.kind].get(state.step, frozenset())


def advance(state: FlowState, to: FlowStep, now: datetime) -> FlowState:
    """Move forward from the current step to `to` (one of its transitions), remembering where it came from."""
    require_step(state, state.step, now)
    if not can_move(state, to):
        raise DomainError(ErrorCode.WRONG_STEP, "flowId")
    verified = state.phone_verified or state.step == FlowStep.CODE
    if to == FlowStep.CONNECTION_REQUEST or (
        state.step == FlowStep.CONNECTION_REQUEST and to == FlowStep.ACCOUNT
    ):
        # ACCOUNT ⇄ CONNECTION_REQUEST is a side door, not progress: «Назад» from ACCOUNT after it
        # still leads to CODE, so the detour is not stacked on the history twice.
        history = (*state.history, state.step) if to == FlowStep.CONNECTION_REQUEST else state.history[:-1]
    else:
        history = (*state.history, state.step)
    return replace(
        state,
        step=to,
        history=history,
        phone_verified=verified,
        status=FlowStatus.DONE if to in FINAL_STEPS else FlowStatus.ACTIVE,
    )


def back(state: FlowState, now: datetime) -> FlowState:
    """«Назад»: the previous step, the phone staying verified. Nothing before the first step (``WRONG_STEP``)."""
    check_alive(state, now)
    if state.status != FlowStatus.ACTIVE or not state.history:
        raise DomainError(ErrorCode.WRONG_STEP, "flowId")
    return replace(state, step=state.history[-1], history=state.history[:-1])


def cancel(state: FlowState, now: datetime) -> FlowState:
    """«Отмена»: the flow ends. A finished flow cannot be cancelled (``WRONG_STEP``)."""
    check_alive(state, now)
    if state.status != FlowStatus.ACTIVE:
        raise DomainError(ErrorCode.WRONG_STEP, "flowId")
    return replace(state, status=FlowStatus.CANCELLED)


def progress(kind: FlowKind) -> list[FlowStep]:
    """The main line of a kind, in order (for docs and tests)."""
    if kind == FlowKind.REGISTRATION:
        return [S.CODE, S.ACCOUNT, S.ADDRESS, S.PERSONAL, S.PASSWORD, S.DONE]
    if kind == FlowKind.PASSWORD_RESET:
        return [S.CODE, S.PASSWORD, S.LOGIN]
    return [S.LOGIN]
