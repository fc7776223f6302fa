"""Hypothesis-driven schedules (sim.hypo): found and shrunk tapes replay exactly, runs are
deterministic across processes, the example database replays, bad input is refused."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import find, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from sim import Faults, Scenario, at_end, point, ulid
from sim import registry
from sim.explore import explore, run_tape
from sim.hypo import Drawn, encode, hunt, profile, schedules, shrink_with_hypothesis
from sim.strategy import DFS, RandomWalk, Replay


def _replays_to(scenario, tape) -> str | None:
    k = run_tape(scenario, Replay(tape))   # strict: any divergence raises
    return None if k.violation is None else k.violation.invariant


def test_hunt_finds_and_shrinks_claim_publish():
    s = registry.get("claim-publish")
    r = hunt(s, seed=1, max_examples=300)
    assert r.found and r.invariant == "I-ONE-CREATED"
    assert _replays_to(s, r.tape) == "I-ONE-CREATED"
    assert r.after == profile(s, r.tape)
    assert r.after.deviations <= r.before.deviations
    assert r.executions == r.found_at + r.shrink_examples and r.shrink_examples > 0


def test_shrinking_a_known_tape_keeps_only_the_needed_preemption():
    # the 2331 race needs the executor pre-empted between its UPDATE and its INSERT: the default
    # schedule holds, and one preemption is enough (tests/test_shrink.py shows ours reaching it);
    # in the marks encoding dropping a deviation is one of Hypothesis's node-deletion passes
    s = registry.get("step-2331@postgres:P2")
    res = explore(s, RandomWalk(3), budget=5_000)
    r = shrink_with_hypothesis(s, res.tape, seed=1)
    assert r.invariant == res.violation.invariant == "I-S2"
    assert r.before == profile(s, res.tape) and r.before.deviations > 1
    assert r.after.deviations == r.after.preemptions == 1 and r.after.faults == 0
    assert _replays_to(s, r.tape) == "I-S2"


_SCRIPT = textwrap.dedent("""
    from sim import registry
    from sim.hypo import hunt
    for name in ("claim-publish", "step-create-crash@postgres:B13"):
        r = hunt(registry.get(name), seed=4, max_examples=300)
        print(name, r.found_at, r.executions, r.tape)
""")


def test_same_seed_same_result_across_processes_and_hash_seeds():
    outs = []
    for hs in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hs)
        p = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout)
    assert outs[0] == outs[1]
    assert outs[0].count("[") == 2   # both scenarios found a failing tape


def test_the_example_database_replays_the_saved_failure_first(tmp_path):
    s = registry.get("step-2331@postgres:P2")
    first = hunt(s, seed=2, database=DirectoryBasedExampleDatabase(tmp_path))
    assert first.found and not first.replayed and first.found_at > 1
    again = hunt(s, seed=7, database=DirectoryBasedExampleDatabase(tmp_path))
    assert again.replayed and again.found_at == 1 and again.tape == first.tape
    assert again.executions <= 2   # the replay (and Hypothesis's report of it): no generation, no shrinking
    # keys are per scenario: another scenario in the same database starts from scratch
    other = hunt(registry.get("claim-publish"), seed=2, database=DirectoryBasedExampleDatabase(tmp_path))
    assert other.found and not other.replayed and other.invariant == "I-ONE-CREATED"


def test_a_holding_scenario_yields_no_failure():
    s = registry.get("claim-publish-xcreate")
    r = hunt(s, seed=1, max_examples=200)
    assert not r.found and r.tape is None and r.invariant is None and r.found_at is None
    # without faults every draw is integers(0, n - 1), one per choice: distinct draws are distinct
    # schedules, and Hypothesis stops when its tree of draws is exhausted, after each schedule once
    dfs = explore(s, DFS())
    assert dfs.complete and r.executions == dfs.executions < 200


def test_bad_input_is_refused_with_a_clear_error():
    s = registry.get("claim-publish")
    tape = hunt(s, seed=1, max_examples=300).tape
    with pytest.raises(ValueError, match="the tape fails I-ONE-CREATED, not deadlock"):
        shrink_with_hypothesis(s, tape, "deadlock")
    with pytest.raises(ValueError, match="does not fail"):
        shrink_with_hypothesis(registry.get("claim-publish-xcreate"), [])
    with pytest.raises(ValueError, match="has no invariant 'I-NOPE'"):
        hunt(s, invariant="I-NOPE")
    with pytest.raises(ValueError, match="unknown encoding"):
        schedules(s, encoding="bytes")


def _ulids() -> Scenario:
    """Two actors minting ULIDs in the same millisecond: wide (65536-way) choices between steps."""
    def setup(sim):
        minted = []

        async def minter():
            for _ in range(2):
                await point("mint")
                minted.append(ulid())

        for i in range(2):
            sim.process(f"p{i}", lambda p: p.spawn("minter", minter))
        return minted

    return Scenario("ulids", setup, invariants=(at_end("I-ANY", lambda m: True),), faults=Faults(crashes=1))


@pytest.mark.parametrize("encoding", ["choices", "marks"])
def test_encoded_draws_make_drawn_replay_the_tape(encoding):
    # what shrink_with_hypothesis writes into Hypothesis's database must make Drawn answer every
    # choice as recorded: step choices with a crash option, and wide ULID choices (digits)
    s = _ulids()
    for seed in range(5):
        k = run_tape(s, RandomWalk(seed, fault_rate=0.3))
        choices = list(zip(k.tape_kinds, k.tape_ns, k.tape))
        draws = iter(encode(choices, encoding))
        k2 = run_tape(s, Drawn(lambda strategy: next(draws), encoding))
        assert k2.tape == k.tape
        assert next(draws, None) is None   # every draw used


def test_schedules_is_a_hypothesis_strategy_of_executions():
    s = registry.get("claim-publish")
    ex = find(schedules(s), lambda e: e.violation is not None,
              settings=settings(database=None, max_examples=500, derandomize=True))
    assert ex.violation.invariant == "I-ONE-CREATED" and "I-ONE-CREATED" in ex.describe()
    assert _replays_to(s, ex.tape) == "I-ONE-CREATED"


def test_the_shrink_budget_stops_hypothesis_deterministically():
    # our stop is an exception Hypothesis does not catch; what was found by then still replays
    s = registry.get("hook-pairs@local:B3")
    a = hunt(s, seed=1, max_shrinks=20)
    b = hunt(s, seed=1, max_shrinks=20)
    assert a.tape == b.tape and a.executions == b.executions
    assert any("max_shrinks=20" in n for n in a.notes)
    assert a.shrink_examples <= 20 + 3   # + Hypothesis's replay of the find, the seed and the stopped one
    assert _replays_to(s, a.tape) == "I-H1"
    assert a.after.deviations < a.before.deviations
