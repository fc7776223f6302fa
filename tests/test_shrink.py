"""The tape shrinker: what it keeps fails the same invariant, replays exactly, and is no less simple."""
from __future__ import annotations

import pytest

import sim
from sim import registry
from sim.explore import run_tape
from sim.shrink import shrink, simplicity
from sim.strategy import RandomWalk, Replay


def _failing(name: str, seed: int = 3):
    s = registry.get(name)
    res = sim.explore(s, RandomWalk(seed), budget=5_000)
    assert res.violation is not None
    return s, res


@pytest.mark.parametrize("name", ["claim-publish", "hook-pairs@local:B3", "step-2331@postgres:P2"])
def test_shrunk_tape_fails_the_same_invariant_and_is_simpler(name):
    s, res = _failing(name)
    r = shrink(s, res.tape)
    assert r.invariant == res.violation.invariant
    assert simplicity(r.tape) <= simplicity(res.tape)
    k = run_tape(s, Replay(r.tape))                 # the kept tape replays exactly (no leniency needed)
    assert k.violation is not None and k.violation.invariant == r.invariant
    assert r.after[1] <= r.before[1]                # no more deviations than before


def test_a_bug_that_needs_no_concurrency_shrinks_to_the_default_schedule():
    # B1p: the second creation, run after the first, finds the run's own row: no deviation needed
    s, res = _failing("hook-converge@postgres:P1")
    r = shrink(s, res.tape)
    assert r.after[1] == 0 and not any(r.tape)


def test_the_2331_race_keeps_only_the_deviation_it_needs():
    # the executor pre-empted between its UPDATE and its INSERT: one deviation (DFS finds it within
    # one preemption, and the default schedule holds)
    s, res = _failing("step-2331@postgres:P2")
    r = shrink(s, res.tape)
    assert r.after[1] == 1


def test_a_passing_tape_is_refused():
    s = registry.get("claim-publish-xcreate")
    with pytest.raises(ValueError, match="does not fail"):
        shrink(s, [])


def test_shrinking_is_deterministic():
    s, res = _failing("hook-pairs@local:B3")
    assert shrink(s, res.tape).tape == shrink(s, res.tape).tape
