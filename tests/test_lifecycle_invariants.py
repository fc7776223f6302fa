"""The lifecycle oracle (domain doc 1.4) and the log-shape invariants of section 5 on hand-written logs:
each accepts the legal shapes (duplicates before the terminal event included) and names the illegal one."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from models import events as ev
from models import invariants as inv
from models.runtime import Ledger, replay, staged

RUN = ev.run_id("oracle")
WF = staged("one-step", ["a"])
X = ev.correlation_id("step", RUN, 0)


@dataclass
class View:
    logs: dict
    hook_fields = ("runId", "hookId", "token", "metadata", "isWebhook")
    runs_: dict = field(default_factory=dict)
    steps_: dict = field(default_factory=dict)

    def runs(self):
        return list(self.logs)

    def log(self, run):
        return self.logs[run]

    def run(self, run):
        return self.runs_.get(run)

    def step(self, run, corr):
        return self.steps_.get(corr)

    def steps(self):
        return list(self.steps_.values())

    def hooks(self):
        return []

    def hook(self, _h):
        return None


@dataclass
class Env:
    view: View
    ledger: Ledger = field(default_factory=Ledger)
    tokens: dict = field(default_factory=dict)
    workflows: dict = field(default_factory=dict)


def log_of(*types_and_corrs) -> list:
    out = []
    for i, item in enumerate(types_and_corrs, 1):
        t, corr, data = (item + (None, None))[:3] if isinstance(item, tuple) else (item, None, None)
        out.append(ev.event(ev.event_id_at(i, i), RUN, t, corr, data))
    return out


def env_of(*items, **kw) -> Env:
    return Env(View({RUN: log_of(ev.RUN_CREATED, ev.RUN_STARTED, *items)}, **kw), workflows={RUN: WF})


S = lambda t: (t, X, {"stepName": "a"} if t == "step_created" else None)   # noqa: E731  a step event of X


# (what, log after run_created/run_started, the invariant that must fail, or None)
CASES = [
    ("clean step", [S("step_created"), S("step_started"), S("step_completed"), "run_completed"], None),
    ("duplicates before the terminal event are tolerated",
     [S("step_created"), S("step_started"), S("step_started"), S("step_completed")], None),
    ("retry", [S("step_created"), S("step_started"), S("step_retrying"), S("step_started"), S("step_completed")], None),
    ("#2331 late step_started", [S("step_created"), S("step_started"), S("step_completed"), S("step_started")],
     "I-S2"),
    ("#2039 step_created after completion", [S("step_created"), S("step_started"), S("step_completed"),
                                             S("step_created")], "I-S1"),
    ("#1434 two completions", [S("step_created"), S("step_started"), S("step_completed"), S("step_completed")],
     "I-S3"),
    ("started before created", [S("step_started"), S("step_created")], "I-S5"),
    ("second terminal run event", ["run_completed", "run_failed"], "I-R2"),
    ("step_started after run_completed", [S("step_created"), "run_completed", S("step_started")], "I-R2"),
    ("a running step may close out after the run ended",
     [S("step_created"), S("step_started"), "run_cancelled", S("step_completed")], None),
    ("wait completed twice", [("wait_created", "wait_1", {"resumeAt": 5}), ("wait_completed", "wait_1"),
                              ("wait_completed", "wait_1")], "I-W1"),
    ("wait completed with another resumeAt", [("wait_created", "wait_1", {"resumeAt": 5}),
                                              ("wait_completed", "wait_1", {"resumeAt": 6})], "I-W1"),
    ("wait completed before created", [("wait_completed", "wait_1"), ("wait_created", "wait_1")], "I-W1"),
]
ALWAYS = {i.name: i.fn for i in inv.world_invariants() if i.when == "always"}


@pytest.mark.parametrize("items,broken", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_log_shape_invariants(items, broken):
    env = env_of(*items)
    failing = [name for name, fn in ALWAYS.items() if fn(env)]
    assert failing[:1] == ([broken] if broken else []), failing


def test_run_created_must_come_first_and_once():
    env = Env(View({RUN: log_of(ev.RUN_STARTED, ev.RUN_CREATED)}))
    assert "run_created" in inv.one_run_created(env)
    env = Env(View({RUN: log_of(ev.RUN_CREATED, ev.RUN_CREATED)}))
    assert "2 run_created" in inv.one_run_created(env)


def test_replay_oracle_rejects_events_after_the_terminal_one_and_tolerates_duplicates_before():
    ok = log_of(ev.RUN_CREATED, ev.RUN_STARTED, S("step_created"), S("step_started"), S("step_started"),
                S("step_completed"))
    assert replay(WF, RUN, ok).status == "completed"
    late = ok + log_of(S("step_started"))
    r = replay(WF, RUN, late)
    assert (r.status, r.code) == ("failed", "CORRUPTED_EVENT_LOG") and "Unconsumed event" in r.error
    assert "Unconsumed event" in inv.replays_cleanly(env_of(S("step_created"), S("step_completed"),
                                                            S("step_started")))


def test_entity_folds():
    env = env_of(S("step_created"), S("step_started"), S("step_completed"),
                 runs_={RUN: {"runId": RUN, "status": "running"}},
                 steps_={X: {"runId": RUN, "stepId": X, "status": "running", "attempt": 2}})
    assert "running at attempt 2" in inv.step_entity_is_fold(env)       # #1434's revert, and a lost attempt
    assert inv.entities_are_folds(env) is None                           # the run is running in both
    env.view.logs[RUN] += log_of("run_completed")
    assert "is running, but its log says completed" in inv.entities_are_folds(env)
    env.view.steps_[X] = {"runId": RUN, "stepId": X, "status": "completed", "attempt": 1}
    assert inv.step_entity_is_fold(env) is None


def test_orphans_name_the_record_and_what_retries_were_told():
    env = env_of(steps_={X: {"runId": RUN, "stepId": X, "status": "completed", "attempt": 1}})
    env.view.step_side_records = lambda run, corr: ["row"]
    env.ledger.issue(RUN, ev.STEP_CREATED, X).append("409")
    assert "row without step_created; every retry was told 409" in inv.no_orphan(env)
    assert "answered 409" in inv.sound_409(env)
