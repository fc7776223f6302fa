"""The suspension handler issues the writes of one phase concurrently (the runtime's `Promise.all`): each
write is an actor of the delivery's process, so two hook_created of one suspension interleave and either
may land first; the handler goes on once all have settled, and an unswallowed error fails the delivery
only then. A phase with a single write stays inline (no actor)."""
from __future__ import annotations

import pytest

import sim
from models import events as ev
from models.events import EntityConflictError
from models.invariants import world_invariants
from models.local.hooks import L1
from models.postgres.world import P4
from models.runtime import Ledger, Runtime
from models.workflow import Promise, create_hook, step, workflow
from models.workloads import Env, run_queue, runtime_processes
from sim import Scenario, at_end, point
from sim.explore import run_tape
from sim.strategy import make
from sim.strategy.replay import Replay

RUN = ev.run_id("two-hooks")
after_hooks = step("sc-afterHooks")


@workflow
async def two_hooks():
    first, second = create_hook("sc-first"), create_hook("sc-second")
    await Promise.race([first, second, after_hooks()])


def _hook_created_order(env) -> list:
    return [e["eventData"]["token"] for e in env.view.log(RUN) if e["eventType"] == ev.HOOK_CREATED]


def two_hooks_scenario(world, extra=()) -> Scenario:
    def setup(s):
        env = Env(world.storage(), world, workflows={RUN: two_hooks})
        world.seed_run(env.storage, RUN, "pending")
        q = run_queue(world)
        q.push({"runId": RUN})
        runtime_processes(s, env, q, names=("p1",))
        return env
    return Scenario(f"two-hooks-{world.revision}", setup, invariants=world_invariants() + tuple(extra),
                    max_steps=2_000)


@pytest.mark.parametrize("world", [L1, P4], ids=["local", "postgres"])
def test_two_hook_created_of_one_suspension_interleave(world):
    # sequentially the first hook's write finishes before the second's starts, and its event comes first
    # in the log; concurrently the second write takes steps while the first is in flight, and some
    # schedule lands the second hook's event first
    sc = two_hooks_scenario(world)
    interleaved = reversed_log = 0
    for seed in range(1, 21):
        kern = run_tape(sc, make("random", seed))
        assert kern.violation is None, kern.violation
        first, second = _hook_corrs(kern.state)
        actors = [row.actor for row in kern.log]
        steps_of = {c: [i for i, a in enumerate(actors) if a.endswith(_writer(c))] for c in (first, second)}
        assert steps_of[first] and steps_of[second], actors
        interleaved += any(steps_of[first][0] < i < steps_of[first][-1] for i in steps_of[second])
        reversed_log += _hook_created_order(kern.state) == ["sc-second", "sc-first"]
    assert interleaved and reversed_log, (interleaved, reversed_log)


def test_the_two_hook_created_are_issued_in_call_order_and_both_land():
    kern = run_tape(two_hooks_scenario(P4), make("random", 3))
    assert kern.violation is None
    assert sorted(_hook_created_order(kern.state)) == ["sc-first", "sc-second"]
    first, second = _hook_corrs(kern.state)
    assert (first, second) == (ev.correlation_id("hook", RUN, 0), ev.correlation_id("hook", RUN, 1))


def _writer(corr: str) -> str:
    """The name of the actor that writes hook_created for `corr` (one per write of a Promise.all)."""
    return f"{ev.HOOK_CREATED} {ev.short(corr)}"


def _hook_corrs(env) -> list:
    """The hooks' correlation ids in the order the handler issued their hook_created (call order)."""
    return [k[2] for k in env.ledger.issued if k[1] == ev.HOOK_CREATED]


# ---- the join: results in call order, errors after every write settled ------------------------

class _StubWorld:
    """Two points per write; a write whose correlation id is in `fail` answers an unswallowed 409
    (swallowed at sites that swallow 409: give those sites `(410,)`)."""

    def __init__(self, fail=()):
        self.fail = set(fail)
        self.landed: list = []

    async def events_create(self, run, req):
        corr = req["correlationId"]
        await point(f"send {corr}", writes=(("stub", corr),))
        await point(f"commit {corr}", writes=(("stub", corr),))
        if corr in self.fail:
            raise EntityConflictError(f"{corr} conflicts")
        self.landed.append(corr)
        return {"event": {"eventType": req["eventType"], "correlationId": corr}}


def _join_scenario(fail) -> Scenario:
    def setup(s):
        st = {"world": _StubWorld(fail), "outcome": None, "landed_at_outcome": None}

        async def handler():
            rt = Runtime(st["world"], None, Ledger(), {})
            reqs = [({"eventType": ev.STEP_CREATED, "correlationId": c}, (410,)) for c in ("s0", "s1", "s2")]
            try:
                st["outcome"] = [r["event"]["correlationId"] for r in await rt.all_writes("r", reqs)]
            except EntityConflictError as e:
                st["outcome"] = str(e)
            st["landed_at_outcome"] = sorted(st["world"].landed)

        s.process("p1", lambda p: p.spawn("handler", handler))
        return st

    return Scenario("join", setup, invariants=(
        at_end("settled", lambda st: st["outcome"] is not None),))


def test_all_writes_returns_results_in_call_order_whatever_the_schedule():
    sc = _join_scenario(())
    orders = set()
    for seed in range(1, 30):
        kern = run_tape(sc, make("random", seed))
        assert kern.violation is None
        assert kern.state["outcome"] == ["s0", "s1", "s2"]
        orders.add(tuple(kern.state["world"].landed))
    assert len(orders) > 1   # the writes really raced


def test_an_unswallowed_error_fails_only_after_every_write_settled():
    sc = _join_scenario({"s1"})
    res = sim.explore(sc, make("dfs", 1), budget=20_000)
    assert res.violation is None and res.complete
    for seed in range(1, 10):
        st = run_tape(sc, make("random", seed)).state
        assert st["outcome"] == "s1 conflicts"
        assert st["landed_at_outcome"] == ["s0", "s2"]   # the others landed before the handler saw the error
