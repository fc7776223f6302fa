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


@pytest.mark.parametrize("build,revision", [(local_scenario, "L1"), (local_scenario, "L1u"),
                                            (pg_scenario, "P3"), (pg_scenario, "P3u")])
def test_b25_is_found_as_i_log2_by_search(build, revision):
    s = dataclasses.replace(build("hook-sleep-race-2029", revision, log_prefix=True), expect="I-LOG2")
    counterexample(s, "I-LOG2")
