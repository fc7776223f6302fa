"""The resilient resumeHook (models.resume) and B32: its consumer re-ensures hook_received against the
snapshot its delivery loaded, so the client's own write and the consumer's both land (I-H9); written
through the (runId, resumeId) unique key it holds. And I-REPLAY's cold replay on real executions."""
from __future__ import annotations

import pytest

from models import events as ev
from models import invariants as inv
from models.local import scenarios as local
from models.postgres import scenarios as postgres
from models.resume import payload_digest, resume_id
from models.workflow import create_hook, workflow
from models.workloads_runs import step_a
from scenarios._support import counterexample, holds_exhaustively
from sim.explore import run_tape
from sim.strategy import make

WORLDS = [(local, "L1"), (postgres, "P4")]


def _received(env) -> list:
    return [e for run in env.view.runs() for e in env.view.log(run) if e["eventType"] == ev.HOOK_RECEIVED]


@pytest.mark.parametrize("mod, rev", WORLDS)
def test_b32_the_client_and_the_wake_s_consumer_both_write_the_resume(mod, rev):
    trace, env = counterexample(mod.scenario("resume-resilient", rev), "I-H9")
    got = _received(env)
    assert len(got) == 2 and {e["eventData"]["resumeId"] for e in got} == {resume_id("resume", 1)}
    assert {e["eventData"]["payloadDigest"] for e in got} == {payload_digest({"approved": True})}
    # one write is the client's Promise.all actor, the other the consumer's re-ensure in a delivery
    writers = {s.actor.split("#")[0].split(" ")[0] for s in trace.steps
               if any(n.startswith(("published hook_received", "committed hook_received")) for n in s.notes)}
    assert len(writers) == 2, writers
    notes = [n for s in trace.steps for n in s.notes]
    assert any("missing from the snapshot" in n for n in notes)


@pytest.mark.parametrize("mod, rev, at_least", [(local, "L1", 500), (postgres, "P4", 5)])
def test_b32_fixed_the_unique_key_holds_exhaustively(mod, rev, at_least):
    holds_exhaustively(mod.scenario("resume-resilient-keyed", rev), at_least)


@pytest.mark.parametrize("mod, rev", WORLDS)
def test_the_key_answers_409_in_some_schedule(mod, rev):
    # not vacuous: the key refuses the second write of the resumeId (the client's or the consumer's)
    s = mod.scenario("resume-resilient-keyed", rev)
    strat = make("random", 3)
    for _ in range(300):
        k = run_tape(s, strat)
        assert k.violation is None, k.violation
        told = [r for (_run, t, _c), rs in k.state.ledger.issued.items() if t == ev.HOOK_RECEIVED for r in rs]
        if "409" in told:
            assert told.count("ok") == 1 and len(_received(k.state)) == 1
            return
    raise AssertionError("no schedule met the key")


def test_the_resilient_workload_takes_only_resilient_runtimes():
    with pytest.raises(ValueError, match="runtime must be one of R1834, R1834-keyed"):
        local.scenario("resume-resilient", "L1", runtime="R-June")


@workflow(name="oneStep")
async def _same_calls_other_output():
    await step_a()
    return "not what the log says"


def test_i_replay_fails_when_a_real_execution_s_log_is_replayed_with_other_code():
    s = postgres.scenario("swallow-2", "P4")   # two replays complete a one-step run: run_completed
    k = run_tape(s, make("random", 1))
    assert k.violation is None, k.violation
    env = k.state
    assert inv.replays_cleanly(env) is None
    run = next(iter(env.workflows))
    assert any(e["eventType"] == ev.RUN_COMPLETED for e in env.view.log(run))
    env.workflows[run] = _same_calls_other_output
    env.__dict__.pop("_cold_replays", None)
    assert "derives run_completed (output 'not what the log says')" in inv.replays_cleanly(env)


def test_i_replay_fails_on_a_live_run_whose_log_replays_to_an_end_it_lacks():
    @workflow(name="resumeThenClose")
    async def ends_after_the_hook():   # the same calls, but it returns instead of awaiting "close"
        payload = await create_hook("resume")
        create_hook("close")
        return payload
    s = local.scenario("resume-resilient-keyed", "L1")
    k = run_tape(s, make("random", 1))
    assert k.violation is None, k.violation
    env = k.state
    run = next(iter(env.workflows))
    env.workflows[run] = ends_after_the_hook
    env.__dict__.pop("_cold_replays", None)
    assert "has no terminal event, but replaying it derives run_completed" in inv.replays_cleanly(env)
