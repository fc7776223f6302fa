"""Run lifecycle hazards of domain doc 4.8 on both worlds: D5 (a crash inside a terminal run transition
leaves a terminal entity and a log that never ends) and D9 (two deliveries both publish run_completed
in world-local; postgres's guarded UPDATE answers the second 409)."""
from __future__ import annotations

import pytest

from models import events as ev
from models.invariants import entities_are_folds, no_orphan_terminal_run
from models.local import scenarios as local
from models.postgres import scenarios as postgres
from scenarios._support import counterexample, events_by_type, holds_exhaustively, publishers

WORLDS = {"local": local, "postgres": postgres}
D5 = [("local", "L1"), ("postgres", "P3"), ("postgres", "P4")]


@pytest.mark.parametrize("world,revision", D5, ids=[f"{w}:{r}" for w, r in D5])
def test_d5_a_crash_inside_run_completed_leaves_a_terminal_entity_and_an_open_log(world, revision):
    s = WORLDS[world].scenario("run-complete-crash", revision)
    trace, env = counterexample(s, "I-ORPHAN")
    assert entities_are_folds(env) and no_orphan_terminal_run(env)   # both name the state
    assert any(st.kind == "crash" for st in trace.steps)
    (run,) = env.workflows
    assert env.view.run(run)["status"] == "completed"
    assert not any(e["eventType"] in ev.TERMINAL_RUN_EVENTS for e in env.view.log(run))
    if world == "postgres":   # the crashed worker's job, retried once its lock went stale, is told 410
        assert "410" in env.ledger.issued[(run, ev.RUN_STARTED, None)]
    else:                     # the process's queue died with it; the restart re-enqueues no terminal run
        assert any(n.startswith("lost runs@") for st in trace.steps for n in st.notes)


def test_d9_two_local_deliveries_both_publish_run_completed():
    trace, env = counterexample(local.scenario("run-complete-race", "L1"), "I-R2")
    (run,) = env.workflows
    assert len(events_by_type(env, run)[ev.RUN_COMPLETED]) == 2
    assert publishers(trace, ev.RUN_COMPLETED) == {"p1", "p2"}


@pytest.mark.parametrize("revision", ["P3", "P4"])
def test_d9_postgres_holds_exhaustively(revision, record_property):
    # the guarded UPDATE lets exactly one delivery complete the run; the other is told 409 (swallowed)
    res = holds_exhaustively(postgres.scenario("run-complete-race", revision), 100)
    record_property("schedules", res.executions)


def test_d8_local_twin_of_2331():
    # both executors pass the re-read: two step_started (I-S4 when both PUT attempt 1, I-S2 when one is
    # late); seed 1 finds I-S4 first, other seeds D9's two run_completed (I-R2)
    trace, env = counterexample(local.scenario("step-2331", "L1"), "I-S4")
    (run,) = env.workflows
    started = events_by_type(env, run)[ev.STEP_STARTED]
    assert len(started) == 2 and publishers(trace, ev.STEP_STARTED) == {"p1", "p2"}
    assert {e["eventData"]["attempt"] for e in started} == {1}   # both read attempt 0 before either PUT
