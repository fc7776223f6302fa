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


def test_a_process_factory_is_monotonic_and_ids_of_two_processes_order_by_the_tape():
    seen = {}

    def setup(k):
        async def mint(p, name):
            seen[name] = [ev.mint_process_ulid() for _ in range(3)]
        for name in ("a", "b"):
            k.process(name, lambda p, name=name: p.spawn("mint", mint, p, name))
    orders = set()

    def check(_state):
        for ids in seen.values():
            assert ids == sorted(ids) and len(set(ids)) == 3
        assert len(set(seen["a"]) | set(seen["b"])) == 6
        orders.add(seen["a"][0] < seen["b"][0])
        return None
    s = sim.Scenario(name="ids", setup=setup, invariants=(sim.at_end("ids", check),))
    res = sim.explore(s, make("dfs", 1), budget=50)
    assert res.violation is None and orders == {True, False}


@pytest.mark.parametrize("build,revision", [(local_scenario, "L1"), (local_scenario, "L1u"),
                                            (pg_scenario, "P3"), (pg_scenario, "P3u")])
def test_b25_is_found_as_i_log2_by_search(build, revision):
    s = dataclasses.replace(build("hook-sleep-race-2029", revision, log_prefix=True), expect="I-LOG2")
    counterexample(s, "I-LOG2")
