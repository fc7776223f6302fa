"""world-postgres hook_created through its revisions (domain doc 2.3, 4.1): B1p (P1's token probe finds
the run's own row) and B2 (#2295's first head trusts the row after a crash) are found from their
revisions and replay to the catalogue's failure; P2 and later hold within stated bounds; D7 (a zombie
hook row after the run ended) is found in P3."""
from __future__ import annotations

import pytest

import sim
from models import events as ev
from models.postgres.scenarios import BUGS, EXPECT, scenario
from scenarios._support import counterexample, events_by_type, holds_exhaustively, holds_randomly, publishers
from sim.strategy import DPOR

HOLD_SCHEDULES = 300
HOOK_WORKLOADS = sorted({w for (w, _r) in EXPECT if w.startswith("hook-")})
BUGGY = sorted((w, r, e) for (w, r), e in EXPECT.items() if w in HOOK_WORKLOADS and e != "hold")


@pytest.mark.parametrize("workload,revision,expected", BUGGY, ids=[f"{BUGS[(w, r)]}-{r}-{w}" for w, r, _ in BUGGY])
def test_each_bug_is_found_from_its_revision(workload, revision, expected):
    counterexample(scenario(workload, revision), expected)


def _one_hook(env):
    ((run, hook),) = env.tokens
    return run, hook


def test_b1p_replays_as_a_self_conflict():
    # the upstream convergence test's failure: hook_created and hook_conflict for one (run, hook)
    trace, env = counterexample(scenario("hook-converge", "P1"), "I-H2")
    run, hook = _one_hook(env)
    evs = events_by_type(env, run)
    created, conflict = evs[ev.HOOK_CREATED][0], evs[ev.HOOK_CONFLICT][0]
    assert created["correlationId"] == conflict["correlationId"] == hook
    assert conflict["eventData"]["conflictingRunId"] == run   # the run conflicts with itself
    assert publishers(trace, "hook_created") | publishers(trace, "hook_conflict") == {"p1", "p2"}


def test_b2_replays_as_a_row_without_its_event_after_a_crash():
    trace, env = counterexample(scenario("hook-event-first", "B2"), "I-ORPHAN")
    run, hook = _one_hook(env)
    assert env.view.hook(hook) is not None                              # the row ...
    assert ev.HOOK_CREATED not in events_by_type(env, run)             # ... without its event
    assert env.ledger.issued[(run, ev.HOOK_CREATED, hook)][-1] == "409"   # the retry was told "exists"
    assert any(s.kind == "crash" for s in trace.steps)


def test_d7_zombie_hook_row_after_the_run_completed():
    # found by this model (4.8 D7 in postgres): a duplicate creation whose token probe ran before the
    # winner's INSERT re-inserts the row after the run completed and deleted its hooks; its event
    # INSERT fails 23505 -> 409 and the row stays, holding the token, for a run that has ended
    trace, env = counterexample(scenario("hook-1665-complete", "P3"), "I-H4", budget=5_000)
    (run,) = env.workflows
    types = [e["eventType"] for e in env.view.log(run)]
    assert ev.RUN_COMPLETED in types
    zombies = [h for h in env.view.hooks() if h["runId"] == run]
    assert zombies and any("23505" in n for s in trace.steps for n in s.notes)


def test_the_catalogue_run_with_p1_adds_conflicts_p2_does_not():
    # upstream: "25 iterations x 2 concurrent identical creations must yield exactly 25 hook_created
    # and 0 hook_conflict"; one iteration, all its schedules, on both revisions
    p1 = sim.explore(scenario("hook-converge", "P1", expect="I-H2"), DPOR())
    p2 = sim.explore(scenario("hook-converge", "P2"), DPOR())
    assert p1.violation is not None and p1.violation.invariant == "I-H2"
    assert p2.violation is None and p2.complete


HOLDING = sorted(w for (w, r), e in EXPECT.items() if r == "P3" and e == "hold" and w in HOOK_WORKLOADS)


@pytest.mark.parametrize("workload", HOLDING)
def test_p3_holds_under_random_schedules(workload, record_property):
    res = holds_randomly(scenario(workload, "P3"), HOLD_SCHEDULES)
    record_property("schedules", res.executions)


# (workload, revision, at least this many schedules): exhaustive with DPOR within the workload's faults
EXHAUSTIVE = [
    ("hook-converge", "P3", 50),
    ("hook-dup-retry", "P3", 2),
    ("hook-event-first", "P2", 5),
    ("hook-event-first", "P3", 5),
]


@pytest.mark.parametrize("workload,revision,at_least", EXHAUSTIVE, ids=[f"{w}-{r}" for w, r, _ in EXHAUSTIVE])
def test_fixed_revisions_hold_exhaustively(workload, revision, at_least, record_property):
    res = holds_exhaustively(scenario(workload, revision), at_least)
    record_property("schedules", res.executions)
