"""The onboarding state machine (domain/flows.py): order, «Назад», «Отмена», expiry — examples and a
hypothesis state machine that drives it with random actions and checks the invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from eirc.domain import flows
from eirc.domain.errors import DomainError, ErrorCode
from eirc.domain.flows import FlowKind, FlowStatus, FlowStep

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
S = FlowStep


def registration() -> flows.FlowState:
    return flows.start(FlowKind.REGISTRATION, expires_at=LATER)


def walk(state: flows.FlowState, *steps: FlowStep) -> flows.FlowState:
    for step in steps:
        state = flows.advance(state, step, NOW)
    return state


def code_of(exc: pytest.ExceptionInfo[DomainError]) -> ErrorCode:
    return exc.value.code


def test_registration_main_line_in_order():
    state = walk(registration(), S.ACCOUNT, S.ADDRESS, S.PERSONAL, S.PASSWORD, S.DONE)
    assert state.step == S.DONE and state.status == FlowStatus.DONE and state.phone_verified
    assert state.history == (S.CODE, S.ACCOUNT, S.ADDRESS, S.PERSONAL, S.PASSWORD)
    assert flows.progress(FlowKind.REGISTRATION)[-1] == S.DONE


@pytest.mark.parametrize("target", [S.ADDRESS, S.PERSONAL, S.PASSWORD, S.DONE, S.LOGIN, S.CODE])
def test_no_step_can_be_skipped_from_code(target):
    with pytest.raises(DomainError) as exc:
        flows.advance(registration(), target, NOW)
    assert code_of(exc) == ErrorCode.WRONG_STEP


def test_require_step_refuses_other_steps():
    state = walk(registration(), S.ACCOUNT)
    flows.require_step(state, S.ACCOUNT, NOW)
    for step in (S.CODE, S.ADDRESS, S.PERSONAL, S.PASSWORD):
        with pytest.raises(DomainError) as exc:
            flows.require_step(state, step, NOW)
        assert code_of(exc) == ErrorCode.WRONG_STEP


def test_back_returns_to_the_previous_step_and_keeps_the_phone_verified():
    state = walk(registration(), S.ACCOUNT, S.ADDRESS, S.PERSONAL)
    state = flows.back(state, NOW)
    assert state.step == S.ADDRESS
    state = flows.back(flows.back(state, NOW), NOW)
    assert state.step == S.CODE and state.phone_verified  # no new code needed
    state = flows.advance(state, S.ACCOUNT, NOW)
    assert state.history == (S.CODE,)


def test_back_at_the_first_step_is_refused():
    with pytest.raises(DomainError) as exc:
        flows.back(registration(), NOW)
    assert code_of(exc) == ErrorCode.WRONG_STEP


def test_finished_flow_accepts_nothing():
    done = walk(registration(), S.ACCOUNT, S.ADDRESS, S.PERSONAL, S.PASSWORD, S.DONE)
    for action in (lambda: flows.back(done, NOW), lambda: flows.cancel(done, NOW)):
        with pytest.raises(DomainError) as exc:
            action()
        assert code_of(exc) == ErrorCode.WRONG_STEP


def test_cancelled_flow_is_not_found():
    cancelled = flows.cancel(registration(), NOW)
    assert cancelled.status == FlowStatus.CANCELLED
    for action in (
        lambda: flows.advance(cancelled, S.ACCOUNT, NOW),
        lambda: flows.back(cancelled, NOW),
        lambda: flows.cancel(cancelled, NOW),
        lambda: flows.require_step(cancelled, S.CODE, NOW),
    ):
        with pytest.raises(DomainError) as exc:
            action()
        assert code_of(exc) == ErrorCode.FLOW_NOT_FOUND


def test_expired_flow():
    state = walk(registration(), S.ACCOUNT)
    for action in (
        lambda: flows.advance(state, S.ADDRESS, LATER),
        lambda: flows.back(state, LATER),
        lambda: flows.cancel(state, LATER),
        lambda: flows.require_step(state, S.ACCOUNT, LATER + timedelta(days=1)),
    ):
        with pytest.raises(DomainError) as exc:
            action()
        assert code_of(exc) == ErrorCode.FLOW_EXPIRED
    flows.require_step(state, S.ACCOUNT, LATER - timedelta(seconds=1))


def test_password_reset_line():
    state = flows.start(FlowKind.PASSWORD_RESET, expires_at=LATER)
    assert state.step == S.CODE
    with pytest.raises(DomainError):
        flows.advance(state, S.ACCOUNT, NOW)
    state = walk(state, S.PASSWORD)
    assert flows.back(state, NOW).step == S.CODE
    state = walk(state, S.LOGIN)
    assert state.step == S.LOGIN and state.status == FlowStatus.DONE


def test_login_flow_is_finished_at_once():
    state = flows.start(FlowKind.LOGIN, expires_at=LATER)
    assert state.step == S.LOGIN and state.finished
    with pytest.raises(DomainError):
        flows.back(state, NOW)


def test_connection_request_side_door():
    state = walk(registration(), S.ACCOUNT, S.CONNECTION_REQUEST)
    assert state.step == S.CONNECTION_REQUEST
    assert flows.back(state, NOW).step == S.ACCOUNT
    again = flows.advance(state, S.ACCOUNT, NOW)
    assert again.step == S.ACCOUNT and again.history == (S.CODE,)  # the detour is not stacked
    done = flows.advance(state, S.DONE, NOW)
    assert done.status == FlowStatus.DONE
    for step in (S.ADDRESS, S.PERSONAL):
        with pytest.raises(DomainError):
            flows.advance(state, step, NOW)


def test_start_at_account_needs_a_verified_phone():
    state = flows.start(FlowKind.REGISTRATION, expires_at=LATER, step=S.ACCOUNT, phone_verified=True)
    assert state.step == S.ACCOUNT
    with pytest.raises(ValueError):
        flows.start(FlowKind.REGISTRATION, expires_at=LATER, step=S.ACCOUNT)
    with pytest.raises(ValueError):
        flows.start(FlowKind.PASSWORD_RESET, expires_at=LATER, step=S.PASSWORD, phone_verified=True)


# --- property: random walks never break the rules -------------------------------------------------------------
MAIN = flows.progress(FlowKind.REGISTRATION)


class FlowMachine(RuleBasedStateMachine):
    """Random actions; a model tracks where the flow must be and the invariants hold after each."""

    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.state = flows.start(FlowKind.REGISTRATION, expires_at=LATER)
        self.model_alive = True

    @rule(to=st.sampled_from(list(FlowStep)))
    def try_advance(self, to: FlowStep) -> None:
        before = self.state
        try:
            self.state = flows.advance(before, to, self.now)
        except DomainError as exc:
            assert exc.code in (ErrorCode.WRONG_STEP, ErrorCode.FLOW_EXPIRED, ErrorCode.FLOW_NOT_FOUND)
            allowed = flows.can_move(before, to)
            alive = before.status == FlowStatus.ACTIVE and self.now < before.expires_at
            assert not (allowed and alive)
            return
        assert flows.can_move(before, to)
        assert before.status == FlowStatus.ACTIVE and self.now < before.expires_at

    @rule()
    def try_back(self) -> None:
        before = self.state
        try:
            self.state = flows.back(before, self.now)
        except DomainError:
            assert not before.history or before.status != FlowStatus.ACTIVE or self.now >= before.expires_at
            return
        assert self.state.step == before.history[-1]
        assert self.state.phone_verified == before.phone_verified

    @precondition(lambda self: self.state.status == FlowStatus.ACTIVE)
    @rule()
    def try_cancel(self) -> None:
        try:
            self.state = flows.cancel(self.state, self.now)
        except DomainError as exc:
            assert exc.code == ErrorCode.FLOW_EXPIRED
            return
        self.model_alive = False

    @rule(seconds=st.integers(min_value=0, max_value=1200))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @invariant()
    def main_line_order(self) -> None:
        # The history is a path of allowed moves: each step of the main line was preceded by the one before.
        path = [*self.state.history, self.state.step]
        for earlier, later in pairwise(path):
            if later in MAIN and earlier in MAIN and later != FlowStep.CODE:
                assert MAIN.index(later) == MAIN.index(earlier) + 1, path
        assert path[0] == FlowStep.CODE

    @invariant()
    def steps_after_code_need_verification(self) -> None:
        if self.state.step in flows.STEPS_AFTER_CODE:
            assert self.state.phone_verified

    @invariant()
    def cancelled_stays_cancelled(self) -> None:
        if not self.model_alive:
            assert self.state.status == FlowStatus.CANCELLED

    @invariant()
    def done_only_at_a_final_step(self) -> None:
        assert (self.state.status == FlowStatus.DONE) == (self.state.step in flows.FINAL_STEPS)


FlowMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
TestFlowMachine = FlowMachine.TestCase
