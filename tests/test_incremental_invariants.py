"""Incremental invariant checking (sim.watch) gives what checking every invariant after every step gives.

The kernel re-evaluates an `always`/`eventually` invariant only after a step that
wrote one of its declared reads. `Kernel.check_every_step` turns that off; both
modes must give the same executions: tapes, steps, and violations with the same
step and message (an `eventually ... within=N` counts the same false steps).
"""
from __future__ import annotations

import dataclasses
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import DFS, RandomWalk, Scenario, Store, always, eventually, explore, keys_where, point, registry
from sim.engine import make as make_engine
from sim.kernel import Kernel
from sim.strategy import DPOR
from tests.test_dpor import (KEYS, SPELLINGS, program_scenario, queue_scenario, small_programs, timed_op,
                             timed_scenario, watched_reads)


@contextmanager
def every_step(full: bool):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Kernel, "check_every_step", full)
        yield


def executions(scenario, strategy, full: bool) -> list:
    """(tape, steps, violation) of every execution the strategy runs, checking every step if `full`."""
    eng = make_engine("fast")
    out = []

    def loop():
        while strategy.next_execution():
            k = eng.execute(scenario, strategy)
            strategy.end_execution(k.view())
            out.append((tuple(k.tape), k.step, k.pruned, k.violation))
            assert len(out) < 20_000, "program too large for the test"

    with every_step(full):
        eng.host(loop)
    return out


def same_both_ways(make_scenario, make_strategy) -> list:
    full = executions(make_scenario(), make_strategy(), True)
    incremental = executions(make_scenario(), make_strategy(), False)
    assert incremental == full
    return full


def extra_invariants(watched, spelling, managed):
    """An `eventually ... within=1` over the watched keys, and an `always` that declares no reads."""
    return (eventually("I-SETTLES", lambda s: s["state"]["b"] % 3 != 1 or f"b = {s['state']['b']}", within=1,
                       reads=watched_reads(("b",), spelling, managed)),
            always("I-ALL", lambda s: s["state"]["c"] % 5 != 3 or "c = 3 mod 5"))


VIOLATED: set = set()   # invariants the generated comparisons saw violated (checked below)


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=small_programs(), watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4), spelling=st.sampled_from(SPELLINGS), managed=st.booleans(), crashes=st.integers(0, 1))
def test_incremental_checking_gives_the_same_executions_on_generated_programs(
        actors, watched, bad, spelling, managed, crashes):
    def scenario():
        return program_scenario(actors, tuple(watched), bad, ("L1", "L2"), crashes=crashes, spelling=spelling,
                                managed=managed, extra=extra_invariants(watched, spelling, managed))

    runs = same_both_ways(scenario, DFS)
    VIOLATED.update(v.invariant for *_, v in runs if v is not None)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=st.lists(st.lists(timed_op, min_size=1, max_size=2), min_size=2, max_size=3),
       watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True), bad=st.integers(0, 4))
def test_incremental_checking_with_time_passing(actors, watched, bad):
    # time passing may change what any invariant reads (the clock): every invariant is re-checked
    same_both_ways(lambda: timed_scenario(actors, tuple(watched), bad), DFS)


@pytest.mark.parametrize("crashes", [0, 1])
def test_incremental_checking_with_redeliveries_and_crashes(crashes):
    for bad in range(5):
        same_both_ways(lambda: queue_scenario(["m1"], {"m1": [("rw", "a"), ("w", "b")]}, [("rw", "b")], ("a", "b"),
                                              bad, crashes), DPOR)


def test_the_generated_comparisons_saw_every_kind_of_violation():
    # equal executions prove little if nothing was ever violated
    if not VIOLATED:
        test_incremental_checking_gives_the_same_executions_on_generated_programs()
    assert {"I-WATCHED", "I-SETTLES", "I-ALL"} <= VIOLATED


def test_an_invariant_is_not_evaluated_after_a_step_that_wrote_none_of_its_reads():
    calls = {"x": 0, "y": 0}

    def setup(sim):
        store = Store("kv", {"x": 0, "y": 0})

        async def writer(k):
            for _ in range(3):
                await point(f"write {k}", writes=(store.key(k),))
                store[k] += 1

        for k in ("x", "y"):
            sim.process(k, lambda p, k=k: p.spawn("w", writer, k))
        return store

    def counted(k):
        def fn(store):
            calls[k] += 1
            return store.peek(k) <= 3
        return fn

    sc = Scenario("counted", setup, invariants=(always("I-X", counted("x"), reads=keys_where(lambda key: key == ("kv", "x"))),
                                                always("I-Y", counted("y"), reads=lambda store: (store.key("y"),))))
    res = explore(sc, RandomWalk(1), budget=1)
    assert res.ok and res.steps == 6
    assert calls == {"x": 1 + 3, "y": 1 + 3}   # the initial state, then only after its own writes


def registered():
    return sorted(s.name for s in registry.all_scenarios())


@pytest.mark.parametrize("name", registered())
def test_incremental_checking_gives_the_same_results_on_every_registered_scenario(name):
    sc = registry.get(name)
    for make in (lambda: RandomWalk(1), lambda: RandomWalk(2), lambda: DPOR()):
        got = {}
        for full in (True, False):
            with every_step(full):
                res = explore(sc, make(), budget=8, stop_on_violation=False)
            got[full] = (res.executions, res.steps, res.decisions,
                         {k: (f.execution, tuple(f.tape), f.violation) for k, f in res.violations.items()})
        assert got[False] == got[True]


def _fresh_log(view, run):
    return view._read_log(run) if hasattr(view, "_read_log") else view.db.peek_log(run)


@pytest.mark.parametrize("name", ["hook-pairs@local:L1", "hook-1665-crash@local:L1", "step-2331@postgres:P2",
                                  "hook-1665-crash@postgres:P3"])
def test_the_views_memoised_logs_are_the_logs_in_every_state(name):
    # the world views keep a run's sorted log until a store it comes from is written: an extra
    # invariant (without declared reads: checked after every step) compares it with a fresh read
    sc = registry.get(name)

    def memo_is_fresh(env):
        stale = [r for r in env.view.runs() if env.view.log(r) != _fresh_log(env.view, r)]
        return not stale or f"stale memoised log of {stale}"

    checked = dataclasses.replace(sc, invariants=sc.invariants + (always("I-MEMO", memo_is_fresh),), expect="hold")
    res = explore(checked, RandomWalk(3), budget=30, stop_on_violation=False)
    assert "I-MEMO" not in res.violations and res.steps > 30 * 10
