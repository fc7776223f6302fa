"""State caching (DFS with `cache_states`, sim.statehash): sound against plain DFS, and reducing.

A cached search cuts an execution when it reaches a state whose subtree it has
explored. That is sound only if the fingerprint sees everything a state's future
depends on, so the same generated programs as DPOR's soundness tests (locks,
crashes, queues with redeliveries, sleeps and timeouts) must reach exactly the same
final states and violations as plain DFS, and the fingerprint itself is tested on
what a frame can hide: unnamed values on its stack, unbound locals, aliasing.
"""
from __future__ import annotations

import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import DFS, Scenario, always, explore, point, registry, statehash
from tests.test_dpor import (KEYS, SPELLINGS, outcomes, program_scenario, programs, queue_programs, queue_scenario,
                             small_programs, timed_op, timed_scenario, lock_orders)

SAVED: list = []   # executions DFS ran and the cached search ran, per generated program


def _compare(scn):
    plain = outcomes(scn, DFS())
    cached = outcomes(scn, DFS(cache_states=True))
    assert cached[0] == plain[0]      # final states
    assert cached[1] == plain[1]      # violations
    assert cached[2] <= plain[2]
    SAVED.append((plain[2], cached[2]))


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=st.one_of(programs(), programs(), lock_orders()),
       watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4), spelling=st.sampled_from(SPELLINGS), managed=st.booleans())
def test_cached_dfs_reaches_the_same_final_states_and_violations_as_dfs(actors, watched, bad, spelling, managed):
    _compare(program_scenario(actors, tuple(watched), bad, ("L1", "L2"), spelling=spelling, managed=managed))


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=small_programs(), watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4), managed=st.booleans())
def test_cached_dfs_with_a_crash_budget_matches_dfs(actors, watched, bad, managed):
    _compare(program_scenario(actors, tuple(watched), bad, ("L1", "L2"), crashes=1, managed=managed))


@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(program=queue_programs(), watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4))
def test_cached_dfs_with_queues_redeliveries_and_crashes_matches_dfs(program, watched, bad):
    msgs, handler_ops, other_ops, crashes = program
    _compare(queue_scenario(msgs, handler_ops, other_ops, tuple(watched), bad, crashes))


@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=st.lists(st.lists(timed_op, min_size=1, max_size=2), min_size=2, max_size=3),
       watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True), bad=st.integers(0, 4))
def test_cached_dfs_with_sleeps_and_timeouts_matches_dfs(actors, watched, bad):
    _compare(timed_scenario(actors, tuple(watched), bad))


def test_the_cache_cut_executions_on_the_generated_programs():
    # the comparisons above ran (this file's order), and caching did cut something somewhere
    assert len(SAVED) >= 200
    assert sum(c for _, c in SAVED) < sum(p for p, _ in SAVED)


# ---- the fingerprint sees what a frame hides ------------------------------------------------------

def _one_state(setup, tape) -> bytes:
    """The fingerprint at the first decision after following `tape`."""
    from sim.strategy.replay import Replay   # noqa: F401  (the strategy that follows a tape)
    seen = []

    class Grab(DFS):
        def choose(self, kind, n, label):
            if self._pos == len(tape):
                seen.append(label.fingerprint())
                from sim.strategy.base import Prune
                raise Prune()
            v = tape[self._pos]
            self._pos += 1
            return v

    explore(Scenario("t", setup), Grab(), budget=1)
    return seen[0]


def _two_actors(body_a, body_b=None):
    def setup(sim):
        async def other():
            await point("b1")
            await point("b2")
        sim.process("p", lambda p: p.spawn("a", body_a))
        sim.process("q", lambda p: p.spawn("b", body_b or other))
    return setup


def test_two_orders_of_independent_steps_reach_one_fingerprint():
    async def a():
        await point("a1")
        await point("a2")
    setup = _two_actors(a)
    # a1 then b1, or b1 then a1: both at (a2, b2)
    assert _one_state(setup, [0, 1]) == _one_state(setup, [1, 1])


def test_an_iterator_on_the_value_stack_is_part_of_the_state():
    # the loop variable is the same element, only the iterator's position differs
    async def a():
        for _ in ["x", "x"]:
            await point("loop")
        await point("after")
    setup = _two_actors(a)
    first_turn = _one_state(setup, [0])        # a ran its first `loop` step
    second_turn = _one_state(setup, [0, 0])    # and its second
    assert first_turn != second_turn


def test_which_locals_are_bound_is_part_of_the_state():
    def body(flag):
        async def a():
            await point("choose")
            if flag:
                x = 1  # noqa: F841
            else:
                y = 1  # noqa: F841
            await point("same place")
        return a
    assert _one_state(_two_actors(body(True)), [0]) != _one_state(_two_actors(body(False)), [0])


def test_aliasing_of_mutable_values_is_part_of_the_state():
    def body(shared: bool):
        async def a():
            x = [0]
            y = x if shared else [0]
            await point("here")
            x.append(1)
            await point("look")
            assert len(y) == 1
        return a
    assert _one_state(_two_actors(body(True)), []) != _one_state(_two_actors(body(False)), [])


def test_an_object_the_fingerprint_cannot_read_is_refused_not_guessed():
    async def a():
        fh = types.SimpleNamespace(stream=open(__file__, "rb"))
        try:
            await point("holding a file")
            await point("done")
        finally:
            fh.stream.close()
    with pytest.raises(statehash.Unfingerprintable, match="BufferedReader"):
        _one_state(_two_actors(a), [])


def test_cached_dfs_proves_a_registered_holding_scenario_with_fewer_executions_than_dfs():
    sc = registry.get("hook-event-first@local:L1")
    plain = explore(sc, DFS())
    cached = explore(sc, DFS(cache_states=True))
    assert plain.complete and cached.complete
    assert plain.violation is None and cached.violation is None
    assert cached.executions <= plain.executions
    assert cached.strategy["cache_states"] is True
