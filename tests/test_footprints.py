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
    assert sim.replay(trace, scenario=two_writers(False)).same


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


def watched_store(reads) -> Scenario:
    """p1 writes x, p2 writes y; I-X looks at x and y, declaring `reads`."""

    def setup(k):
        store = Store("kv", {"x": 0, "y": 0})

        async def write(key):
            await point(f"write {key}", writes=(store.key(key),))
            store[key] = 1

        k.process("p1", lambda p: p.spawn("w", write, "x"))
        k.process("p2", lambda p: p.spawn("w", write, "y"))
        return store

    return Scenario("watched", setup, invariants=(
        sim.always("I-X", lambda s: s.peek("x") + s.peek("y") <= 2, reads=reads),))


@pytest.mark.parametrize("strategy", [lambda: RandomWalk(1), DPOR], ids=["random", "dpor"])
def test_an_invariant_reading_outside_its_declared_reads_is_a_footprint_violation(strategy):
    res = explore(watched_store((("kv", "x"),)), strategy(), budget=5, check_footprints=True)
    assert res.violation is not None and res.violation.invariant == "footprint"
    assert res.violation.step == 0   # the initial state is checked too
    assert res.violation.message.startswith("invariant I-X read ('kv', 'y') outside its declared reads")
    # without the check nothing is recorded, and the same declaration passes
    assert explore(watched_store((("kv", "x"),)), strategy(), budget=5).ok


@pytest.mark.parametrize("reads", [
    (("kv", "x"), ("kv", "y")),
    lambda store: (store.key("x"), store.key("y")),
    sim.keys_where(lambda k: k[0] == "kv"),
], ids=["keys", "callable", "keys_where"])
def test_declared_reads_in_every_spelling_pass_the_check(reads):
    res = explore(watched_store(reads), DPOR(), check_footprints=True)
    assert res.ok and res.complete


def test_an_invariant_that_reads_through_recording_accessors_is_checked_too():
    def setup(k):
        store = Store("kv", {"x": 0, "y": 0})
        return store

    sc = Scenario("get", setup, invariants=(
        sim.always("I-GET", lambda s: s.get("y") == 0, reads=(("kv", "x"),)),))
    res = explore(sc, RandomWalk(1), budget=1, check_footprints=True)
    assert res.violation.invariant == "footprint" and "('kv', 'y')" in res.violation.message


def test_keys_where_asks_its_predicate_once_per_key():
    asked = []
    where = sim.keys_where(lambda k: asked.append(k) or k[0] == "kv")
    assert where.hits([("kv", 1), ("other", 1)]) and not where.hits([("other", 1), ("other", 2)])
    assert ("kv", 1) in where and ("other", 2) not in where
    assert asked == [("kv", 1), ("other", 1), ("other", 2)]
    assert not callable(where)   # cannot be mistaken for a callable giving the keys


def test_reads_given_as_a_string_is_refused():
    with pytest.raises(TypeError, match="not the string 'x'"):
        sim.always("I", lambda s: True, reads="x")


def test_explore_shrinks_a_footprint_violation(tmp_path, monkeypatch, capsys):
    """The shrinker re-runs candidates with footprints checked, as they were found (it used to say
    'not shrunk: the tape does not fail')."""
    from sim import cli, registry
    registry.all_scenarios()
    monkeypatch.setattr(registry, "_registry", {})
    registry.register(two_writers(False))
    code = cli.main(["explore", "--scenario", "two-writers", "--check-footprints", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1 and "footprint violated" in out and "not shrunk" not in out, out
    shrunk = next(tmp_path.glob("*-shrunk.json"))
    assert sim.trace.load(shrunk).verdict.invariant == "footprint"
