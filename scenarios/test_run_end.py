"""How runs end and what the runtime swallows (models.workloads_runs): #1418's eight scenarios before and
after the pull request (B26), run cancellation racing resumeHook (B20) and a step executor, resumeHook's
409 read as "hook gone" (B31), and a due wait of an ended run (B29). Each bug is found from its revision
by the default strategy and replays to the failure the catalogue describes; the fixed revisions hold."""
from __future__ import annotations

import pytest

from models import events as ev
from models.invariants import no_escape, terminal_is_final, waits_completed
from models.local import scenarios as local
from models.postgres import scenarios as postgres
from models.runtime import RUNTIMES, Ledger
from models.workloads_runs import RUN_WORKLOADS
from scenarios._support import counterexample, events_by_type, holds_exhaustively, holds_randomly

BUGGY = sorted([(postgres, w, r, e) for (w, r), e in postgres.EXPECT.items() if w in RUN_WORKLOADS and e != "hold"] +
               [(local, w, r, e) for (w, r), e in local.EXPECT.items() if w in RUN_WORKLOADS and e != "hold"],
               key=lambda x: (x[0].WORLD, x[1], x[2]))
HOLDING = sorted([(postgres, w, r) for (w, r), e in postgres.EXPECT.items() if w in RUN_WORKLOADS and e == "hold"] +
                 [(local, w, r) for (w, r), e in local.EXPECT.items() if w in RUN_WORKLOADS and e == "hold"],
                 key=lambda x: (x[0].WORLD, x[1], x[2]))
SAMPLED = {"swallow-7"}   # DPOR needs 2,088 schedules: sampled here
HOLD_SCHEDULES = 300


@pytest.mark.parametrize("world,workload,revision,expected", BUGGY,
                         ids=[f"{w}@{m.WORLD}:{r}" for m, w, r, _ in BUGGY])
def test_each_bug_is_found_from_its_revision(world, workload, revision, expected):
    counterexample(world.scenario(workload, revision), expected)


@pytest.mark.parametrize("world,workload,revision", HOLDING, ids=[f"{w}@{m.WORLD}:{r}" for m, w, r in HOLDING])
def test_each_fixed_revision_holds(world, workload, revision):
    s = world.scenario(workload, revision)
    if workload in SAMPLED:
        holds_randomly(s, HOLD_SCHEDULES)
    else:
        holds_exhaustively(s, at_least=2)


# ---- B26 (#1418) -----------------------------------------------------------------------------------

def test_the_runtime_before_1418_lets_409_and_410_through_and_nothing_else_changes():
    old, new = RUNTIMES["R-pre1418"], RUNTIMES["R-June"]
    assert new.swallows(ev.RUN_STARTED, (409, 410)) == (409, 410)
    assert old.swallows(ev.RUN_STARTED, (409, 410)) == ()
    assert old.swallows(ev.HOOK_DISPOSED, (409, 410, 404)) == (404,)


@pytest.mark.parametrize("workload", sorted(w for w in RUN_WORKLOADS if w.endswith("-pre1418")))
def test_before_1418_a_delivery_ends_in_an_escaped_409_or_410_which_the_queue_redelivers(workload):
    trace, env = counterexample(postgres.scenario(workload, "P4"), "I-NO-ESCAPE")
    (msg, status, _error), *_ = env.ledger.escaped
    assert status in ("409", "410")
    # the queue's consumer failed the delivery (it is not acked, so it is delivered again)
    assert any("handler failed" in n for s in trace.steps for n in s.notes)


def test_no_escape_names_the_delivery_and_holds_without_one():
    class Env:
        ledger = Ledger()
    env = Env()
    assert no_escape(env) is None
    env.ledger.escaped.append(({"runId": "wrun_A"}, "410", "run wrun_A is completed"))
    assert "escaped 410" in no_escape(env)


def test_scenario_1_after_1418_revives_the_run_instead_of_meeting_410():
    _, env = counterexample(postgres.scenario("swallow-1", "P4"), "I-R2")
    (run,) = env.workflows
    types = [e["eventType"] for e in env.view.log(run)]
    assert types.index(ev.RUN_COMPLETED) < len(types) - 1 - types[::-1].index(ev.RUN_STARTED)


def test_scenario_5_after_1418_leaves_a_wait_row_of_an_ended_run():
    _, env = counterexample(postgres.scenario("swallow-5", "P4"), "I-R3")
    (run,) = env.workflows
    assert ev.RUN_COMPLETED in events_by_type(env, run)
    assert [w["status"] for w in env.view.waits()] == ["waiting"]
    # the loser's duplicate wait_created was told 409 (swallowed) after re-inserting the row
    assert "409" in [r for (_, t, _), rs in env.ledger.issued.items() if t == ev.WAIT_CREATED for r in rs]


# ---- B20 and cancellation ----------------------------------------------------------------------------

def test_b20_hook_received_lands_after_run_cancelled():
    _, env = counterexample(postgres.scenario("cancel-resume", "P2"), "I-R2")
    (run,) = env.workflows
    types = [e["eventType"] for e in env.view.log(run)]
    assert types.index(ev.RUN_CANCELLED) < types.index(ev.HOOK_RECEIVED)


def test_a_cancelled_run_gets_a_late_step_started():
    _, env = counterexample(postgres.scenario("cancel-step", "P4"), "I-R2")
    (run,) = env.workflows
    types = [e["eventType"] for e in env.view.log(run)]
    assert types.index(ev.RUN_CANCELLED) < types.index(ev.STEP_STARTED)


# ---- B31 (#3539) -------------------------------------------------------------------------------------

def test_b31_the_payload_is_durable_but_no_wake_is_published():
    trace, env = counterexample(postgres.scenario("resume-retry", "P4"), "I-LIVE")
    (run,) = env.workflows
    assert ev.HOOK_RECEIVED in events_by_type(env, run)            # the first attempt committed
    assert env.ledger.issued[("-", "resumeHook", "resume")] == ["gone"]   # the caller was told "hook gone"
    assert not any(s.label.startswith("send") and "runs" in s.label for s in trace.steps if s.actor.endswith("resumeHook"))


def test_b31_fixed_publishes_the_wake_and_the_run_completes():
    res = holds_exhaustively(postgres.scenario("resume-retry-3539", "P4"), at_least=2)
    assert res.complete


# ---- B29 (#3749) -------------------------------------------------------------------------------------

def test_b29_the_wait_of_an_ended_run_stays_open():
    _, env = counterexample(local.scenario("wait-after-end", "L1"), "I-W2", budget=300, past_others=True)
    (run,) = env.workflows
    log = events_by_type(env, run)
    assert ev.RUN_COMPLETED in log and ev.WAIT_CREATED in log and ev.WAIT_COMPLETED not in log


def test_b29_the_runtime_fix_alone_meets_wait_not_found():
    trace, _ = counterexample(local.scenario("wait-after-end-3749", "L1"), "I-W2", budget=300,
                              past_others=True)
    assert any("Wait not found" in n for s in trace.steps for n in s.notes)


def test_the_3749_stance_counts_waits_of_ended_runs_and_lets_their_completion_follow_the_end():
    class View:
        def __init__(self, log):
            self._log = log

        def runs(self):
            return ["wrun_A"]

        def log(self, _run):
            return self._log

    class Env:
        waits_of_ended_runs = False

    def log_of(*types):
        return [ev.event(ev.event_id_at(i, i), "wrun_A", t, "wait_X" if t.startswith("wait") else None,
                         {"resumeAt": 5} if t.startswith("wait") else None) for i, t in enumerate(types, 1)]

    env = Env()
    env.view = View(log_of(ev.RUN_CREATED, ev.RUN_STARTED, ev.WAIT_CREATED, ev.RUN_COMPLETED))
    assert waits_completed(env) is None                    # the default: a terminal run's waits are not counted
    env.waits_of_ended_runs = True
    assert "never completed" in waits_completed(env)       # #3749's stance
    env.view = View(log_of(ev.RUN_CREATED, ev.RUN_STARTED, ev.WAIT_CREATED, ev.RUN_COMPLETED, ev.WAIT_COMPLETED))
    assert waits_completed(env) is None and terminal_is_final(env) is None
    env.waits_of_ended_runs = False
    assert "after its terminal" in terminal_is_final(env)
