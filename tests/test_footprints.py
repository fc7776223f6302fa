"""Managed state (sim.Store), actual and callable footprints, and the footprint debug mode."""
from __future__ import annotations

import pytest

import sim
from sim import DFS, RandomWalk, Scenario, Store, at_end, explore, make_trace, point
from sim.strategy import DPOR


def two_writers(declare_b: bool) -> Scenario:
    """p1 writes a; p2 writes b, declaring it or not."""

    def setup(k):
        store = Store("kv", {"a": 0, "b": 0})

        async def write_a():
            await point("write a", writes=(store.key("a"),))
            store["a"] = 1

        async def write_b():
            await point("write b", writes=(store.key("b"),) if declare_b else ())
            store["b"] = 1

        k.process("p1", lambda p: p.spawn("w", write_a))
        k.process("p2", lambda p: p.spawn("w", write_b))
        return store

    return Scenario("two-writers", setup, invariants=(at_end("I-BOTH", lambda s: s.snapshot() == {"a": 1, "b": 1}),))


@pytest.mark.parametrize("engine", ["fast", "trio"])
def test_an_undeclared_write_is_a_footprint_violation_in_debug_mode(engine):
    res = explore(two_writers(declare_b=False), RandomWalk(1), budget=5, check_footprints=True, engine=engine)
    assert res.violation is not None and res.violation.invariant == "footprint"
    assert "p2/w at 'write b' touched ('kv', 'b') outside its declared footprint" in res.violation.message
    # the trace records the mode, so the replay finds the same violation
    trace = make_trace(two_writers(False), res.tape, strategy={"name": "random"}, check_footprints=True)
    assert trace.check_footprints and trace.verdict.invariant == "footprint"
    assert sim.replay(trace, scenario=two_writers(False)).same_verdict


def test_without_debug_mode_nothing_is_checked_and_declared_footprints_pass():
    assert explore(two_writers(declare_b=False), RandomWalk(1), budget=5).ok
    assert explore(two_writers(declare_b=True), DFS(), check_footprints=True).ok


def test_an_undeclared_read_is_reported_too_but_a_read_of_a_declared_write_is_fine():
    def setup(k):
        store = Store("kv", {"x": 0})

        async def reader():
            await point("read x")  # declares nothing
            _ = store["x"]

        async def bumper():
            await point("bump x", writes=(store.key("x"),))  # reads what it writes: covered
            store["x"] = store["x"] + 1

        k.process("p1", lambda p: p.spawn("r", reader))
        k.process("p2", lambda p: p.spawn("b", bumper))
        return store

    res = explore(Scenario("reads", setup), DFS(), check_footprints=True)
    assert res.violation.invariant == "footprint" and "p1/r at 'read x' touched ('kv', 'x')" in res.violation.message


def test_a_callable_footprint_is_what_the_step_would_touch_now():
    def setup(k):
        claims = Store("claim")
        key = claims.key("c")

        async def claimer(me):
            await point("xcreate", reads=(key,), writes=lambda: () if "c" in claims.snapshot() else (key,))
            claims.create("c", me)

        for name in ("p1", "p2", "p3"):
            k.process(name, lambda p, me=name: p.spawn("c", claimer, me))
        return claims

    scn = Scenario("claims", setup, invariants=(at_end("I-ONE", lambda s: len(s.snapshot()) == 1),))
    # the losers' creates are recorded as reads and declared as such once the claim exists
    assert explore(scn, DFS(), check_footprints=True).ok
    assert explore(scn, DFS()).executions == 6 and explore(scn, DPOR()).executions == 3
