"""The engine's scenario suite: each toy race is found, each fix holds, and what is found is the race.

Budgets are stated per strategy. They come from the per-execution chance of
hitting the bug (derived in the comments, and consistent with the mean time to
the first hit over 300 seeds), so a miss within the budget has probability
below 1e-9 for any --sim-seed: a failure here is a real regression, not bad luck.
"""
from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys

import pytest

import sim
from scenarios import engine_toys as toys
from sim import strategy as strategies

# Budgets for random and PCT (both inject a fault at an offered fault point with rate 0.05).
BUDGET = {
    # 1/2 per execution: after the first read, the other worker's read comes next with chance 1/2,
    # and then both write the same value. (1/2)^60 < 1e-18.
    "lost-update": 60,
    # ~0.19 (random) / ~0.07 (PCT) per execution; 0.93^500 < 1e-15.
    "claim-publish": 500,
    # 0.95 * 0.95 * 0.05 = 0.045 per execution: no crash at the first two points where one is
    # offered (before `read side record`, before `write side record`), then a crash at the third
    # (before `append done`). 0.955^600 < 1e-11.
    "crash-orphan": 600,
    # ~0.1 per execution (random) / ~0.125 (PCT); 0.9^300 < 1e-13.
    "redelivery-dup": 300,
}
HOLD_BUDGET = 500  # sampling a fixed variant: any violation at all is a bug

BUGGY = [toys.lost_update(), toys.claim_then_publish(), toys.crash_orphan(), toys.redelivery_duplicate()]
FIXED = [toys.lost_update(locked=True), toys.claim_then_publish(exclusive=True),
         toys.claim_then_publish(3, exclusive=True), toys.crash_orphan(repaired=True),
         toys.redelivery_duplicate(dedup=True)]


def ids(scenarios):
    return [s.name for s in scenarios]


def steps_labelled(trace, label):
    return [s for s in trace.steps if s.label == label]


def step_with_note(trace, note):
    hits = [s for s in trace.steps if note in s.notes]
    assert hits, f"no step has the note {note!r}"
    return hits[0]


# ---- every scenario: found or holding, under the command-line strategy and under random and PCT

def test_every_toy_is_in_this_suite():
    names = {s.name for s in toys.SCENARIOS}
    assert names == {s.name for s in BUGGY + FIXED}
    assert all(s.expect != "hold" for s in BUGGY) and all(s.expect == "hold" for s in FIXED)


@pytest.mark.parametrize("scenario", BUGGY, ids=ids(BUGGY))
def test_bug_found_by_default_strategy(sim_explore, scenario):
    # the strategy and seed are --sim-strategy / --sim-seed (random, 1 by default)
    res = sim_explore(scenario, budget=BUDGET[scenario.name]).assert_violates(scenario.expect)
    assert 1 <= res.found_at <= BUDGET[scenario.name]
    assert res.trace.verdict.invariant == scenario.expect


@pytest.mark.parametrize("scenario", FIXED, ids=ids(FIXED))
def test_fix_holds_under_default_strategy(sim_explore, scenario):
    # --sim-budget makes this a soak test (library default: 1000 executions, or all of DFS)
    sim_explore(scenario).assert_holds()


@pytest.mark.parametrize("strategy", ["random", "pct"])
@pytest.mark.parametrize("scenario", BUGGY, ids=ids(BUGGY))
def test_bug_found_by_sampling(sim_explore, scenario, strategy):
    budget = BUDGET[scenario.name]
    res = sim_explore(scenario, strategy=strategy, budget=budget).assert_violates(scenario.expect)
    assert res.found_at == res.executions <= budget
    # the counterexample replays to the same violation at the same step
    again = sim.replay(res.trace, scenario=scenario)
    assert again.same and again.replayed.verdict.step == res.violation.step


@pytest.mark.parametrize("strategy", ["random", "pct"])
@pytest.mark.parametrize("scenario", FIXED, ids=ids(FIXED))
def test_fix_holds_under_sampling(sim_explore, scenario, strategy):
    res = sim_explore(scenario, strategy=strategy, budget=HOLD_BUDGET).assert_holds()
    assert res.executions == HOLD_BUDGET and not res.complete
    assert res.bounds().startswith("sampled")


@pytest.mark.parametrize("strategy", ["random", "pct"])
@pytest.mark.parametrize("scenario", BUGGY, ids=ids(BUGGY))
def test_same_seed_same_result(sim_explore, scenario, strategy):
    runs = [sim_explore(scenario, strategy=strategy, seed=7, budget=BUDGET[scenario.name]) for _ in range(2)]
    a, b = runs
    assert a.violation is not None
    assert (a.found_at, a.tape, a.violation) == (b.found_at, b.tape, b.violation)
    assert a.trace.to_json() == b.trace.to_json()


def test_traces_identical_across_processes_and_hash_seeds(sim_explore):
    res = sim_explore(toys.claim_then_publish(), strategy="random", seed=3, budget=BUDGET["claim-publish"])
    here = res.trace.to_json()
    code = ("import sim, sys; from sim import strategy as S; from scenarios import engine_toys as t\n"
            f"sc = t.claim_then_publish(); st = S.make('random', seed=3); e = {res.engine!r}\n"
            f"r = sim.explore(sc, st, engine=e, budget={BUDGET['claim-publish']})\n"
            "sys.stdout.write(sim.make_trace(sc, r.tape, strategy=st.describe(), engine=e,"
            " execution=r.found_at).to_json())")
    for hashseed in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hashseed)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout == here


def test_pct_depth_reaches_the_strategy(sim_explore):
    # The racy claim needs two preemptions (after one worker's check, and after the other's scan
    # before its publish), so it is a depth-3 bug. PCT with depth 2 has one priority change: the
    # preempted worker resumes only after the other finished, and then sees the claim or the event.
    scenario = toys.claim_then_publish()
    shallow = sim_explore(scenario, strategy="pct", depth=2, budget=BUDGET["claim-publish"]).assert_holds()
    assert shallow.strategy["depth"] == 2 and shallow.executions == BUDGET["claim-publish"]
    deep = sim_explore(scenario, strategy="pct", depth=3, budget=BUDGET["claim-publish"])
    deep.assert_violates("I-ONE-CREATED")
    assert deep.trace.strategy["depth"] == 3


# ---- lost update --------------------------------------------------------------------------

def test_lost_update_trace_shows_both_reads_before_a_write(sim_explore):
    res = sim_explore(toys.lost_update(), budget=BUDGET["lost-update"]).assert_violates("I-COUNTER")
    tr = res.trace
    reads = steps_labelled(tr, "read x")
    writes = steps_labelled(tr, "write x")
    assert sorted(s.process for s in reads) == sorted(s.process for s in writes) == ["p1", "p2"]
    assert max(s.i for s in reads) < min(s.i for s in writes)
    assert [[n for n in s.notes if not n.startswith("preempts ")] for s in writes] == [["x = 1"], ["x = 1"]]
    assert "x = 1 after 2 increments" in tr.verdict.message


def test_locked_lost_update_holds_exhaustively(sim_explore):
    res = sim_explore(toys.lost_update(locked=True), strategy="dfs", budget=None).assert_holds()
    assert res.complete and res.bounds().startswith("exhaustive")
    # The only choice is which worker takes the lock first: the other is disabled (blocked on the
    # lock) until the holder's release step, which is also the holder's last step. So 2! = 2.
    assert res.executions == 2


@pytest.mark.parametrize("n", range(2, 8))
def test_dfs_enumerates_every_interleaving(sim_explore, n):
    # Unlocked, each of the 2 workers is a chain of n points and nothing blocks, so every
    # interleaving of two chains of n steps is one schedule: C(2n, n). Without the invariant
    # DFS does not stop at the first violation.
    scenario = dataclasses.replace(toys.lost_update(points=n), invariants=())
    res = sim_explore(scenario, strategy="dfs", budget=None).assert_holds()
    assert res.complete
    assert res.executions == math.comb(2 * n, n)
    assert res.steps == res.executions * 2 * n


# ---- claim then publish -------------------------------------------------------------------

def test_racy_claim_publishes_twice(sim_explore):
    res = sim_explore(toys.claim_then_publish(),
                      budget=BUDGET["claim-publish"]).assert_violates("I-ONE-CREATED")
    tr = res.trace
    published = steps_labelled(tr, "publish created")
    assert len(published) == 2
    assert {s.process for s in published} == {"p1", "p2"}
    assert sorted(n for s in published for n in s.notes if n.startswith("created")) == ["created by w1", "created by w2"]
    # both passed the check before either set the claim
    checks, sets = steps_labelled(tr, "check claim"), steps_labelled(tr, "set claim")
    assert len(checks) == len(sets) == 2 and max(s.i for s in checks) < min(s.i for s in sets)
    # the violation is the second publish, caught by the `always` check right after it
    assert tr.verdict.step == published[-1].i == tr.steps[-1].i
    assert tr.verdict.message.startswith("2 created events")


def test_exclusive_create_holds_exhaustively(sim_explore):
    res = sim_explore(toys.claim_then_publish(exclusive=True), strategy="dfs", budget=None).assert_holds()
    assert res.complete
    # Either worker's exclusive create goes first (2); then the winner's 2 remaining steps (scan,
    # publish) interleave with the loser's single failing create: C(3, 1) = 3. 2 * 3 = 6.
    assert res.executions == 6


# ---- crash orphan -------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["random", "dfs"])
def test_crash_orphan_trace(sim_explore, strategy):
    res = sim_explore(toys.crash_orphan(), strategy=strategy,
                      budget=BUDGET["crash-orphan"]).assert_violates("I-ORPHAN")
    if strategy == "dfs":
        # the tree has 5 leaves (see the repaired variant), and one of them is the orphan
        assert res.found_at <= 5
    tr = res.trace
    kinds = [s.kind for s in tr.steps]
    assert kinds.count("crash") == 1
    wrote = steps_labelled(tr, "write side record job1")[0]
    crash = tr.steps[kinds.index("crash")]
    assert crash.process == "worker" and crash.i == wrote.i + 1
    assert "restart worker as worker#1" in crash.notes
    assert steps_labelled(tr, "append done job1") == []  # the event was never written
    # the message comes back to the restarted process, which trusts the side record
    redelivered = step_with_note(tr, "deliver jobs#1 (delivery 2)")
    assert redelivered.i > crash.i and redelivered.actor == "worker#1/consumer"
    trusted = step_with_note(tr, "side record job1 exists: treat as already done")
    assert trusted.i > redelivered.i and trusted.actor == "worker#1/consumer"
    assert tr.verdict.message == "at quiescence: side record(s) without their event: job1"


def test_repaired_crash_orphan_holds_exhaustively(sim_explore):
    res = sim_explore(toys.crash_orphan(repaired=True), strategy="dfs", budget=None).assert_holds()
    assert res.complete and res.bounds() == "exhaustive within repaired=true, 1 crash(es), 0 redelivery(ies), 2000 steps"
    # One consumer, one message, one crash allowed. A crash is offered only while the consumer is
    # busy (waiting for work is idle): before each of its 4 steps after receiving (read side record,
    # write side record, append done, ack). After a crash the budget is spent and the retry runs
    # alone. So 4 crashing schedules + 1 without a crash.
    assert res.executions == 5
    assert res.crashes == 4


# ---- redelivery while the first consumer still runs ---------------------------------------

def test_redelivery_duplicate_trace(sim_explore):
    res = sim_explore(toys.redelivery_duplicate(), budget=BUDGET["redelivery-dup"]).assert_violates("I-ONCE")
    tr = res.trace
    first = step_with_note(tr, "deliver charges#1 (delivery 1)")
    redeliver = [s for s in tr.steps if s.kind == "redeliver"]
    assert len(redeliver) == 1
    r = redeliver[0]
    # the redelivery names the consumer it was taken from, which had not acked yet
    assert r.actor == first.actor and r.i > first.i
    assert not [s for s in tr.steps if s.actor == first.actor and s.label == "ack charges#1" and s.i < r.i]
    second = step_with_note(tr, "deliver charges#1 (delivery 2)")
    assert second.i > r.i and second.actor != first.actor
    applied = steps_labelled(tr, "apply charge-42")
    assert [s.actor for s in applied] in ([first.actor, second.actor], [second.actor, first.actor])
    assert tr.verdict.step == applied[-1].i
    assert tr.verdict.message == "processed more than once: charge-42"


def test_dedup_holds_exhaustively(sim_explore):
    res = sim_explore(toys.redelivery_duplicate(dedup=True), strategy="dfs", budget=None).assert_holds()
    assert res.complete
    assert res.redeliveries > 0  # the fault was injected, not just allowed
    # the unprotected variant under the same search does break
    sim_explore(toys.redelivery_duplicate(), strategy="dfs", budget=None).assert_violates("I-ONCE")


# ---- engines ------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", BUGGY, ids=ids(BUGGY))
def test_trio_engine_gives_the_same_trace(sim_explore, scenario):
    pytest.importorskip("sim.engine.tasks", reason="the trio engine is not there yet")
    fast = sim_explore(scenario, strategy="random", engine="fast", budget=BUDGET[scenario.name])
    trio = sim_explore(scenario, strategy="random", engine="trio", budget=BUDGET[scenario.name])
    assert (fast.found_at, fast.tape) == (trio.found_at, trio.tape)
    assert fast.trace.steps == trio.trace.steps and fast.trace.verdict == trio.trace.verdict


def test_strategy_names_match_the_plugin():
    from sim import engine, pytest_plugin
    assert pytest_plugin.STRATEGIES == strategies.NAMES
    assert pytest_plugin.ENGINES == engine.NAMES
