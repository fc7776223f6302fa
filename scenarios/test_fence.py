"""#2113's fence (models.fence, B23): the compare-and-set on lastKnownEventId in the fenced worlds
(`local:L1F`, `postgres:P4F`) and the runtime's in-place retry (`R2113`, `R2113-broad`)."""
from __future__ import annotations

import pytest

from models.events import EntityConflictError
from models.fence import FenceConflictError
from models.local import scenarios as local
from models.postgres import scenarios as postgres
from models.runtime import RUNTIMES, is_fence_conflict
from sim.explore import run_tape
from sim.strategy import make
import sim


def test_a_fence_conflict_is_a_409_told_apart_by_its_message():
    e = FenceConflictError("fence conflict: the log moved past evnt_…0001")
    assert isinstance(e, EntityConflictError) and e.status == 409 and is_fence_conflict(e)
    assert not is_fence_conflict(EntityConflictError("wait w already completed"))
    assert {"R2113", "R2113-broad"} <= set(RUNTIMES)


def _notes(k) -> list:
    return [n for row in k.log for n in row.notes]


@pytest.mark.parametrize("mod, rev", [(local, "L1F"), (postgres, "P4F")])
def test_the_fenced_scan_is_refused_then_retried_on_the_reloaded_log(mod, rev):
    # not vacuous: some schedule lands hook_received between the scan's load and its wait_completed, the
    # server refuses the write, and the retry finds the hook in the reloaded log; no schedule breaks anything
    s = mod.scenario("hook-sleep-race-2113", rev)
    strat = make("random", 2)
    for _ in range(400):
        k = run_tape(s, strat)
        assert k.violation is None, k.violation
        if any(n.startswith("fence conflict") for n in _notes(k)):
            results = [r for (_run, t, _c), rs in k.state.ledger.issued.items() if t == "wait_completed" for r in rs]
            assert "409-fence" in results   # recorded apart from a 409 that claims the wait is completed
            break
    else:
        raise AssertionError("no schedule met the fence")


def test_the_fenced_world_alone_fixes_nothing_without_the_field():
    # R-June never sends lastKnownEventId: on the fenced world it still flips the race (B22)
    s = local.scenario("hook-sleep-race", "L1F", expect="I-REPLAY|I-R2")
    res = sim.explore(s, make("portfolio", 1), budget=2_000, stop_on_violation=True)
    assert res.violation is not None and res.violation.invariant in ("I-REPLAY", "I-R2"), res.violation
