"""Store scans (`keys(prefix)`, `items(prefix)`): what they return, and that DPOR stays sound with them.

A scan's result depends on the keys it does not return (an insert under its prefix
changes it), so it reads a range key that every write under the prefix writes
(sim.store). Soundness is checked as in tests/test_dpor.py: on generated programs of
puts, deletes, gets and scans over tuple keys, DPOR reaches the same final states and
violations as plain DFS; and a store whose writes forget the range keys is shown to
lose an outcome, so the comparison can fail.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import DFS, Faults, Scenario, SimUsageError, Store, always, at_end, explore, keys_where, point
from sim.strategy import DPOR
from tests.test_dpor import outcomes

KEYS = (("a", 1), ("a", 2), ("b", 1))
PREFIXES = ((), ("a",), ("b",), ("a", 1))
MOD = 1_000_003


class Blind(Store):
    """A store whose writes do not write range keys: a scan then only reads what it returns."""

    def ranges(self, k):
        return []


class Machine:
    def __init__(self, store_cls=Store):
        self.s = store_cls("m", {("a", 1): 0}, scans=True)
        self.acc: dict = {}

    def result(self) -> dict:
        return {"s": self.s, "state": self.s._data, "acc": self.acc}   # "state", "acc": what outcomes() compares

    async def run(self, me, ops):
        s, acc = self.s, self.acc
        for kind, arg in ops:
            h = acc.get(me, 1)
            if kind == "scan":
                await point(f"scan {arg}", reads=(s.range_key(arg),))
                acc[me] = (h * 31 + hash(repr(s.items(arg)))) % MOD
            elif kind == "get":
                await point(f"get {arg}", reads=(s.key(arg),))
                acc[me] = (h * 37 + (s.get(arg, -1) or 0) + (arg in s)) % MOD
            elif kind == "put":
                await point(f"put {arg}", writes=(s.key(arg),))
                s[arg] = (h * 7 + len(str(me))) % MOD   # only what this actor read
            else:  # "del": a delete of a key that may be absent
                await point(f"del {arg}", reads=(s.key(arg),), writes=(s.key(arg),))
                if arg in s:
                    del s[arg]


def scan_scenario(actors, bad, crashes: int = 0, store_cls=Store) -> Scenario:
    def setup(k):
        m = Machine(store_cls)
        for i, ops in enumerate(actors):
            k.process(f"p{i}", lambda p, i=i, ops=ops: p.spawn("a", m.run, i, ops))
        return m.result()

    def a_count(st):   # an invariant that itself counts keys under a prefix
        n = sum(1 for k in st["s"].snapshot() if k[0] == "a")
        return n != bad or f"{n} keys under ('a',)"

    return Scenario("generated-scan", setup, max_steps=200, faults=Faults(crashes=crashes), invariants=(
        always("I-A-COUNT", a_count, reads=keys_where(lambda key: key[0] == "m")),
        at_end("I-END", lambda st: st["s"].peek(("b", 1), 0) % 5 != 3 or "b1 = 3 mod 5"),
    ))


def finals(scenario, strategy):
    """(final states, violations, executions) as tests/test_dpor.py counts them."""
    return outcomes(scenario, strategy)


op = st.one_of(st.tuples(st.just("scan"), st.sampled_from(PREFIXES)),
               st.tuples(st.sampled_from(["get", "put", "del"]), st.sampled_from(KEYS)))


@st.composite
def programs(draw, total: int = 8):
    n = draw(st.integers(2, 3))
    actors, left = [], total
    for i in range(n):
        ops = draw(st.lists(op, min_size=1, max_size=min(4, left - (n - i - 1))))
        actors.append(ops)
        left -= len(ops)
    return actors


COMPARED: list = []


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=programs(), bad=st.integers(0, 3))
def test_dpor_with_scans_reaches_the_same_final_states_and_violations_as_dfs(actors, bad):
    COMPARED.append(sum(1 for a in actors for o in a if o[0] == "scan"))
    scn = scan_scenario(actors, bad)
    dfs = finals(scn, DFS())
    dpor = finals(scn, DPOR())
    assert dpor[:2] == dfs[:2]
    assert dpor[2] <= dfs[2]


@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=programs(total=5), bad=st.integers(0, 3))
def test_dpor_with_scans_and_a_crash_matches_dfs(actors, bad):
    scn = scan_scenario(actors, bad, crashes=1)
    dfs = finals(scn, DFS())
    dpor = finals(scn, DPOR())
    assert dpor[:2] == dfs[:2]


def test_the_generated_programs_scan():
    if not COMPARED:
        test_dpor_with_scans_reaches_the_same_final_states_and_violations_as_dfs()
    assert len(COMPARED) >= 100 and sum(1 for c in COMPARED if c) >= 60


INSERT_VS_SCAN = [[("scan", ("a",))], [("put", ("a", 2))]]


def test_a_scan_without_range_keys_loses_an_outcome_that_dfs_finds():
    # the insert of ('a', 2) does not touch what the scan returned (only ('a', 1)): without the
    # range key DPOR takes them as independent and never runs the scan after the insert
    blind = scan_scenario(INSERT_VS_SCAN, 9, store_cls=Blind)
    dfs, dpor = finals(blind, DFS()), finals(blind, DPOR())
    assert len(dfs[0]) == 2 and len(dpor[0]) == 1
    sound = scan_scenario(INSERT_VS_SCAN, 9)
    dfs, dpor = finals(sound, DFS()), finals(sound, DPOR())
    assert dpor[0] == dfs[0] and len(dpor[0]) == 2


def test_scans_of_disjoint_prefixes_commute():
    # an insert under ('b',) and a scan of ('a',): one execution is enough; under ('a',): two
    def executions(ops, strategy):
        res = explore(scan_scenario(ops, 9), strategy, stop_on_violation=False)
        assert res.complete
        return res.executions

    assert executions([[("scan", ("a",))], [("put", ("b", 2))]], DPOR()) == 1
    assert executions([[("scan", ("a",))], [("put", ("a", 2))]], DPOR()) == 2
    assert executions([[("scan", ("a",))], [("put", ("b", 2))]], DFS()) == 2


def test_keys_and_items_by_prefix():
    seen = {}

    def setup(k):
        s = Store("s", {("r1", 2): "b", ("r1", 1): "a", ("r2", 1): "c", ("r1",): "top"}, scans=True)

        async def lister():
            await point("list", reads=(s.range_key(()),))   # the whole store's covers every scan of it
            seen["r1"] = s.keys(("r1",))
            seen["items"] = s.items(("r1", 1))
            seen["all"] = s.keys()

        k.process("p", lambda p: p.spawn("l", lister))
        return s

    res = explore(Scenario("scan-api", setup), DFS(), check_footprints=True)
    assert res.ok, res.violation
    assert seen["r1"] == [("r1",), ("r1", 1), ("r1", 2)]
    assert seen["items"] == [(("r1", 1), "a")]
    assert seen["all"] == [("r1",), ("r1", 1), ("r1", 2), ("r2", 1)]


def test_a_scan_declared_by_its_range_key_passes_the_footprint_check_and_one_without_fails():
    def scenario(declare: bool) -> Scenario:
        def setup(k):
            s = Store("s", {("x", 1): 1}, scans=True)

            async def writer():
                await point("put", writes=(s.key(("x", 2)),))   # the range keys are implied
                s[("x", 2)] = 2

            async def lister():
                await point("list", reads=(s.range_key(("x",)),) if declare else ())
                s.keys(("x",))

            k.process("w", lambda p: p.spawn("w", writer))
            k.process("l", lambda p: p.spawn("l", lister))
            return s
        return Scenario("scan-declared", setup)

    assert explore(scenario(True), DFS(), check_footprints=True).ok
    bad = explore(scenario(False), DFS(), check_footprints=True)
    assert bad.violation is not None and bad.violation.invariant == "footprint"
    assert "prefix" in bad.violation.message


def test_a_scan_of_a_store_made_without_scans_is_refused_in_one_line():
    def setup(k):
        s = Store("plain")

        async def lister():
            await point("list")
            s.keys()

        k.process("p", lambda p: p.spawn("l", lister))
        return s

    with pytest.raises(SimUsageError, match="scans=True"):
        res = explore(Scenario("no-scans", setup), DFS())
        if res.violation is not None:   # the kernel reports a model's exception as a violation
            raise SimUsageError(res.violation.message)
