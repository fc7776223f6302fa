"""The six writes #2113 leaves unfenced (models.workloads_fence), #2132's fence on them (R2132), and
I-FENCE (stale-write freedom, models.invariants.stale_write_free)."""
from __future__ import annotations

import pytest

import sim
from models import events as ev
from models.invariants import stale_write_free
from models.local import scenarios as local
from models.postgres import scenarios as postgres
from models.runtime import Decision, Ledger
from models.workloads_fence import FENCE_EXPECT, SITE_NAMES, SITES
from scenarios._support import counterexample, holds_exhaustively, holds_randomly
from sim.explore import run_tape
from sim.strategy import make

SITE_LIST = list(SITES)
# wait_created's sleep branch ends in a second wait and its timer: its space is too large for exhaustive
# DPOR in the suite (README: bounded DFS)
SMALL = [s for s in SITE_LIST if s != ev.WAIT_CREATED]


def _written(trace_state, site: str):
    return [w for d in trace_state.ledger.decisions for w in d.writes if w[0] == site]


@pytest.mark.parametrize("site", SITE_LIST)
def test_r2113_leaves_each_site_stale_on_the_fenced_postgres(site):
    # the site's own write is decided on a snapshot a hook_received then overtakes (the default strategy
    # finds it; the saved trace replays to it)
    s = postgres.scenario(SITE_NAMES[site], "P4F")
    res = sim.explore(s, make("portfolio", 1), budget=600, stop_on_violation=True)
    assert res.violation is not None and res.violation.invariant == "I-FENCE", res.violation
    assert f"{site} " in res.violation.message and "hook_received" in res.violation.message
    trace = sim.make_trace(s, res.tape, strategy={"name": "portfolio", "seed": 1})
    assert sim.replay(trace, scenario=s).same_verdict


@pytest.mark.parametrize("site", SMALL)
def test_the_stale_writes_of_r2113_are_no_wrong_branch_on_a_commit_ordered_log(site):
    # the same workload without I-FENCE: every schedule holds (the snapshot is a prefix of the log, so the
    # branch it took is the branch every later replay takes)
    s = postgres.scenario(SITE_NAMES[site], "P4F", stale_writes=False)
    holds_exhaustively(s, at_least=10)


@pytest.mark.parametrize("site", SMALL)
def test_r2132_holds_every_site_on_the_fenced_postgres(site):
    holds_exhaustively(postgres.scenario(SITE_NAMES[site] + "-2132", "P4F"), at_least=10)


def test_the_wait_created_site_holds_random_schedules_without_i_fence_and_under_r2132():
    holds_randomly(postgres.scenario(SITE_NAMES[ev.WAIT_CREATED], "P4F", stale_writes=False), 150)
    holds_randomly(postgres.scenario(SITE_NAMES[ev.WAIT_CREATED] + "-2132", "P4F"), 150)


@pytest.mark.parametrize("site", [ev.STEP_CREATED, ev.RUN_COMPLETED, ev.RUN_FAILED])
def test_r_june_makes_the_site_a_wrong_branch_b22(site):
    # the control: without #2113's fenced scan the stale snapshot flips the race (B22) at the site
    s = postgres.scenario(SITE_NAMES[site] + "-june", "P4F")
    trace, env = counterexample(s, "I-REPLAY", past_others=True, budget=400)
    assert any(t == site for t, _c, _e in _written(env, site))


def test_r2132_retries_in_place_and_redecides_on_the_reloaded_log():
    # not vacuous: the fence refuses the site's write in some schedule; when only the decision's own writes
    # moved the tail it retries in place, and when hook_received arrived it replays the reloaded log
    s = postgres.scenario(SITE_NAMES[ev.STEP_CREATED] + "-2132", "P4F")
    seen = set()
    strat = make("random", 3)
    for _ in range(300):
        k = run_tape(s, strat)
        assert k.violation is None, k.violation
        notes = [n for row in k.log for n in row.notes]
        seen |= {"redecide" for n in notes if "decide again on the reloaded log" in n}
        seen |= {"refused" for n in notes if n.startswith("fence conflict")}
    assert seen == {"redecide", "refused"}


def test_world_local_l1_reaches_b19_at_the_hook_disposed_site_even_under_r2132():
    # resumeHook found the hook before the disposal and publishes hook_received after hook_disposed:
    # hook_received is unfenced by design, so the fence cannot refuse it (B19, fixed later in world-local)
    s = local.scenario(SITE_NAMES[ev.HOOK_DISPOSED] + "-2132", "L1F")
    trace, env = counterexample(s, "I-REPLAY", budget=600)
    log = env.view.log(next(iter(env.workflows)))
    types = [e["eventType"] for e in log]
    assert types.index(ev.HOOK_DISPOSED) < len(types) - 1 - types[::-1].index(ev.HOOK_RECEIVED)


@pytest.mark.parametrize("site", [ev.STEP_CREATED, ev.RUN_COMPLETED])
def test_world_local_l1f_sites(site):
    # R2113's stale site write is found on world-local too; R2132 survives random schedules (exhaustive
    # DPOR takes about a minute per site here: README)
    counterexample(local.scenario(SITE_NAMES[site], "L1F"), "I-FENCE", budget=600)
    holds_randomly(local.scenario(SITE_NAMES[site] + "-2132", "L1F"), 150)


def test_every_site_workload_is_registered_with_its_verdict():
    registered = {s.name: s.expect for s in local.SCENARIOS + postgres.SCENARIOS}
    for (w, r), want in FENCE_EXPECT.items():
        world = "local" if r.startswith("L") else "postgres"
        assert registered[f"{w}@{world}:{r}"] == want


# ---- I-FENCE on hand-made states ----------------------------------------------------------------

class _View:
    def __init__(self, log):
        self._log = log

    def log(self, run):
        return self._log


class _Env:
    def __init__(self, log, ledger, stale_writes=True):
        self.view, self.ledger, self.stale_writes = _View(log), ledger, stale_writes


def _e(i, t, corr=None):
    return {"eventId": f"evnt_{i:04d}", "eventType": t, "correlationId": corr, "runId": "r", "eventData": {}}


def _decided(ledger, snapshot, *writes):
    d = Decision("r", "p1/consumer", tuple(e["eventId"] for e in snapshot))
    for e in writes:
        d.wrote(e)
    ledger.decisions.append(d)
    return d


def test_i_fence_names_an_event_that_overtook_the_snapshot():
    s = [_e(1, ev.RUN_CREATED), _e(2, ev.WAIT_CREATED, "w")]
    hr, sc = _e(3, ev.HOOK_RECEIVED, "h"), _e(4, ev.STEP_CREATED, "s")
    ledger = Ledger()
    _decided(ledger, s, sc)
    msg = stale_write_free(_Env(s + [hr, sc], ledger))
    assert msg and "step_created" in msg and "hook_received" in msg
    assert stale_write_free(_Env(s + [sc, hr], ledger)) is None        # it came after the write: not stale
    assert stale_write_free(_Env(s + [hr, sc], ledger, stale_writes=False)) is None   # not checked
    assert stale_write_free(_Env(s + [hr, sc], ledger, stale_writes=(ev.RUN_COMPLETED,))) is None


def test_i_fence_exempts_the_decisions_own_batch():
    s = [_e(1, ev.RUN_CREATED)]
    a, b = _e(2, ev.STEP_CREATED, "a"), _e(3, ev.STEP_CREATED, "b")
    ledger = Ledger()
    _decided(ledger, s, b, a)   # two writes of one Promise.all, landed in either order
    assert stale_write_free(_Env(s + [a, b], ledger)) is None
    other = Ledger()
    _decided(other, s, b)       # a is another decision's: b is stale
    _decided(other, s, a)
    assert "step_created" in stale_write_free(_Env(s + [a, b], other))
