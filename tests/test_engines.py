"""Engine-specific behaviour: trio primitives inside steps, and what the fast engine refuses."""
from __future__ import annotations

import pytest
import trio

from sim import DFS, RandomWalk, Scenario, always, at_end, explore, make_trace, point
from sim.kernel import ForeignAwait


def trio_inside_steps() -> Scenario:
    """Each step awaits trio primitives (a checkpoint, a MockClock sleep) between two sim points."""

    def setup(sim):
        st = {"x": 0, "trio_time": []}

        async def worker():
            await point("read x", reads=("x",))
            v = st["x"]
            await trio.lowlevel.checkpoint()
            await trio.sleep(5)  # virtual under the trio engine's MockClock: costs no wall time
            st["trio_time"].append(trio.current_time())
            await point("write x", writes=("x",))
            st["x"] = v + 1

        for name in ("p1", "p2"):
            sim.process(name, lambda p: p.spawn("worker", worker))
        return st

    return Scenario("trio-inside-steps", setup,
                    invariants=(at_end("I-COUNTER", lambda st: st["x"] == 2 or f"x = {st['x']} after 2 increments"),))


def test_the_trio_engine_runs_models_that_await_trio():
    res = explore(trio_inside_steps(), DFS(), engine="trio")
    # the lost update is still found: trio checkpoints inside a step do not let another actor in,
    # only sim points do, so the schedule space is the same as without them
    assert res.violation is not None and res.violation.invariant == "I-COUNTER"
    assert res.found_at == 2  # DFS: serial first (holds), then the first preemption after a read
    trace = make_trace(trio_inside_steps(), res.tape, strategy={"name": "dfs"}, engine="trio")
    assert [(s.actor, s.label) for s in trace.steps] == [
        ("p1/worker", "read x"), ("p2/worker", "read x"), ("p2/worker", "write x"), ("p1/worker", "write x")]


def test_the_fast_engine_refuses_a_foreign_await_with_a_clear_error():
    with pytest.raises(ForeignAwait, match=r"p1/worker awaited something that is not a sim point.*engine='trio'"):
        explore(trio_inside_steps(), RandomWalk(1), budget=1)


@pytest.mark.parametrize("engine", ["fast", "trio"])
def test_a_bug_in_the_scenarios_own_code_is_a_model_error_naming_it(engine):
    from sim.kernel import ModelError

    def broken_setup(sim):
        raise ValueError("no such table")

    with pytest.raises(ModelError, match=r"^setup raised ValueError: no such table at .*test_engines.py:\d+$"):
        explore(Scenario("broken-setup", broken_setup), RandomWalk(1), budget=1, engine=engine)

    def setup(sim):
        async def w():
            await point("x")
        sim.process("p", lambda p: p.spawn("w", w))
        return {}

    for inv in (always("I-ALWAYS", lambda st: st["missing"]), at_end("I-END", lambda st: 1 / 0)):
        with pytest.raises(ModelError, match=rf"^invariant {inv.name} raised (KeyError|ZeroDivisionError)"):
            explore(Scenario("broken-invariant", setup, invariants=(inv,)), RandomWalk(1), budget=1, engine=engine)
