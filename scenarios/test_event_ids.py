"""Event ids as each world mints them (domain doc 1.1, 4.5 B25, 5.1 I-LOG2): the `REVu` twins mint from
per-process ULID factories; I-LOG2 is found by search, from reader ghost state, on either id scheme."""
from __future__ import annotations

import dataclasses

import pytest

import sim
from models import events as ev
from models.local.scenarios import REVISIONS as LOCAL, scenario as local_scenario
from models.postgres.scenarios import REVISIONS as POSTGRES, scenario as pg_scenario
from scenarios._support import counterexample, make


def test_every_revision_has_a_ulid_twin_that_differs_only_in_its_ids():
    for revisions in (LOCAL, POSTGRES):
        for r, cls in revisions.items():
            if not r.endswith("u"):
                twin = revisions[r + "u"]
                assert issubclass(twin, cls) and twin.process_ulids and not cls.process_ulids


def _mints(sleeper: bool):
    """Processes a and b mint two ids each; with `sleeper`, c mints one after 1 ms of virtual time.
    Returns the scenario and the list of executions' ids in mint order ((process, id, virtual time))."""
    executions = []

    def setup(k):
        wall, minted = sim.Store("wall"), []
        executions.append(minted)

        async def mint(p, name, delay):
            if delay:
                await sim.sleep(delay)
            for _ in range(1 if delay else 2):
                await sim.point("mint", reads=(wall.key("wall"),), writes=(wall.key("wall"),))
                minted.append((name, ev.mint_process_ulid(wall), sim.now()))
        for name, delay in (("a", 0), ("b", 0)) + ((("c", 1),) if sleeper else ()):
            k.process(name, lambda p, name=name, delay=delay: p.spawn("mint", mint, p, name, delay))
    return sim.Scenario(name="ids", setup=setup), executions


def test_a_process_factory_is_monotonic_and_ids_of_two_processes_invert_only_in_one_millisecond():
    s, executions = _mints(sleeper=True)
    res = sim.explore(s, make("dfs", 1), budget=20_000)
    assert res.violation is None and res.complete
    inverted = 0
    for minted in executions:
        ids = [i for _, i, _t in minted]
        assert len(set(ids)) == len(ids)
        for name in "abc":
            own = [i for p, i, _t in minted if p == name]
            assert own == sorted(own)                        # monotonic within a process
        for _, i, t in minted:                               # after time passed: above every earlier id
            assert all(i > j for _, j, u in minted if u < t)
        inverted += ids != sorted(ids)
    assert inverted                                           # two processes in one millisecond: either order


def test_the_default_tape_mints_in_time_order():
    s, executions = _mints(sleeper=False)
    res = sim.explore(s, make("dfs", 1), budget=1)         # DFS's first execution: every choice 0
    assert res.violation is None
    ids = [i for _, i, _t in executions[0]]
    assert ids == sorted(ids)


@pytest.mark.parametrize("build,revision,found", [(local_scenario, "L1", "I-LOG2"), (local_scenario, "L1u", "I-LOG2"),
                                                  (pg_scenario, "P3", "I-LOG2"), (pg_scenario, "P3u", "I-LOG3")])
def test_b25_is_found_as_i_log2_by_search(build, revision, found):
    """On P3u the search meets B25's one-millisecond form first: a writer's key below what it read (I-LOG3)."""
    s = dataclasses.replace(build("hook-sleep-race-2029", revision, log_prefix=True), expect="I-LOG2|I-LOG3")
    counterexample(s, found)


# ---- I-LOG3 (5.1: an event's key is >= every key its writer had observed when it decided to write it) ----

def test_b25_at_one_millisecond_is_found_as_i_log3_by_search_and_breaks_i_log2_in_the_same_state():
    from models.invariants import prefix_stable, writer_monotonic
    from sim import registry
    s = registry.get("hook-sleep-race-2029@postgres:P4u[log_prefix=true]")
    assert s.expect == "I-LOG3|I-LOG2"   # B25 without a same-millisecond mint: I-LOG2 alone
    _trace, env = counterexample(s, "I-LOG3")
    assert "wait_completed" in writer_monotonic(env) and "p1/consumer" in writer_monotonic(env)
    assert prefix_stable(env) is not None     # the writer had read the event its key sorts below


@pytest.mark.parametrize("revision", ["L1", "P4"])
def test_i_log3_holds_where_every_id_is_minted_above_every_earlier_one(revision):
    """On a shared clock (plain revisions) a writer mints after it read, so above what it read: I-LOG3
    holds while I-LOG2 (B25: another writer's key minted before the read) is found."""
    build = local_scenario if revision == "L1" else pg_scenario
    s = dataclasses.replace(build("hook-sleep-race-2029", revision, log_prefix=True), expect="hold")
    res = sim.explore(s, make("portfolio", 1), budget=300, stop_on_violation=False)
    assert "I-LOG2" in res.violations and "I-LOG3" not in res.violations


def test_a_promise_all_write_is_checked_against_its_handlers_frontier(monkeypatch):
    class Actor:
        name = "p1/consumer"
    monkeypatch.setattr(ev, "current_actor", lambda: Actor)
    ghost, observed = ev.WriterFrontiers(), {("r", "p1/consumer"): ("evnt_B", frozenset({"evnt_A", "evnt_B"}))}
    ghost.inherit("p1/step_created step_…X")
    Actor.name = "p1/step_created step_…X"
    ghost.record(observed, "r", "evnt_C")
    assert ghost.minted == {"evnt_C": ("p1/step_created step_…X", "evnt_B")}
    ghost.record(observed, "other-run", "evnt_D")      # nothing read of that run: nothing to hold it to
    assert "evnt_D" not in ghost.minted


def test_world_local_processes_share_one_factory_unless_the_workload_says_otherwise():
    """world-local's simulated processes are world instances of one server process (1.1: one
    process-wide factory): ids in mint order in every execution; separate OS processes invert."""
    for separate, inverts in ((False, False), (True, True)):
        executions = []

        def setup(k, separate=separate):
            wall, minted = sim.Store("wall"), []
            executions.append(minted)

            async def mint(name):
                for _ in range(2):
                    await sim.point("mint", reads=(wall.key("wall"),), writes=(wall.key("wall"),))
                    minted.append(ev.mint_process_ulid(wall, one_factory=not separate))
            for name in "ab":
                k.process(name, lambda p, name=name: p.spawn("mint", mint, name))
        res = sim.explore(sim.Scenario(name="ids", setup=setup), make("dfs", 1), budget=20_000)
        assert res.violation is None and res.complete
        assert any(m != sorted(m) for m in executions) == inverts
