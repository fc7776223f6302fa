"""I-ORPHAN for terminal runs and world-local's `.terminal` step lock, and I-409-SOUND for every type the
ledger records (domain doc 5.6), on hand-built world states: each names the broken state and accepts
the repaired one."""
from __future__ import annotations

import pytest

from models import events as ev
from models.invariants import no_orphan_terminal_run, sound_409_every_type
from models.local.hooks import L1
from models.local.invariants import no_orphan_terminal_lock
from models.local.world import lock_path
from models.postgres.world import P3
from models.workloads import Env
from sim import Scenario
from sim.explore import run_tape
from sim.strategy import Replay

RUN = ev.run_id("repair")
STEP = ev.correlation_id("step", RUN, 0)


def in_sim(fn):
    """Run `fn()` where world storage can be built (inside an execution's setup); returns its result."""
    return run_tape(Scenario("repairability", lambda sim: {"out": fn()}), Replay([])).state["out"]


def _env(rev, status="running", events=()):
    # each env stands for the storage of an execution of its own: forget the stores of the last one
    # (two Stores with one name in one execution are refused)
    from sim import runtime
    runtime._kernel.stores.clear()
    env = Env(rev.storage(), rev)
    rev.seed_run(env.storage, RUN, status)
    rev.seed_step(env.storage, RUN, STEP, "a", "running", 1)
    for t, corr in ((ev.STEP_CREATED, STEP), (ev.STEP_STARTED, STEP)) + tuple(events):
        rev.seed_event(env.storage, RUN, t, corr)
    return env


@pytest.mark.parametrize("rev", [L1, P3], ids=["local", "postgres"])
def test_a_terminal_run_without_its_event_is_an_orphan(rev):
    def body():
        assert "completed but its log has no terminal event" in no_orphan_terminal_run(_env(rev, "completed"))
        assert no_orphan_terminal_run(_env(rev, "completed", [(ev.RUN_COMPLETED, None)])) is None
        assert no_orphan_terminal_run(_env(rev)) is None
    in_sim(body)


def test_a_local_terminal_lock_without_its_event_is_an_orphan():
    def body():
        env = _env(L1)
        env.storage.seed(lock_path("steps", f"{RUN}-{STEP}", "terminal"), {})
        assert ".terminal lock exists" in no_orphan_terminal_lock(env)
        done = _env(L1, events=[(ev.STEP_COMPLETED, STEP)])
        done.storage.seed(lock_path("steps", f"{RUN}-{STEP}", "terminal"), {})
        assert no_orphan_terminal_lock(done) is None
    in_sim(body)


@pytest.mark.parametrize("rev", [L1, P3], ids=["local", "postgres"])
@pytest.mark.parametrize("t,corr,makes_it_true", [
    (ev.STEP_COMPLETED, STEP, (ev.STEP_COMPLETED, STEP)),
    (ev.STEP_STARTED, STEP, (ev.STEP_FAILED, STEP)),
    (ev.STEP_RETRYING, STEP, (ev.STEP_COMPLETED, STEP)),
    (ev.RUN_COMPLETED, None, (ev.RUN_FAILED, None)),
    (ev.WAIT_COMPLETED, "wait_x", (ev.WAIT_COMPLETED, "wait_x")),
])
def test_a_409_needs_the_event_that_makes_it_true(rev, t, corr, makes_it_true):
    def body():
        env = _env(rev)
        env.ledger.issue(RUN, t, corr).append("409")
        assert "answered 409" in sound_409_every_type(env)
        env = _env(rev, events=[makes_it_true])
        env.ledger.issue(RUN, t, corr).append("409")
        assert sound_409_every_type(env) is None
    in_sim(body)


def test_a_run_that_ended_excuses_its_entities_409s():
    def body():
        env = _env(L1, "completed", [(ev.RUN_COMPLETED, None)])
        env.ledger.issue(RUN, ev.STEP_CREATED, "step_y").append("409")
        assert sound_409_every_type(env) is None

    in_sim(body)