"""What the model scenario tests share: find a scenario's bug with the default strategy and replay it."""
from __future__ import annotations

import sim
from sim.explore import run_tape
from sim.strategy import DPOR, RandomWalk, Replay, make

BUG_BUDGET = 2_000      # executions of the default strategy (portfolio, seed 1) allowed to find each bug


def counterexample(s, expected: str, budget: int = BUG_BUDGET, past_others: bool = False):
    """Explore `s` until its first violation, which must be `expected` (one of the scenario's expected
    invariants); the saved trace must replay to the same verdict. Returns (trace, the final state).
    `past_others`: for a scenario whose known bugs race to show first, the first execution that breaks
    `expected`, whatever broke before it (the whole budget is explored)."""
    res = sim.explore(s, make("portfolio", 1), budget=budget, stop_on_violation=not past_others)
    if past_others:
        assert s.expects(expected) and expected in res.violations, f"{s.name}: {sorted(res.violations)}"
        res.violation, res.tape = res.violations[expected].violation, res.violations[expected].tape
    assert res.violation is not None, f"{s.name}: no violation in {res.executions} executions"
    assert s.expects(res.violation.invariant) and expected in (s.expect, res.violation.invariant), res.violation
    trace = sim.make_trace(s, res.tape, strategy={"name": "portfolio", "seed": 1})
    assert sim.replay(trace, scenario=s).same
    return trace, run_tape(s, Replay(res.tape)).state


def events_by_type(env, run: str) -> dict:
    out: dict = {}
    for e in env.view.log(run):
        out.setdefault(e["eventType"], []).append(e)
    return out


def publishers(trace, what: str) -> set:
    """The processes (without incarnation) whose steps committed/published an event starting with `what`."""
    return {s.process.split("#")[0] for s in trace.steps
            if any(n.startswith((f"published {what}", f"committed {what}")) for n in s.notes)}


def holds_randomly(s, schedules: int, seed: int = 7):
    """`s` survives `schedules` random schedules (the exploration is returned for its numbers)."""
    res = sim.explore(s, RandomWalk(seed), budget=schedules)
    assert res.violation is None, res.violation
    assert res.executions == schedules
    return res


def holds_exhaustively(s, at_least: int):
    """DPOR covers every schedule of `s` within its fault budget (footprints checked) and finds nothing."""
    res = sim.explore(s, DPOR(), check_footprints=True)
    assert res.violation is None, res.violation
    assert res.complete and res.executions >= at_least, f"{res.executions} schedules, complete={res.complete}"
    return res
