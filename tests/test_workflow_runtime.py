"""Workflows that sleep, run by the runtime against both worlds: the elapsed-wait scan completes the wait
after the delayed delivery, the run ends, and a run whose wake-up is lost is reported by I-LIVE (and
I-W2), naming what it is stuck on, instead of holding."""
from __future__ import annotations

import pytest

import sim
from models import events as ev
from models.invariants import world_invariants
from models.local.hooks import L1
from models.postgres.world import P4
from models.runtime import Runtime
from models.workflow import sleep, step, workflow
from models.workloads import Env, run_queue, runtime_processes
from sim import Scenario, point
from sim.explore import run_tape
from sim.strategy import make
from sim.strategy.replay import Replay

RUN = ev.run_id("nap")
after_nap = step("rt-afterNap")


@workflow
async def nap():
    await sleep(1_000)
    return await after_nap()


class LostTimeouts(Runtime):
    """A queue that drops `{timeoutSeconds}`: the handler acks and nothing brings the run back."""

    async def return_timeout(self, msg: dict, delivery, delay: int) -> None:
        await point("return {timeoutSeconds} (dropped)", writes=(self.queue.key,))


def nap_scenario(world, runtime=Runtime, workers: int = 2) -> Scenario:
    def setup(s):
        env = Env(world.storage(), world, workflows={RUN: nap}, liveness=True)
        world.seed_run(env.storage, RUN, "pending")
        q = run_queue(world)
        q.push({"runId": RUN})
        runtime_processes(s, env, q, names=tuple(f"p{i + 1}" for i in range(workers)), runtime=runtime)
        return env
    return Scenario(f"nap-{world.revision}-{runtime.__name__}", setup, invariants=world_invariants(), max_steps=2_000)


def final_env(sc, tape):
    return run_tape(sc, Replay(tape)).state


@pytest.mark.parametrize("world", [L1, P4], ids=["local", "postgres"])
def test_a_sleeping_run_is_woken_by_its_delayed_delivery_and_completes(world):
    sc = nap_scenario(world)
    res = sim.explore(sc, make("random", 1), budget=30)
    assert res.violation is None
    k = run_tape(sc, make("random", 2))
    types = [e["eventType"] for e in k.state.view.log(RUN)]
    assert types[-1] == ev.RUN_COMPLETED and ev.WAIT_COMPLETED in types, types
    assert k.state.view.log(RUN)[-1]["eventData"]["output"] == "ok"
    assert k.now >= 1_000   # the wake-up came when the sleep had elapsed


def test_one_worker_sleeping_holds_exhaustively():
    res = sim.explore(nap_scenario(P4, workers=1), make("dpor", 1), budget=5_000)
    assert res.violation is None and res.complete


@pytest.mark.parametrize("world", [L1, P4], ids=["local", "postgres"])
def test_a_run_stuck_forever_is_reported_by_i_live_naming_its_wait(world):
    sc = nap_scenario(world, LostTimeouts, workers=1)
    res = sim.explore(sc, make("random", 1), budget=50)
    # I-W2 (an open wait of a live run) is the more specific name; I-LIVE says what the run waits on
    assert res.violation is not None and res.violation.invariant == "I-W2", res.violation
    live = [i for i in sc.at_end if i.name == "I-LIVE"][0]
    assert f"run {ev.short(RUN)} stalled on wait" in live.fn(final_env(sc, res.tape))


class _Listing:
    """A world whose listing is a fixed log (what the #2029 re-read sees)."""

    def __init__(self, log):
        self.log = log

    async def events_list(self, run, after=None):
        # ids of _event order as the log does: a cursor page is what sorts above the cursor
        return [e for e in self.log if after is None or e["eventId"] > after]


def _drive(coro):
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the scan's tail should not reach a scheduling point here")


def _event(i, t, corr=None):
    return ev.event(ev.event_id_at(i, i), RUN, t, corr, {})


@pytest.mark.parametrize("revision,late_hook_seen", [("R-June", False), ("R2029", True)])
def test_after_the_scan_only_r2029_replays_an_event_committed_after_the_snapshot(revision, late_hook_seen):
    from models.runtime import RUNTIMES
    snapshot = [_event(1, ev.RUN_CREATED), _event(2, ev.WAIT_CREATED, "wait_1")]
    received, own = _event(3, ev.HOOK_RECEIVED, "hook_0"), _event(4, ev.WAIT_COMPLETED, "wait_1")
    rt = RUNTIMES[revision](_Listing(snapshot + [received, own]), None, None, {})
    log = _drive(rt.after_scan(RUN, snapshot, [own]))
    assert (received in log) == late_hook_seen
    assert log[-1] == own or log == snapshot + [received, own]
    # nothing but our own wait_completed arrived: both replay the augmented snapshot
    rt = RUNTIMES[revision](_Listing(snapshot + [own]), None, None, {})
    assert _drive(rt.after_scan(RUN, snapshot, [own])) == snapshot + [own]


def test_r2029_re_reads_after_the_cursor_and_misses_an_event_committed_below_it():
    """The re-query lists the events after the snapshot's cursor (3.5): hook_received, its key minted
    before the snapshot's last event but committed after the snapshot, is below the cursor and missed
    (the mint-before-commit hazard), so the augmented snapshot is replayed."""
    from models.runtime import RUNTIMES
    snapshot = [_event(1, ev.RUN_CREATED), _event(3, ev.WAIT_CREATED, "wait_1")]
    below, own = _event(2, ev.HOOK_RECEIVED, "hook_0"), _event(4, ev.WAIT_COMPLETED, "wait_1")
    durable = [snapshot[0], below, snapshot[1], own]
    rt = RUNTIMES["R2029"](_Listing(durable), None, None, {})
    assert _drive(rt.after_scan(RUN, snapshot, [own])) == snapshot + [own]
