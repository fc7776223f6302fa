"""Mistakes a model author makes are refused with a message, not answered with a misleading verdict."""
from __future__ import annotations

import pytest

from sim import DFS, Scenario, Store, at_end, cli, explore, point, sleep, wait
from sim.runtime import SimUsageError, UnawaitedPoint


def test_an_async_start_function_is_refused():
    async def start(p):            # the actor itself given where the start function goes
        await point("never runs")

    def setup(k):
        k.process("p1", start)
        return {}
    with pytest.raises(SimUsageError, match="start function of process 'p1' is a coroutine function"):
        explore(Scenario("async-start", setup), DFS())


def test_a_misspelt_expectation_is_refused_when_registered(monkeypatch):
    from sim import registry
    registry.all_scenarios()
    monkeypatch.setattr(registry, "_registry", {})
    inv = at_end("I-ONE", lambda s: True)
    with pytest.raises(ValueError, match=r"expect='I-0NE': 'I-0NE' is neither 'hold'.*\(I-ONE\)"):
        registry.register(Scenario("typo", lambda k: {}, invariants=(inv,), expect="I-0NE"))
    registry.register(Scenario("fine", lambda k: {}, invariants=(inv,), expect="I-ONE|deadlock"))   # built-ins count


def test_two_stores_with_one_name_are_refused():
    def setup(k):
        Store("state")
        Store("state")

        async def w():
            await point("x")
        k.process("p1", lambda p: p.spawn("w", w))
        return {}
    with pytest.raises(SimUsageError, match="two Stores named 'state'"):
        explore(Scenario("two-stores", setup), DFS())


# ---- a point (wait, sleep) called without `await` --------------------------------------------
# Without the await the point is made and dropped: no step boundary, so two steps silently run as
# one. The kernel notes each point made until it is awaited; the next point made, or the end of
# the execution, finds it still owed.

async def _forgets_then_points(state):
    point("write x")                 # the mistake: no await
    state["x"] = 1
    await point("read x")


async def _forgets_last(state):
    await point("first")
    point("write x")                 # the mistake, then the actor ends


async def _forgets_a_sleep(state):
    await point("first")
    sleep(5, "back off")             # a sleep that never sleeps
    await point("retry")


async def _forgets_and_swallows(state):
    point("write x")
    try:
        await point("read x")
    except Exception:                # an author's catch-all does not hide the mistake
        pass


def _one_actor(actor, name="unawaited"):
    def setup(k):
        state = {"x": 0}
        k.process("p1", lambda p: p.spawn("writer", actor, state))
        k.process("p2", lambda p: p.spawn("reader", _reads, state))
        return state

    async def _reads(state):
        await point("read")

    return Scenario(name, setup, invariants=(at_end("I-TRUE", lambda s: True),))


@pytest.mark.parametrize("engine", ["fast", "trio"])
@pytest.mark.parametrize("actor, label", [(_forgets_then_points, "write x"), (_forgets_last, "write x"),
                                          (_forgets_a_sleep, "back off"), (_forgets_and_swallows, "write x")],
                         ids=["before-a-point", "at-the-end", "a-sleep", "swallowed"])
def test_a_point_never_awaited_is_refused_naming_the_actor_and_label(engine, actor, label):
    with pytest.raises(UnawaitedPoint, match=rf"^p1/writer: the point '{label}' was never awaited"):
        explore(_one_actor(actor), DFS(), engine=engine)


def test_awaited_points_and_waits_are_not_refused():
    async def fine(state):
        p = point("made first, awaited next")   # legal: awaited before the next point
        await p
        assert await wait("x set", lambda: True, timeout=3)
        await sleep(1)

    res = explore(_one_actor(fine), DFS())
    assert res.violation is None and res.complete


def test_the_cli_reports_a_point_never_awaited_in_one_line_exit_2(tmp_path, monkeypatch, capsys, isolated_registry):
    (tmp_path / "unawaited_model_for_tests.py").write_text(
        "from sim import Scenario, point\n"
        "async def w():\n    point('write x')\n    await point('read x')\n"
        "def setup(k):\n    k.process('p1', lambda p: p.spawn('w', w))\n    return {}\n"
        "SCENARIOS = [Scenario('unawaited-point', setup)]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code = cli.main(["explore", "--load", "unawaited_model_for_tests", "--scenario", "unawaited-point",
                     "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "p1/w: the point 'write x' was never awaited" in err
