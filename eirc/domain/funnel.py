"""The onboarding funnel (support's «where do residents give up, and on which error?»): what a registration
flow records of its own progress, and how flows are counted.

A REGISTRATION flow keeps two values beside its state (never what the resident typed):

- `furthest_step`: the furthest step of the main line it has reached — CODE → ACCOUNT → ADDRESS → PERSONAL →
  PASSWORD → DONE. «Назад» does not lower it. DONE counts only when reached from PASSWORD (a completed
  registration); a flow that files a connection request reaches DONE through CONNECTION_REQUEST, and that
  is counted apart (`eirc stats funnel`'s CONNECTION_REQUEST).
- `last_error`: the code of the last expected failure the flow met, cleared each time it moves forward —
  so it is the error the resident last saw where the flow stands (or stood when they gave up).

Pure: the services call `progress` when they store a new state; services/stats.py counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from eirc.domain.flows import FlowKind, FlowStep

S = FlowStep

# The main line, in order; a flow that reached one of them reached those before it.
MAIN_LINE: tuple[FlowStep, ...] = (S.CODE, S.ACCOUNT, S.ADDRESS, S.PERSONAL, S.PASSWORD, S.DONE)
_RANK = {step: rank for rank, step in enumerate(MAIN_LINE)}

STARTED = "STARTED"
CONNECTION_REQUEST = "CONNECTION_REQUEST"
# The rows of `eirc stats funnel` (CONTRACT §4a), in the order they are shown.
FUNNEL_STEPS: tuple[str, ...] = (STARTED, *(s.value for s in MAIN_LINE), CONNECTION_REQUEST)


def rank(step: str | None) -> int:
    """The step's place on the main line (-1: not on it, or none)."""
    return _RANK.get(step, -1) if step else -1  # a StrEnum member and its value hash alike


@dataclass(frozen=True)
class Progress:
    furthest_step: str | None
    clear_error: bool  # the flow moved forward: the last error belongs to a step it has left


def progress(kind: str, *, old_step: str, new_step: str, furthest_step: str | None) -> Progress:
    """What a registration flow records when it goes from `old_step` to `new_step`."""
    if kind != FlowKind.REGISTRATION.value:
        return Progress(furthest_step, clear_error=False)
    old, new = FlowStep(old_step), FlowStep(new_step)
    furthest = furthest_step or old_step
    main_line_move = (
        new != S.DONE or old == S.PASSWORD
    )  # DONE after a connection request is not a registration
    if main_line_move and rank(new_step) > rank(furthest):
        furthest = new_step
    forward = rank(new_step) > rank(old_step) or (old, new) == (S.ACCOUNT, S.CONNECTION_REQUEST)
    return Progress(furthest, clear_error=forward)


@dataclass(frozen=True)
class FlowTally:
    """A group of registration flows alike in what the funnel reads (storage counts them in SQL)."""

    furthest_step: str | None
    step: str
    last_error: str | None
    filed: bool  # a connection request was filed from it
    count: int


@dataclass
class FunnelStep:
    step: str
    reached: int = 0
    stopped: int = (
        0  # flows that went no further than this step (abandoned, expired, cancelled, or still here)
    )
    stopped_by: dict[str, int] | None = None

    def as_dict(self) -> dict:
        return {
            "step": self.step,
            "reached": self.reached,
            "stopped": self.stopped,
            "stopped_by": dict(sorted((self.stopped_by or {}).items(), key=lambda kv: (-kv[1], kv[0]))),
        }


def count_funnel(tallies: list[FlowTally]) -> list[FunnelStep]:
    """How many flows reached each step of FUNNEL_STEPS, and the error codes last seen by those that went no
    further. A flow's stop is its furthest main-line step — or CONNECTION_REQUEST when it stands on the
    connection-request form without having filed; a completed flow (DONE) or one that filed does not stop."""
    steps = {name: FunnelStep(name, stopped_by={}) for name in FUNNEL_STEPS}
    for t in tallies:
        furthest = t.furthest_step if rank(t.furthest_step) >= 0 else _main_line_fallback(t.step, t.filed)
        steps[STARTED].reached += t.count
        for step in MAIN_LINE[: rank(furthest) + 1]:
            steps[step.value].reached += t.count
        if t.filed:
            steps[CONNECTION_REQUEST].reached += t.count
            continue
        if furthest == S.DONE.value:
            continue
        stop = CONNECTION_REQUEST if t.step == CONNECTION_REQUEST else furthest
        steps[stop].stopped += t.count
        if t.last_error:
            by = steps[stop].stopped_by
            assert by is not None
            by[t.last_error] = by.get(t.last_error, 0) + t.count
    return [steps[name] for name in FUNNEL_STEPS]


def _main_line_fallback(step: str, filed: bool) -> str:
    """A flow stored before the funnel was recorded: its current step stands for the furthest one."""
    if step == S.CONNECTION_REQUEST.value or (step == S.DONE.value and filed):
        return S.ACCOUNT.value  # a connection request's flow left the main line at ACCOUNT
    return step if rank(step) >= 0 else S.CODE.value
