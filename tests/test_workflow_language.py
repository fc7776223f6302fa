"""The workflow language and its replay (models.workflow): ordinals, log-order resolution, races, branch
flips, unconsumed events, disposal, waits, and the terminal event replay re-derives (I-REPLAY), on
hand-written logs; and I-LIVE on runs that are stuck for good."""
from __future__ import annotations

import pytest

from models import events as ev
from models import invariants as inv
from models.workflow import (FatalError, Promise, RetryableError, WorkflowLanguageError, create_hook, replay,
                             sleep, step, step_function, workflow)

RUN = ev.run_id("language")
ta, tb = step("lang-a"), step("lang-b")
t_hook, t_timeout = step("lang-onHook"), step("lang-onTimeout")


def cid(prefix: str, ordinal: int) -> str:
    return ev.correlation_id(prefix, RUN, ordinal)


def log_of(*items) -> list:
    """run_created, run_started, then `(type, corr, data)` events at createdAt 1, 2, ... in this order."""
    out = []
    for i, item in enumerate(((ev.RUN_CREATED,), (ev.RUN_STARTED,)) + items):
        t, corr, data = (item + (None, None))[:3]
        out.append(ev.event(ev.event_id_at(i, i + 1), RUN, t, corr, data))
    return out


def created(prefix: str, ordinal: int, name: str) -> tuple:
    return ev.STEP_CREATED, cid(prefix, ordinal), {"stepName": name}


def done(ordinal: int, result) -> tuple:
    return ev.STEP_COMPLETED, cid("step", ordinal), {"result": result}


@workflow
async def two_in_parallel():
    return await Promise.all([ta(), tb()])


@workflow
async def race_hook_sleep():
    hook = create_hook("lang-approval")
    payload = await Promise.race([hook, sleep(1_000)])
    if payload is None:
        await t_timeout()
        return "timed out"
    await t_hook()
    return payload


HOOK, WAIT, BRANCH = cid("hook", 0), cid("wait", 1), 2
HOOK_CREATED = (ev.HOOK_CREATED, HOOK, {"token": "lang-approval"})
WAIT_CREATED = (ev.WAIT_CREATED, WAIT, {"resumeAt": 1_001})
RECEIVED = (ev.HOOK_RECEIVED, HOOK, {"token": "lang-approval", "payload": "yes"})
ELAPSED = (ev.WAIT_COMPLETED, WAIT, {"resumeAt": 1_001})


def test_correlation_ids_are_call_ordinals_and_a_suspension_lists_what_is_pending():
    r = replay(race_hook_sleep, RUN, log_of())
    assert r.status == "suspended"
    assert [(op.kind, op.corr, op.created) for op in r.pending] == [("hook", HOOK, False), ("wait", WAIT, False)]
    assert r.pending[1].resume_at == 1 + 1_000   # the VM clock: run_started's createdAt, plus the duration


def test_promise_all_resolves_in_array_order_once_every_event_is_in():
    log = log_of(created("step", 0, "lang-a"), created("step", 1, "lang-b"), done(1, "B"))
    r = replay(two_in_parallel, RUN, log)
    assert r.status == "suspended" and [op.name for op in r.pending] == ["lang-a"]
    r = replay(two_in_parallel, RUN, log + log_of(done(0, "A"))[2:])
    assert (r.status, r.output) == ("completed", ["A", "B"])


@pytest.mark.parametrize("first,branch,output", [(RECEIVED, "lang-onHook", "yes"), (ELAPSED, "lang-onTimeout", "timed out")])
def test_a_race_resolves_to_the_racer_whose_event_is_first_in_the_log(first, branch, output):
    second = ELAPSED if first is RECEIVED else RECEIVED
    log = log_of(HOOK_CREATED, WAIT_CREATED, first, second)
    r = replay(race_hook_sleep, RUN, log)
    assert r.status == "suspended" and [op.name for op in r.pending] == [branch]
    r = replay(race_hook_sleep, RUN, log + log_of(created("step", BRANCH, branch), done(BRANCH, None))[2:])
    assert (r.status, r.output) == ("completed", output)


def test_racers_settled_before_the_race_is_made_win_in_array_order():
    @workflow
    async def late_race():
        hook = create_hook("lang-late")
        nap = sleep(10)
        await ta()
        return await Promise.race([nap, hook])
    log = log_of((ev.HOOK_CREATED, cid("hook", 0), {"token": "lang-late"}), (ev.WAIT_CREATED, cid("wait", 1), {"resumeAt": 11}),
                 created("step", 2, "lang-a"),
                 (ev.HOOK_RECEIVED, cid("hook", 0), {"token": "lang-late", "payload": "h"}),
                 (ev.WAIT_COMPLETED, cid("wait", 1)), done(2, None))
    assert replay(late_race, RUN, log).output is None   # the sleep is first in the array, though second in the log


def test_a_branch_that_flipped_is_a_corrupted_log():
    # a stale replay saw the sleep win and created its step; the log says the hook was first
    log = log_of(HOOK_CREATED, WAIT_CREATED, RECEIVED, ELAPSED, created("step", BRANCH, "lang-onTimeout"))
    r = replay(race_hook_sleep, RUN, log)
    assert (r.status, r.code) == ("failed", "CORRUPTED_EVENT_LOG")
    assert "'lang-onTimeout'" in r.error and "'lang-onHook' at ordinal 2" in r.error


@pytest.mark.parametrize("extra,why", [
    ((ev.STEP_STARTED, cid("step", 0)), "after the step completed"),
    ((ev.STEP_CREATED, cid("step", 7), {"stepName": "lang-a"}), "an ordinal this replay never allocates"),
    ((ev.WAIT_COMPLETED, cid("wait", 0)), "a wait where the workflow has a step"),
])
def test_an_event_no_consumer_takes_is_a_corrupted_log(extra, why):
    log = log_of(created("step", 0, "lang-a"), created("step", 1, "lang-b"), done(0, "A"), extra)
    r = replay(two_in_parallel, RUN, log)
    assert (r.status, r.code) == ("failed", "CORRUPTED_EVENT_LOG"), why
    assert "Unconsumed event" in r.error


def test_a_wait_completed_with_another_resume_at_is_a_divergence():
    r = replay(race_hook_sleep, RUN, log_of(HOOK_CREATED, WAIT_CREATED, (ev.WAIT_COMPLETED, WAIT, {"resumeAt": 5})))
    assert r.code == "CORRUPTED_EVENT_LOG" and "resumeAt 5" in r.error


def test_using_disposes_the_hook_and_its_disposal_finishes_the_consumer():
    @workflow
    async def once():
        with create_hook("lang-once") as h:
            payload = await h
        await ta()
        return payload
    h = cid("hook", 0)
    log = log_of((ev.HOOK_CREATED, h, {"token": "lang-once"}), (ev.HOOK_RECEIVED, h, {"token": "lang-once", "payload": 1}))
    r = replay(once, RUN, log)
    assert [(op.kind, getattr(op, "disposed", None)) for op in r.pending] == [("hook", True), ("step", None)]
    log += log_of((ev.HOOK_DISPOSED, h))[2:]
    assert [op.kind for op in replay(once, RUN, log).pending] == ["step"]
    late = log + log_of((ev.HOOK_RECEIVED, h, {"token": "lang-once", "payload": 2}))[2:]
    assert "Unconsumed event" in replay(once, RUN, late).error


def test_the_terminal_event_is_re_derived():
    log = log_of(HOOK_CREATED, WAIT_CREATED, RECEIVED, created("step", BRANCH, "lang-onHook"), done(BRANCH, None))
    assert replay(race_hook_sleep, RUN, log).terminal() == (ev.RUN_COMPLETED, {"output": "yes"})
    conflict = log_of((ev.HOOK_CONFLICT, HOOK, {"token": "lang-approval", "conflictingRunId": "wrun_other"}))
    r = replay(race_hook_sleep, RUN, conflict)
    assert r.terminal()[0] == ev.RUN_FAILED and r.code == "USER_ERROR" and "HookConflictError" in r.error
    failed = log_of(created("step", 0, "lang-a"), created("step", 1, "lang-b"),
                    (ev.STEP_FAILED, cid("step", 0), {"error": "boom"}))
    assert replay(two_in_parallel, RUN, failed).code == "USER_ERROR"


class _View:
    def __init__(self, log, hooks=()):
        self.logs = {RUN: log}
        self._hooks = {h: {"hookId": h} for h in hooks}

    def runs(self):
        return [RUN]

    def log(self, run):
        return self.logs[run]

    def hook(self, h):
        return self._hooks.get(h)

    def waits(self):
        return []


class _Env:
    def __init__(self, wf, log, hooks=(), liveness=True):
        self.view = _View(log, hooks)
        self.workflows = {RUN: wf}
        self.liveness = liveness


def test_i_replay_compares_the_terminal_event_with_what_the_log_holds():
    body = (HOOK_CREATED, WAIT_CREATED, RECEIVED, created("step", BRANCH, "lang-onHook"), done(BRANCH, None))
    assert inv.replays_cleanly(_Env(race_hook_sleep, log_of(*body, (ev.RUN_COMPLETED, None, {"output": "yes"})))) is None
    wrong = inv.replays_cleanly(_Env(race_hook_sleep, log_of(*body, (ev.RUN_COMPLETED, None, {"output": "no"}))))
    assert "output 'no'" in wrong and "output 'yes'" in wrong
    early = inv.replays_cleanly(_Env(race_hook_sleep, log_of(HOOK_CREATED, (ev.RUN_COMPLETED, None, {"output": "yes"}))))
    assert "derives no terminal event (suspended on hook lang-approval" in early
    cancelled = log_of(HOOK_CREATED, (ev.RUN_CANCELLED,))
    assert inv.replays_cleanly(_Env(race_hook_sleep, cancelled)) is None


def test_i_replay_compares_a_failure_s_error_and_not_only_its_code():
    failed = (created("step", 0, "lang-a"), created("step", 1, "lang-b"), (ev.STEP_FAILED, cid("step", 0), {"error": "boom"}))
    r = replay(two_in_parallel, RUN, log_of(*failed))
    same = {"errorCode": "USER_ERROR", "error": r.error}
    assert inv.replays_cleanly(_Env(two_in_parallel, log_of(*failed, (ev.RUN_FAILED, None, same)))) is None
    other = {"errorCode": "USER_ERROR", "error": "StepFailedError: step lang-b failed: boom"}
    bad = inv.replays_cleanly(_Env(two_in_parallel, log_of(*failed, (ev.RUN_FAILED, None, other))))
    assert bad and "step lang-b failed" in bad and "step lang-a failed" in bad
    # a completion the log holds where the workflow fails
    bad = inv.replays_cleanly(_Env(two_in_parallel, log_of(*failed, (ev.RUN_COMPLETED, None, {"output": None}))))
    assert bad and "derives run_failed (errorCode 'USER_ERROR'" in bad


def test_i_replay_a_log_without_its_end_must_replay_to_a_suspension():
    body = (HOOK_CREATED, WAIT_CREATED, RECEIVED, created("step", BRANCH, "lang-onHook"), done(BRANCH, None))
    # the workflow returns on this log, which never got its run_completed
    lacking = inv.replays_cleanly(_Env(race_hook_sleep, log_of(*body)))
    assert lacking == (f"run {ev.short(RUN)}'s log has no terminal event, but replaying it derives run_completed "
                       f"(output 'yes')")
    assert inv.replays_cleanly(_Env(race_hook_sleep, log_of(*body[:-1]))) is None   # still waiting on the step
    # a job workload drives no run to its end: nobody was going to write it
    assert inv.replays_cleanly(_Env(race_hook_sleep, log_of(*body), liveness=False)) is None


def test_i_replay_fails_when_the_workflow_code_is_not_the_one_that_wrote_the_log():
    @workflow
    async def race_other_output():   # the same calls, another return value
        payload = await Promise.race([create_hook("lang-approval"), sleep(1_000)])
        await (t_timeout() if payload is None else t_hook())
        return "changed"
    body = (HOOK_CREATED, WAIT_CREATED, RECEIVED, created("step", BRANCH, "lang-onHook"), done(BRANCH, None))
    log = log_of(*body, (ev.RUN_COMPLETED, None, {"output": "yes"}))
    assert inv.replays_cleanly(_Env(race_hook_sleep, log)) is None
    assert "derives run_completed (output 'changed')" in inv.replays_cleanly(_Env(race_other_output, log))


def test_i_live_names_what_a_quiescent_run_is_stuck_on():
    assert inv.runs_live(_Env(race_hook_sleep, log_of(HOOK_CREATED, WAIT_CREATED), hooks=[HOOK])) == (
        f"run {ev.short(RUN)} stalled on wait {ev.short(WAIT)} (resumeAt 1001, created, never completed)")
    decided = inv.runs_live(_Env(race_hook_sleep, log_of(HOOK_CREATED, WAIT_CREATED, ELAPSED, RECEIVED)))
    assert decided == f"run {ev.short(RUN)} stalled on step lang-onTimeout ({ev.short(cid('step', 2))}, never created, never completed)"
    hook_created = log_of((ev.HOOK_CREATED, cid("hook", 0), {"token": "lang-approval"}))
    assert inv.runs_live(_Env(_hook_only, hook_created)) == (
        f"run {ev.short(RUN)} stalled on hook lang-approval (created, but resumeHook cannot find it by its token)")
    assert "stalled on hook lang-approval (never created)" in inv.runs_live(_Env(_hook_only, log_of()))
    # waiting only on a hook an outside caller can still resume is live, and so is a terminal run
    assert inv.runs_live(_Env(_hook_only, hook_created, hooks=[cid("hook", 0)])) is None
    assert inv.runs_live(_Env(race_hook_sleep, log_of((ev.RUN_FAILED,)))) is None
    assert inv.runs_live(_Env(race_hook_sleep, log_of(), liveness=False)) is None
    # a run whose log replays to completion but has no terminal event is stuck too
    stuck = inv.runs_live(_Env(two_in_parallel, log_of(created("step", 0, "lang-a"), created("step", 1, "lang-b"),
                                                        done(0, 1), done(1, 2))))
    assert "replays to completed" in stuck and "run_completed" in stuck


@workflow
async def _hook_only():
    return await create_hook("lang-approval")


def test_steps_carry_their_body_and_the_language_refuses_misuse():
    charge = step("lang-charge", lambda attempt: 40 + attempt)
    flaky = step("lang-flaky", lambda attempt: (_ for _ in ()).throw(RetryableError("later", retry_after=500)))
    fatal = step("lang-fatal", lambda attempt: (_ for _ in ()).throw(FatalError("no")))
    assert step_function("lang-charge").body(2) == 42
    with pytest.raises(RetryableError) as e:
        flaky.body(1)
    assert e.value.retry_after == 500
    with pytest.raises(FatalError):
        fatal.body(1)
    with pytest.raises(WorkflowLanguageError):
        step("lang-charge", lambda attempt: 0)      # one body per step name, as the bundle registers it
    with pytest.raises(WorkflowLanguageError):
        charge()                                    # a step call outside a workflow's replay


def test_sim_list_shows_the_language_one_example_per_construct(capsys):
    from models.workflow import REFERENCE
    from sim import cli
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    (title, rows), = REFERENCE.items()
    assert title.split(" (")[0] in out
    for construct, example, _what in rows:
        assert construct in out and example.splitlines()[0] in out, construct
    assert "await Promise.race([hook, sleep(5_000)])" in out   # code, not rich markup


def test_waits_of_a_live_run_are_completed_and_waits_of_an_ended_run_released():
    open_wait = _Env(race_hook_sleep, log_of(HOOK_CREATED, WAIT_CREATED))
    assert "never completed" in inv.waits_completed(open_wait)
    assert inv.waits_completed(_Env(race_hook_sleep, log_of(HOOK_CREATED, WAIT_CREATED, ELAPSED))) is None
    assert inv.waits_completed(_Env(race_hook_sleep, log_of(HOOK_CREATED, WAIT_CREATED, (ev.RUN_FAILED,)))) is None
    ended = _Env(race_hook_sleep, log_of(WAIT_CREATED, (ev.RUN_COMPLETED,)))
    ended.view.waits = lambda: [{"waitId": f"{RUN}-{WAIT}", "runId": RUN, "status": "waiting"}]
    assert "remains after run" in inv.waits_released(ended)
    live = _Env(race_hook_sleep, log_of(WAIT_CREATED))
    live.view.waits = ended.view.waits
    assert inv.waits_released(live) is None
