"""world-local before its lock files (domain doc 4.3): B14 (#1388, fixed by #1434's `.completed` lock) and
B15 (#1877's `.created` locks) are found from their revisions with two concurrent writers, and the
revisions that have the locks hold on the same workloads for every schedule."""
from __future__ import annotations

import pytest

from models import events as ev
from models.local.scenarios import EXPECT, scenario
from scenarios._support import counterexample, events_by_type, holds_exhaustively, publishers

FOUND = [("wait-complete-pair", "B14", "I-W1", ev.WAIT_COMPLETED),
         ("step-complete-race", "B14", "I-S3", ev.STEP_COMPLETED),
         ("step-create-pair", "B14", "I-S1", ev.STEP_CREATED), ("wait-create-pair", "B14", "I-W1", ev.WAIT_CREATED),
         ("step-create-pair", "B15", "I-S1", ev.STEP_CREATED), ("wait-create-pair", "B15", "I-W1", ev.WAIT_CREATED)]


@pytest.mark.parametrize("workload,revision,invariant,event", FOUND, ids=[f"{r}-{w}" for w, r, _, _ in FOUND])
def test_two_writers_both_publish(workload, revision, invariant, event):
    trace, env = counterexample(scenario(workload, revision), invariant)
    (run,) = env.view.runs()
    assert len(events_by_type(env, run)[event]) == 2
    assert publishers(trace, event) == {"p1", "p2"}


HOLDING = sorted((w, r) for (w, r), e in EXPECT.items() if e == "hold" and (w.endswith("-pair") or r == "B15"))


@pytest.mark.parametrize("workload,revision", HOLDING, ids=[f"{r}-{w}" for w, r in HOLDING])
def test_the_locks_hold_exhaustively(workload, revision, record_property):
    res = holds_exhaustively(scenario(workload, revision), 8)
    record_property("schedules", res.executions)


def test_b15_fixed_only_the_completion():
    assert EXPECT[("wait-complete-pair", "B15")] == "hold" and EXPECT[("wait-create-pair", "B15")] == "I-W1"
