"""The onboarding funnel's rules (domain/funnel.py): what a flow records as it moves, and how flows count."""

from __future__ import annotations

from eirc.domain.funnel import FUNNEL_STEPS, FlowTally, count_funnel, progress


def test_the_furthest_step_only_grows_on_the_main_line() -> None:
    moved = progress("REGISTRATION", old_step="CODE", new_step="ACCOUNT", furthest_step="CODE")
    assert (moved.furthest_step, moved.clear_error) == ("ACCOUNT", True)
    back = progress("REGISTRATION", old_step="ADDRESS", new_step="ACCOUNT", furthest_step="ADDRESS")
    assert (back.furthest_step, back.clear_error) == ("ADDRESS", False)  # «Назад» keeps both
    form = progress(
        "REGISTRATION", old_step="ACCOUNT", new_step="CONNECTION_REQUEST", furthest_step="ACCOUNT"
    )
    assert (form.furthest_step, form.clear_error) == ("ACCOUNT", True)
    filed = progress("REGISTRATION", old_step="CONNECTION_REQUEST", new_step="DONE", furthest_step="ACCOUNT")
    assert filed.furthest_step == "ACCOUNT"  # a connection request is not a completed registration
    done = progress("REGISTRATION", old_step="PASSWORD", new_step="DONE", furthest_step="PASSWORD")
    assert done.furthest_step == "DONE"


def test_other_kinds_record_nothing() -> None:
    moved = progress("PASSWORD_RESET", old_step="CODE", new_step="PASSWORD", furthest_step=None)
    assert (moved.furthest_step, moved.clear_error) == (None, False)


def test_counting() -> None:
    steps = {
        s.step: s.as_dict()
        for s in count_funnel(
            [
                FlowTally("CODE", "CODE", "INVALID_CODE", False, 3),
                FlowTally("CODE", "CODE", None, False, 1),
                FlowTally("ACCOUNT", "ACCOUNT", "UNKNOWN_ACCOUNT", False, 2),
                FlowTally("ACCOUNT", "CONNECTION_REQUEST", "INVALID_EMAIL", False, 1),
                FlowTally("ACCOUNT", "DONE", None, True, 2),  # filed connection requests
                FlowTally("PERSONAL", "ADDRESS", None, False, 1),  # went back, then gave up
                FlowTally("DONE", "DONE", None, False, 4),
                FlowTally(None, "PASSWORD", "WEAK_PASSWORD", False, 1),  # a flow from before the funnel
            ]
        )
    }
    assert list(steps) == list(FUNNEL_STEPS)
    assert {name: s["reached"] for name, s in steps.items()} == {
        "STARTED": 15,
        "CODE": 15,
        "ACCOUNT": 11,
        "ADDRESS": 6,
        "PERSONAL": 6,
        "PASSWORD": 5,
        "DONE": 4,
        "CONNECTION_REQUEST": 2,
    }
    assert steps["CODE"]["stopped"] == 4 and steps["CODE"]["stopped_by"] == {"INVALID_CODE": 3}
    assert steps["ACCOUNT"]["stopped"] == 2 and steps["ACCOUNT"]["stopped_by"] == {"UNKNOWN_ACCOUNT": 2}
    assert steps["CONNECTION_REQUEST"]["stopped_by"] == {"INVALID_EMAIL": 1}
    assert steps["PERSONAL"] == {"step": "PERSONAL", "reached": 6, "stopped": 1, "stopped_by": {}}
    assert steps["PASSWORD"]["stopped_by"] == {"WEAK_PASSWORD": 1}
    assert steps["DONE"]["stopped"] == 0
