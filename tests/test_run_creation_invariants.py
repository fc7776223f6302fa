"""I-R1 in full and I-ORPHAN for waits on the worlds' own storage, built by hand (each names the broken
state and accepts the legal ones), and the replay before #2171 (B24) on hand-written logs."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from models import events as ev
from models import invariants as inv
from models.local.world import LocalWorld, lock_path, run_path
from models.postgres.world import P4
from models.workflow import replay
from models.workloads import Env, approval_or_timeout
from sim import DFS, Scenario, explore

RUN = ev.run_id("by-hand")
WAIT = ev.correlation_id("wait", RUN, 0)
WORLDS = [LocalWorld, P4]


def _fresh(env):
    """The env with a new view: seeding writes untracked, so a view's cached logs would not see it."""
    env.view = env.world.view(env.storage)
    return env


def _by_hand(build):
    """Run `build(env_of)` where stores can be made (inside a scenario's setup); returns what it returns.
    `env_of(world)` is a fresh Env on that world's empty storage."""
    out = []
    explore(Scenario("by-hand", lambda sim: out.append(build(lambda world: Env(world.storage(), world)))),
            DFS(), budget=1)
    return out[0]


@pytest.mark.parametrize("world", WORLDS, ids=["local", "postgres"])
def test_i_r1_run_entity_iff_run_created(world):
    def build(env_of):
        env = env_of(world)
        got = [inv.run_entity_iff_created(_fresh(env))]
        world.seed_run(env.storage, RUN)
        got.append(inv.run_entity_iff_created(_fresh(env)))
        other = ev.run_id("no-created")
        world.seed_event(env.storage, other, ev.RUN_STARTED)   # a log without run_created, no entity
        got.append(inv.run_entity_iff_created(_fresh(env)))
        world.seed_event(env.storage, other, ev.RUN_CREATED)
        return got + [inv.run_entity_iff_created(_fresh(env))]
    got = _by_hand(build)
    assert got[:3] == [None, None, None]
    assert "has run_created but no entity" in got[3]


def test_i_r1_entity_without_run_created_local():
    def build(env_of):
        env = env_of(LocalWorld)
        env.storage.seed(run_path(RUN), {"runId": RUN, "status": "pending"})   # start()'s ✂ after the entity
        return inv.run_entity_iff_created(_fresh(env))
    assert "has an entity but no run_created" in _by_hand(build)


def test_i_r1_names_a_log_that_mixes_id_schemes():
    def build(env_of):
        env = env_of(P4)
        P4.seed_run(env.storage, RUN, "pending")
        got = [inv.one_run_created(_fresh(env))]
        e = ev.event(ev.event_id_at(1, 99, "evsl_"), RUN, ev.RUN_STARTED)
        env.storage.seed("events", e["eventId"], e)
        return got + [inv.one_run_created(_fresh(env))]
    got = _by_hand(build)
    assert got[0] is None and "mixes id schemes" in got[1]


@pytest.mark.parametrize("world", WORLDS, ids=["local", "postgres"])
def test_i_orphan_waits_only_once_the_records_writer_crashed(world):
    def build(env_of):
        env = env_of(world)
        world.seed_run(env.storage, RUN)
        writer = SimpleNamespace(incarnation=0)   # a process, as the ghost stamp holds it
        got = [inv.no_wait_orphan(_fresh(env))]                          # nothing durable yet
        if world is LocalWorld:
            env.storage.seed(lock_path("waits", f"{RUN}-{WAIT}", "created"), {})
        else:
            env.storage.seed("waits", f"{RUN}-{WAIT}", {"waitId": f"{RUN}-{WAIT}", "runId": RUN,
                                                        "status": "waiting", "resumeAt": 1000})
        env.storage.writers[(RUN, ev.WAIT_CREATED, WAIT)] = (writer, 0)
        got.append(inv.no_wait_orphan(_fresh(env)))                     # its writer goes on to publish
        writer.incarnation = 1                                          # ... or crashed
        got.append(inv.no_wait_orphan(_fresh(env)))
        world.seed_event(env.storage, RUN, ev.WAIT_CREATED, WAIT, {"resumeAt": 1000})
        return got + [inv.no_wait_orphan(_fresh(env))]                  # the event is there
    got = _by_hand(build)
    assert got[0] is None and got[1] is None and got[3] is None
    assert "without wait_created, and its writer crashed" in got[2]


def _race_log(*types):
    """race(hook, sleep)'s log: run_created, run_started, then `types` (hook ordinal 0, wait ordinal 1)."""
    run = ev.run_id("race-by-hand")
    corr = {"hook": ev.correlation_id("hook", run, 0), "wait": ev.correlation_id("wait", run, 1)}
    data = {ev.HOOK_CREATED: {"token": "approval"}, ev.HOOK_RECEIVED: {"token": "approval", "payload": 1},
            ev.WAIT_CREATED: {"resumeAt": 5000}, ev.WAIT_COMPLETED: {"resumeAt": 5000}}
    log = [ev.event(ev.event_id_at(0, 1), run, ev.RUN_CREATED), ev.event(ev.event_id_at(0, 2), run, ev.RUN_STARTED)]
    for i, t in enumerate(types, 3):
        log.append(ev.event(ev.event_id_at(i, i), run, t, corr[t.split("_")[0]], data[t]))
    return run, log


@pytest.mark.parametrize("late,branch", [(False, "onHook"), (True, "onTimeout")])
def test_b24_late_hydration_gives_the_race_to_a_wait_completed_right_after_the_hook(late, branch):
    run, log = _race_log(ev.HOOK_CREATED, ev.WAIT_CREATED, ev.HOOK_RECEIVED, ev.WAIT_COMPLETED)
    r = replay(approval_or_timeout, run, log, hydrate_late=late)
    assert [op.name for op in r.pending if hasattr(op, "name")] == [branch]


def test_b24_late_hydration_changes_nothing_when_the_hook_is_last_or_the_workflow_needs_it():
    run, log = _race_log(ev.HOOK_CREATED, ev.WAIT_CREATED, ev.HOOK_RECEIVED)
    assert [op.name for op in replay(approval_or_timeout, run, log, hydrate_late=True).pending
            if hasattr(op, "name")] == ["onHook"]
