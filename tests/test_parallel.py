"""Parallel exploration (sim.units, sim.parallel): the result does not depend on the number of jobs,
and exploring a tree in handed-over subtrees is as exhaustive as plain DFS."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim import DFS, parallel, registry
from sim.cli import main
from sim.units import Spec
from tests.test_dpor import KEYS, outcomes, program_scenario, programs, record, small_programs

# small chunks and splits: many units and many hand-overs even in small scenarios
SMALL = {"chunk": 8, "split": 3}
HOLDING = "claim-publish-xcreate-3w"
VIOLATING = ("claim-publish", "crash-orphan", "redelivery-dup")


@pytest.fixture(scope="module")
def pools():
    made = {2: parallel.Pool(2), 3: parallel.Pool(3)}
    yield made
    for p in made.values():
        p.close()


def summary(res, scenario) -> dict:
    """Everything an exploration reports but its wall time, and the bytes of its first violation's trace."""
    st_ = res.stats()
    del st_["decisions/s"]
    out = {"stats": st_, "pruned": res.pruned, "complete": res.complete, "truncated": res.truncated,
           "found_at": res.found_at, "tape": res.tape, "strategy": res.strategy,
           "violations": {k: (f.execution, f.tape, f.violation, f.strategy) for k, f in res.violations.items()}}
    if res.violation is not None:
        out["verdict"] = res.violation
        out["trace"] = sim.make_trace(scenario, res.tape, strategy=res.strategy, execution=res.found_at).to_json()
    return out


def run(name, strategy, executor=None, budget=None, **opts):
    scenario = registry.get(name)
    spec = Spec(name, strategy, seed=3, stats=True, **{**SMALL, **opts})
    return summary(parallel.explore(scenario, spec, executor=executor, budget=budget), scenario)


@pytest.mark.parametrize("strategy,budget", [("portfolio", 120), ("random", 60), ("pct", 60), ("dfs", None),
                                             ("dpor", None), ("dfs", 25)])
@pytest.mark.parametrize("name", [HOLDING, *VIOLATING])
def test_the_result_is_the_same_for_one_two_and_three_jobs(pools, name, strategy, budget):
    one = run(name, strategy, budget=budget)
    assert run(name, strategy, pools[2], budget) == one
    assert run(name, strategy, pools[3], budget) == one
    if name != HOLDING:
        assert one["verdict"].invariant == registry.get(name).expect


def test_keep_going_collects_the_same_first_violations_for_any_jobs(pools):
    one = run("claim-publish", "dpor", stop_on_violation=False)
    assert one["violations"] and one["complete"]
    assert run("claim-publish", "dpor", pools[3], stop_on_violation=False) == one


def test_a_holding_scenario_is_exhaustive_under_the_portfolio_and_split_dpor():
    res = parallel.explore(registry.get(HOLDING), Spec(HOLDING, "portfolio", **SMALL), budget=100_000)
    assert res.ok and res.complete and res.executions < 100_000
    assert "exhaustive" in res.bounds()


def test_the_budget_counts_executions_in_canonical_order():
    scenario = registry.get(HOLDING)
    full = parallel.explore(scenario, Spec(HOLDING, "dfs", **SMALL))
    cut = parallel.explore(scenario, Spec(HOLDING, "dfs", **SMALL), budget=full.executions - 1)
    assert full.complete and not cut.complete and cut.executions == full.executions - 1


# ---- subtrees against plain search ---------------------------------------------------------------

def split_outcomes(scenario, strategy: str, split: int):
    finals, violations, tapes = set(), set(), []

    def seen(k):
        tapes.append(list(k.tape))
        record(k, finals, violations)

    spec = Spec("generated", strategy, stop_on_violation=False, split=split)
    res = parallel.explore(scenario, spec, executor=parallel.Inline(scenario, seen))
    assert res.complete and res.executions == len(tapes)
    return finals, violations, tapes


def plain_tapes(scenario):
    tapes = []
    eng = sim.engine.make("fast")
    strategy = DFS()

    def loop():
        while strategy.next_execution():
            k = eng.execute(scenario, strategy)
            strategy.end_execution(k)
            tapes.append(list(k.tape))

    eng.host(loop)
    return tapes


@settings(max_examples=70, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=programs(), watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4), split=st.sampled_from([1, 2, 5]))
def test_split_dfs_and_dpor_reach_what_plain_dfs_reaches(actors, watched, bad, split):
    scn = program_scenario(actors, tuple(watched), bad, ("L1", "L2"))
    dfs_finals, dfs_violations, _ = outcomes(scn, DFS())
    finals, violations, tapes = split_outcomes(scn, "dfs", split)
    assert (finals, violations) == (dfs_finals, dfs_violations)
    assert tapes == plain_tapes(scn)  # subtrees in key order are plain DFS order, nothing more or less
    finals, violations, _ = split_outcomes(scn, "dpor", split)
    assert (finals, violations) == (dfs_finals, dfs_violations)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=small_programs(), watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4))
def test_split_dpor_with_crashes_reaches_what_plain_dfs_reaches(actors, watched, bad):
    scn = program_scenario(actors, tuple(watched), bad, ("L1", "L2"), crashes=1)
    dfs_finals, dfs_violations, _ = outcomes(scn, DFS())
    finals, violations, _ = split_outcomes(scn, "dpor", 2)
    assert (finals, violations) == (dfs_finals, dfs_violations)


# ---- Dask -------------------------------------------------------------------------------------------

def test_a_two_worker_dask_local_cluster_gives_the_local_result():
    pytest.importorskip("distributed")
    local = run("claim-publish", "portfolio", budget=120)
    holding = run(HOLDING, "dpor")
    cluster = parallel.Dask("local", 2)
    try:
        assert run("claim-publish", "portfolio", cluster, budget=120) == local
        assert run(HOLDING, "dpor", cluster) == holding
    finally:
        cluster.close()


# ---- command line -----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["--jobs", "0"], "--jobs: must be a positive integer"),
    (["--jobs", "two"], "--jobs: expected a positive integer"),
    (["--cluster", "tcp://127.0.0.1:1"], "cannot use Dask cluster"),
])
def test_bad_jobs_or_cluster_is_one_line_and_exit_2(capsys, argv, message):
    pytest.importorskip("distributed")
    assert main(["explore", "--scenario", "lost-update", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def _without_rates(text: str) -> str:
    """The output without its decisions/s column (right-aligned under its header) and shrink times: wall time."""
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if "decisions/s" in line)
    b = lines[head].index("decisions/s")
    a = b + len("decisions/s")
    masked = [line[:b] + " " * (a - b) + line[a:] if i > head else line for i, line in enumerate(lines)]
    return re.sub(r"\d+\.\d+ s\b", "T s", "\n".join(masked))


def test_all_scenarios_print_the_same_with_one_and_two_jobs(tmp_path):
    def cli(jobs):
        # one workload on its seven revisions (B6 fails I-H4, P1 I-H2): several scenarios, so with two
        # jobs whole scenarios go to the pool
        out = subprocess.run([sys.executable, "-m", "sim", "explore", "--scenario", "hook-dup-retry",
                              "--seed", "1", "--jobs", str(jobs), "--out", str(tmp_path / str(jobs))],
                             capture_output=True, text=True, env={**os.environ, "CI": "true"})
        assert "Traceback" not in out.stderr, out.stderr
        return out.returncode, out.stdout.replace(str(tmp_path / str(jobs)), "OUT")

    one, two = cli(1), cli(2)
    assert one[0] == two[0] == 0 and "all 7 scenario(s) matched their expectation" in one[1]
    assert _without_rates(one[1]) == _without_rates(two[1])
    assert "found at execution" in one[1]
