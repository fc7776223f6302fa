"""The strategy protocol: declared once, forwarded by every wrapper, and no false completeness.

A wrapper that dropped a hook once made `Metrics(DPOR())` run one execution and
report the search complete. Here every strategy is wrapped in every wrapper and
must give the same tapes, the same verdict and the same completeness claim as
unwrapped; and any claim of completeness is checked against plain DFS on
generated programs: the same final states and the same violations.
"""
from __future__ import annotations

import inspect
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim.hypo
from sim import DFS, PCT, Metrics, RandomWalk, Replay, Strategy, Wrapper, explore, registry
from sim_bench.bench import _Cycle
from sim.engine import make as make_engine
from sim.stats import Observed
from sim.strategy import DPOR, Portfolio
from sim.strategy.base import ATTRIBUTES, PROTOCOL
from tests.outside_model import Record
from tests.test_dpor import KEYS, outcomes, program_scenario, programs, queue_programs, queue_scenario


# ---- declared once ---------------------------------------------------------------------------

def _public(cls) -> set:
    return {n for c in cls.__mro__ if c is not object for n in vars(c) if not n.startswith("_")}


def test_every_name_of_the_protocol_is_declared_in_one_of_the_two_lists():
    assert _public(Strategy) == set(PROTOCOL) | set(ATTRIBUTES)


def test_the_wrapper_forwards_every_name_of_the_protocol_itself():
    # defined on Wrapper itself, not inherited from Strategy's defaults (the old bug: `tracks`
    # and the step hooks fell through to Strategy's no-ops)
    assert set(PROTOCOL) | set(ATTRIBUTES) <= set(vars(Wrapper))


class _Probe(Strategy):
    """Answers 0 and has a distinct value for every attribute, to see what a wrapper reports."""
    name = "probe"
    exhaustive = True
    tracks = True
    truncated = True

    def __init__(self):
        self.points = set()
        self.calls = []

    def next_execution(self):
        self.calls.append("next_execution")
        return True

    def choose(self, kind, n, label):
        self.calls.append("choose")
        return 0

    def before_step(self, view, option, tape_pos):
        self.calls.append("before_step")

    def after_step(self, view):
        self.calls.append("after_step")

    def end_execution(self, view):
        self.calls.append("end_execution")

    def describe(self):
        return {"name": "probe", "x": 1}

    @property
    def complete(self):
        return "sentinel-complete"


def test_a_bare_wrapper_reports_exactly_what_it_wraps_and_forwards_every_call():
    inner = _Probe()
    w = Metrics(Wrapper(inner))
    for name in ATTRIBUTES:
        assert getattr(w, name) == getattr(inner, name), name
    assert w.points is inner.points
    w.next_execution()
    w.choose("data", 2, "a data choice")
    w.before_step(None, 0, -1)
    w.after_step(None)
    w.end_execution(None)
    assert w.describe() == {"name": "probe", "x": 1}
    assert inner.calls == ["next_execution", "choose", "before_step", "after_step", "end_execution"]


def test_the_protocol_methods_take_a_view_not_the_kernel():
    for name in ("before_step", "after_step", "end_execution"):
        assert list(inspect.signature(getattr(Strategy, name)).parameters)[1] == "view"


# ---- every strategy in every wrapper --------------------------------------------------------

def _drawn(seed: int):
    """sim.hypo's Drawn with draws from a seeded stream (the same answers wrapped or not)."""
    rng = random.Random(seed)

    def draw(strategy):
        hi = next(h for h, s in sim.hypo._ints.items() if s is strategy)
        return rng.randint(0, hi)

    return sim.hypo.Drawn(draw)


STRATEGIES = {
    "random": lambda: RandomWalk(3),
    "pct": lambda: PCT(3, depth=2),
    "dfs": lambda: DFS(),
    "dfs-bounded": lambda: DFS(preemption_bound=1, iterative=True),
    "dfs-faults": lambda: DFS(fault_bound=0),
    "dfs-cached": lambda: DFS(cache_states=True),
    "dpor": lambda: DPOR(),
    "portfolio": lambda: Portfolio(3),
    "replay": lambda: Replay([1, 0, 1]),
    "hypothesis": lambda: _drawn(3),
}
WRAPPERS = {
    "Wrapper": Wrapper,
    "Metrics": Metrics,
    "Observed": Observed,
    "Record": Record,
    "Metrics(Observed)": lambda s: Metrics(Observed(s)),
    "Wrapper(Metrics(Wrapper))": lambda s: Wrapper(Metrics(Wrapper(s))),
}
TOYS = ("lost-update", "redelivery-dup", "claim-publish", "crash-orphan", "claim-publish-xcreate")


def _run(scenario, make):
    """Every execution's tape and verdict (collected by a plain loop, so that no wrapper of the
    test's own is around the strategy), and the claims `explore` makes with a fresh instance."""
    eng = make_engine("fast")
    strategy, runs = make(), []

    def loop():
        while len(runs) < 400 and strategy.next_execution():
            k = eng.execute(scenario, strategy)
            strategy.end_execution(k.view())
            runs.append((tuple(k.tape), k.violation, k.pruned))

    eng.host(loop)
    res = explore(scenario, make(), budget=400, stop_on_violation=False)
    return runs, (res.executions, res.complete, res.truncated, res.found_at,
                  res.violation, sorted(res.violations), res.strategy, res.bounds())


@pytest.mark.parametrize("toy", TOYS)
@pytest.mark.parametrize("wrap", list(WRAPPERS))
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_wrapping_changes_no_tape_no_verdict_and_no_claim(strategy, wrap, toy):
    scenario = registry.get(toy)
    make = STRATEGIES[strategy]
    if strategy == "replay":  # a tape of this scenario: the first execution DFS makes
        first = Record(DFS())
        explore(scenario, first, budget=1)
        make = lambda: Replay(first.runs[0].tape)  # noqa: E731
    plain = _run(scenario, make)
    wrapped = _run(scenario, lambda: WRAPPERS[wrap](make()))
    assert wrapped == plain


def test_the_regression_metrics_of_dpor_explores_and_finds_what_dpor_does():
    # the reported false proof: Metrics(DPOR()) ran one execution, claimed completeness, found nothing
    for toy in ("lost-update", "redelivery-dup"):
        plain = explore(registry.get(toy), DPOR())
        counted = Metrics(DPOR())
        wrapped = explore(registry.get(toy), counted)
        assert plain.violation is not None
        assert (wrapped.violation, wrapped.found_at, wrapped.tape) == (plain.violation, plain.found_at, plain.tape)
        assert counted.executions == plain.executions > 1
    whole = explore(registry.get("claim-publish-xcreate"), Metrics(Portfolio(1)))
    alone = explore(registry.get("claim-publish-xcreate"), Portfolio(1))
    assert whole.complete and (whole.executions, whole.complete) == (alone.executions, alone.complete)
    assert alone.executions > 5


def test_a_restarted_strategy_never_claims_completeness():
    res = explore(registry.get("claim-publish-xcreate"), _Cycle(DFS), budget=50)
    assert res.executions == 50 and not res.complete


# ---- a claim of completeness is backed by plain DFS ------------------------------------------

CLAIMANTS = {
    "dpor": DPOR,
    "Metrics(dpor)": lambda: Metrics(DPOR()),
    "Observed(dpor)": lambda: Observed(DPOR()),
    "Record(Wrapper(dpor))": lambda: Record(Wrapper(DPOR())),
    "portfolio": lambda: Portfolio(5),
    "Metrics(portfolio)": lambda: Metrics(Portfolio(5)),
    "dfs-fault-bound-at-budget": None,  # DFS(fault_bound=the scenario's whole budget)
    "dfs-cached": lambda: DFS(cache_states=True),
    "Observed(dfs-cached)": lambda: Observed(DFS(cache_states=True)),
}


def _claimed(scenario, claimant):
    """Final states and violations seen, and whether the strategy claims to have covered everything."""
    make = CLAIMANTS[claimant]
    f = scenario.faults
    strategy = DFS(fault_bound=f.crashes + f.redeliveries) if make is None else make()
    rec = Record(strategy)
    res = explore(scenario, rec, budget=60_000, stop_on_violation=False)
    finals = {(tuple(sorted(r.state["state"].items())), tuple(sorted(r.state["acc"].items())))
              for r in rec.runs if r.violation is None and not r.pruned}
    violations = {r.violation.invariant for r in rec.runs if r.violation is not None}
    return res.complete, finals, violations


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=programs(), watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4), claimant=st.sampled_from(sorted(CLAIMANTS)))
def test_any_claim_of_completeness_reaches_what_plain_dfs_reaches(actors, watched, bad, claimant):
    scn = program_scenario(actors, tuple(watched), bad, ("L1", "L2"))
    dfs_finals, dfs_violations, _ = outcomes(scn, DFS())
    complete, finals, violations = _claimed(scn, claimant)
    if complete:
        assert (finals, violations) == (dfs_finals, dfs_violations)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(program=queue_programs(), watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4), claimant=st.sampled_from(sorted(CLAIMANTS)))
def test_claims_hold_with_redeliveries_and_crashes(program, watched, bad, claimant):
    msgs, handler_ops, other_ops, crashes = program
    scn = queue_scenario(msgs, handler_ops, other_ops, tuple(watched), bad, crashes)
    dfs_finals, dfs_violations, _ = outcomes(scn, DFS())
    complete, finals, violations = _claimed(scn, claimant)
    if complete:
        assert (finals, violations) == (dfs_finals, dfs_violations)


@pytest.mark.parametrize("strategy", ["random", "pct", "replay", "hypothesis"])
def test_a_strategy_that_runs_out_of_executions_does_not_claim_completeness(strategy):
    # Replay and Drawn run one execution and then have nothing left: that is not a proof
    scenario = registry.get("lost-update")
    make = STRATEGIES[strategy]
    if strategy == "replay":
        first = Record(DFS())
        explore(scenario, first, budget=1)
        make = lambda: Replay(first.runs[0].tape)  # noqa: E731
    res = explore(scenario, make(), budget=5)
    assert not res.complete and res.bounds().startswith(("sampled", "stopped"))


def test_a_fault_bound_below_the_budget_is_stated_in_the_bounds():
    scenario = registry.get("redelivery-dup")
    assert scenario.faults.crashes + scenario.faults.redeliveries > 0
    res = explore(scenario, DFS(fault_bound=0))
    assert res.complete and "at most 0 fault(s) in all of" in res.bounds()
