"""Strategies: DFS covers the choice tree exactly, random and PCT are reproducible, Metrics only counts."""
from __future__ import annotations

import itertools
from math import comb, factorial

import pytest

import sim
from sim import (DFS, PCT, Faults, Metrics, RandomWalk, Scenario, Strategy, choose, explore, make_trace, point,
                 ulid)
from sim import registry
from sim.strategy import ModelNondeterminism, make
from tests.outside_model import Record


def workers(n_workers: int, n_points: int, crashes: int = 0) -> Scenario:
    """Plain points, no invariants: every interleaving is a distinct, valid execution."""
    def setup(k):
        order = []

        async def worker():
            for i in range(n_points):
                await point(f"step {i}")
                order.append(sim.current_actor().name)
        for w in range(n_workers):
            k.process(f"w{w + 1}", lambda p: p.spawn("a", worker))
        return order
    return Scenario(f"workers-{n_workers}x{n_points}", setup, faults=Faults(crashes=crashes))


def interleavings(scn, strategy=None):
    rec = Record(strategy or DFS())
    ex = explore(scn, rec)
    return ex, [tuple(r.state) for r in rec.runs]


# ---- DFS ----------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_dfs_enumerates_every_interleaving_of_two_workers(n):
    ex, orders = interleavings(workers(2, n))
    assert ex.complete and ex.ok
    assert ex.executions == len(set(orders)) == comb(2 * n, n)


def test_dfs_enumerates_the_multinomial_for_three_workers():
    ex, orders = interleavings(workers(3, 2))
    assert ex.complete
    assert ex.executions == len(set(orders)) == factorial(6) // (factorial(2) ** 3)  # 90


def data_choice(n: int) -> Scenario:
    def setup(k):
        got = []

        async def picker():
            await point("pick")
            got.append(choose("rand", n, "value"))
        k.process("p", lambda p: p.spawn("a", picker))
        return got
    return Scenario(f"choose-{n}", setup)


@pytest.mark.parametrize("n,cap,expected", [(4, 16, {0, 1, 2, 3}), (100, 16, {0, 99}), (5, 4, {0, 4})])
def test_dfs_explores_wide_data_choices_at_their_extremes(n, cap, expected):
    rec = Record(DFS(data_cap=cap))
    ex = explore(data_choice(n), rec)
    assert ex.complete
    assert {r.state[0] for r in rec.runs} == expected and ex.executions == len(expected)
    assert ex.truncated is (n > cap)
    assert ("extremes" in ex.bounds()) is (n > cap)


def counter_model(where: str) -> Scenario:
    """A model that reads an external mutable counter: the same prefix asks a different question."""
    calls = itertools.count()

    def setup(k):
        execution = next(calls)  # differs between two executions that share a choice prefix

        async def worker():
            await point("step")
            if where == "data":
                choose("rand", 2 + execution % 2, "depends on the counter")

        extra = execution % 2 if where == "step" else 0
        for i in range(2 + extra):
            k.process(f"p{i}", lambda p: p.spawn("a", worker))
    return Scenario(f"counter-{where}", setup)


def test_dfs_detects_a_model_that_depends_on_something_outside_the_tape():
    with pytest.raises(ModelNondeterminism, match="choice 0 had 2 options before and 3 now"):
        explore(counter_model("step"), DFS())


def test_dfs_detects_nondeterminism_in_a_data_choice():
    with pytest.raises(ModelNondeterminism):
        explore(counter_model("data"), DFS())


# ---- random and PCT -------------------------------------------------------------------------

def tapes(name: str, seed: int, scn: Scenario, n: int = 50) -> list[list[int]]:
    rec = Record(make(name, seed))
    ex = explore(scn, rec, budget=n)
    assert ex.executions == n
    return [r.tape for r in rec.runs]


@pytest.mark.parametrize("name", ["random", "pct"])
def test_seeded_strategies_are_reproducible(name):
    scn = workers(3, 3, crashes=1)
    a, b, c = tapes(name, 7, scn), tapes(name, 7, scn), tapes(name, 8, scn)
    assert a == b
    assert a != c
    assert len({tuple(t) for t in a}) > 10  # the seed varies per execution, not only per exploration


class Switches(Strategy):
    """Wraps a strategy; counts choices that leave an enabled current actor for another actor."""

    def __init__(self, inner):
        self.inner, self.name, self.exhaustive = inner, inner.name, inner.exhaustive
        self.preemptions = 0
        self.decisions = 0

    def next_execution(self):
        return self.inner.next_execution()

    def choose(self, kind, n, label):
        v = self.inner.choose(kind, n, label)
        if kind == "step":
            self.decisions += 1
            current_enabled = label.n_run > 0 and label.options[0] is label.current
            if current_enabled and 0 < v < label.n_run:
                self.preemptions += 1
        return v

    def end_execution(self, kernel):
        self.inner.end_execution(kernel)


def test_pct_depth_one_never_preempts_an_enabled_actor():
    s = Switches(PCT(seed=4, depth=1))
    explore(workers(3, 4), s, budget=50)
    assert s.decisions > 0 and s.preemptions == 0
    deeper = Switches(PCT(seed=4, depth=3))
    explore(workers(3, 4), deeper, budget=50)
    assert deeper.preemptions > 0  # so the count above is not blind


def test_pct_depth_one_runs_each_actor_to_completion():
    rec = Record(PCT(seed=9, depth=1))
    explore(workers(3, 4), rec, budget=50)
    for r in rec.runs:
        switches = sum(1 for x, y in zip(r.state, r.state[1:]) if x != y)
        assert switches == 2, r.state
    assert len({tuple(r.state) for r in rec.runs}) > 1  # priorities differ between executions


def test_pct_rejects_depth_zero():
    with pytest.raises(ValueError):
        PCT(depth=0)


# ---- Metrics ------------------------------------------------------------------------------

def busy_choices() -> Scenario:
    """Step choices, crash options and data choices (ULIDs) in one scenario."""
    def setup(k):
        ids = []

        async def worker():
            for i in range(3):
                await point(f"step {i}")
                ids.append(ulid())
        for w in range(2):
            k.process(f"w{w}", lambda p: p.spawn("a", worker))
        return ids
    return Scenario("busy-choices", setup, faults=Faults(crashes=1))


def test_metrics_counts_every_decision_and_changes_no_answer():
    plain = Record(RandomWalk(3))
    explore(busy_choices(), plain, budget=40)
    rec = Record(RandomWalk(3))
    m = Metrics(rec)
    ex = explore(busy_choices(), m, budget=40)
    assert [r.tape for r in rec.runs] == [r.tape for r in plain.runs]
    total = sum(len(r.tape) for r in rec.runs)
    s = m.summary()
    assert s["decisions"] == total == ex.decisions and s["executions"] == 40
    assert sum(s["by_kind"].values()) == total and set(s["by_kind"]) == {"step", "ulid"}
    step_values = [v for r in rec.runs for kind, _, v in
                   make_trace(busy_choices(), r.tape, strategy={}).tape if kind == "step"]
    assert s["deviations"] == sum(1 for v in step_values if v) > 0


def test_metrics_does_not_change_what_an_exploration_finds():
    scn = registry.get("claim-publish")
    a = explore(scn, PCT(seed=5))
    b = explore(scn, Metrics(PCT(seed=5)))
    assert a.violation is not None
    assert (a.violation, a.found_at, a.tape) == (b.violation, b.found_at, b.tape)
    d1, d2 = explore(scn, DFS()), explore(scn, Metrics(DFS()))
    assert (d1.violation, d1.found_at, d1.tape) == (d2.violation, d2.found_at, d2.tape)


def test_end_execution_set_on_an_instance_is_still_called():
    # explore skips the no-op base end_execution; a wrapper that binds another strategy's
    # end_execution on the instance (as the benchmark's cycling wrapper does) must still be called
    class Wrapper(Strategy):
        def __init__(self, inner):
            self.inner = inner
            self.choose = inner.choose
            self.end_execution = inner.end_execution
            self.next_execution = inner.next_execution

    res = explore(workers(2, 2), Wrapper(DFS()), budget=100)
    assert res.executions == comb(4, 2)  # DFS advanced through the whole tree, then stopped


def bounded_count(n: int, c: int) -> int:
    """Schedules of 2 threads x n steps with at most c preemptions, in closed form: m alternating
    blocks have m - 2 preemptions (the switch into the last block is forced: the other thread is
    done); the starting thread has ceil(m/2) blocks, the other floor(m/2)."""
    total = 0
    for m in range(2, min(c + 2, 2 * n) + 1):
        total += 2 * comb(n - 1, (m + 1) // 2 - 1) * comb(n - 1, m // 2 - 1)
    return total


@pytest.mark.parametrize("n", [2, 3, 4, 5])
@pytest.mark.parametrize("c", [0, 1, 2, 3])
def test_preemption_bounded_dfs_counts_the_schedules_within_the_bound(n, c):
    res = explore(workers(2, n), DFS(preemption_bound=c))
    assert res.complete and res.executions == bounded_count(n, c)
    assert f"within {c} preemption(s)" in res.bounds()
    assert bounded_count(n, 2 * n) == comb(2 * n, n)  # the formula itself: no bound = every interleaving


@pytest.mark.parametrize("name,needed", [("lost-update", 1), ("claim-publish", 2), ("redelivery-dup", 1),
                                         ("crash-orphan", 0)])
def test_iterative_bounding_finds_each_bug_with_the_fewest_preemptions(name, needed):
    res = explore(registry.get(name), DFS(preemption_bound=3, iterative=True))
    assert res.violation.invariant == registry.get(name).expect
    assert res.strategy["preemption_bound"] == needed
    # and no schedule with fewer preemptions has it
    if needed:
        assert explore(registry.get(name), DFS(preemption_bound=needed - 1)).ok


def test_end_execution_rebound_between_executions_is_called_each_time():
    # the benchmark's cycling wrapper starts a fresh DFS when one completes and rebinds to it
    class Cycle(Strategy):
        def __init__(self):
            self.trees = 0
            self._fresh()

        def _fresh(self):
            self.inner = DFS()
            self.trees += 1
            self.choose = self.inner.choose
            self.end_execution = self.inner.end_execution

        def next_execution(self):
            if not self.inner.next_execution():
                self._fresh()
                self.inner.next_execution()
            return True

    c = Cycle()
    res = explore(workers(2, 2), c, budget=3 * comb(4, 2))
    assert c.trees == 3 and res.decisions == 3 * explore(workers(2, 2), DFS()).decisions


def test_dfs_fault_bound_limits_faults_not_schedules():
    import dataclasses
    s = registry.get("crash-orphan")   # the orphan needs a crash
    none = sim.explore(s, DFS(fault_bound=0), stop_on_violation=False)
    fault_free = sim.explore(dataclasses.replace(s, faults=Faults()), DFS(), stop_on_violation=False)
    assert none.complete and not none.violations and none.crashes == 0
    assert none.executions == fault_free.executions    # fault bound 0 = the same space without the budget
    one = sim.explore(s, DFS(fault_bound=1))
    assert one.violation is not None and one.violation.invariant == "I-ORPHAN"
    with pytest.raises(ValueError, match="fault bound"):
        DFS(fault_bound=-1)
