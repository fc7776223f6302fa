"""#2113's site alone (`fenced-site`, issue 14): one delivery of a due wait (the elapsed-wait scan, the replay,
the branch it takes) racing one resumeHook, for R-June, R2029 and R2113 on each log order: ids minted
inside the write (`L1`, `P4`: world-local's E2 before the checks, postgres's id in the INSERT), minted under
the fence's run lock (`L1F`, `P4F`) and minted on arrival before that lock (`L1Fm`, `P4Fm`). And the
contention hypothesis for #2113's follow-up hang (`L1Fc`, `P4Fc`, `two-sleeps`)."""
from __future__ import annotations

import pytest

from models import events as ev
from models.local import scenarios as local
from models.postgres import scenarios as postgres
from models.workloads import wl_fenced_site
import sim
from scenarios._support import BUG_BUDGET, counterexample, holds_exhaustively
from sim.explore import run_tape
from sim.strategy import Replay, make

RUN = ev.run_id("fenced-site")
WORLDS = {"local": local, "postgres": postgres}
# (world, workload, revision): every registered fenced-site pair, by its expected verdict
FINDINGS = [(w, wl, r) for w, mod in WORLDS.items() for (wl, r), v in mod.EXPECT.items()
            if wl.startswith("fenced-site") and v != "hold"]
HOLDS = [(w, wl, r) for w, mod in WORLDS.items() for (wl, r), v in mod.EXPECT.items()
         if wl.startswith("fenced-site") and v == "hold"]


def test_every_runtime_is_registered_on_every_log_order():
    assert len(FINDINGS) == 14 and len(HOLDS) == 4
    assert {(w, r) for w, _wl, r in HOLDS} == {("local", "L1F"), ("postgres", "P4F")}


def test_a_bad_runtime_is_a_clear_error():
    with pytest.raises(ValueError, match="runtime must be one of"):
        wl_fenced_site(local.REVISIONS["L1F"], runtime="R9999")


def _published_at(trace, what: str) -> int:
    return next(s.i for s in trace.steps if any(n.startswith((f"published {what}", f"committed {what}"))
                                                    for n in s.notes))


@pytest.mark.parametrize("world, workload, rev", FINDINGS)
def test_the_race_flips_the_branch(world, workload, rev):
    trace, env = counterexample(WORLDS[world].scenario(workload, rev), "I-REPLAY")
    types = [e["eventType"] for e in env.view.log(RUN)]
    # the log gives the race to the hook, the delivery wrote the sleep's branch
    assert types.index(ev.HOOK_RECEIVED) < types.index(ev.WAIT_COMPLETED) < types.index(ev.STEP_CREATED)
    assert next(e for e in env.view.log(RUN) if e["eventType"] == ev.STEP_CREATED)["eventData"]["stepName"] == "onTimeout"
    if workload != "fenced-site":
        # B25: what #2029's re-read and #2113's fence cannot see, an event committed after them below them
        assert _published_at(trace, ev.HOOK_RECEIVED) > _published_at(trace, ev.WAIT_COMPLETED)


@pytest.mark.parametrize("world, workload, rev", HOLDS)
def test_ids_minted_under_the_run_lock_hold_exhaustively(world, workload, rev):
    holds_exhaustively(WORLDS[world].scenario(workload, rev), at_least=50)


@pytest.mark.parametrize("world, rev", [("local", "L1F"), ("postgres", "P4F")])
def test_no_event_appears_below_a_read_when_ids_are_minted_under_the_lock(world, rev):
    holds_exhaustively(WORLDS[world].scenario("fenced-site-2113", rev, log_prefix=True), at_least=50)


def _first_violation(s, budget: int = BUG_BUDGET):
    """A variant (`--param`) is checked as "hold", so its violation is read here rather than matched."""
    res = sim.explore(s, make("portfolio", 1), budget=budget, stop_on_violation=True)
    assert res.violation is not None, f"{s.name}: no violation in {res.executions} executions"
    return res.violation, run_tape(s, Replay(res.tape)).state


@pytest.mark.parametrize("world, rev", [("local", "L1Fm"), ("postgres", "P4Fm")])
def test_an_id_minted_before_the_lock_lands_below_a_read(world, rev):
    violation, _env = _first_violation(WORLDS[world].scenario("fenced-site-2113", rev, log_prefix=True))
    assert violation.invariant == "I-LOG2" and "hook_received" in violation.message, violation


# ---- the contention hypothesis and #2113's follow-up hang (two-sleeps) --------------------------------------

def _notes(k) -> list:
    return [n for row in k.log for n in row.notes]


@pytest.mark.parametrize("world, rev, params", [("local", "L1Fc", {}), ("postgres", "P4Fc", {"workers": 2})])
def test_the_broad_branch_skips_an_open_wait_and_the_run_still_completes(world, rev, params):
    # not vacuous: a scan is told the contention 409 while its wait is open and takes it as completed; the
    # other delivery's scan completes it (or the skipping delivery's {timeoutSeconds} delivers the run again)
    s = WORLDS[world].scenario("two-sleeps", rev, **params)
    strat = make("random", 3)
    for _ in range(300):
        k = run_tape(s, strat)
        assert k.violation is None, k.violation
        notes = _notes(k)
        if any(n.startswith("contention") for n in notes) and any("taken as already completed" in n for n in notes):
            log = k.state.view.log(ev.run_id("two-sleeps"))
            assert sum(e["eventType"] == ev.WAIT_COMPLETED for e in log) == 2
            assert log[-1]["eventType"] == ev.RUN_COMPLETED
            break
    else:
        raise AssertionError("no schedule met the contention 409 on an open wait")


def test_every_409_retried_in_place_can_run_out_of_attempts_under_contention():
    # R2113 reloads on every 409; the other delivery's writes win the run lock at each of the 5 attempts (the
    # backoff is a scheduling point, not time), and the last fence conflict fails the delivery
    violation, env = _first_violation(local.scenario("two-sleeps", "L1Fc", runtime="R2113"))
    assert violation.invariant == "I-NO-ESCAPE", violation
    assert any("fence conflict" in err for _msg, status, err in env.ledger.escaped)


# ---- the lost-update hypothesis (L1Fp, P4Fp: the server patches then PUTs the run document) ---------------

@pytest.mark.parametrize("world, rev, params", [("local", "L1Fp", {}), ("postgres", "P4Fp", {"workers": 2})])
def test_a_lost_wait_event_hangs_the_run_as_I_LIVE_naming_the_wait(world, rev, params):
    # an acknowledged event lost by an overlapping PUT: every later replay still has that wait pending and arms
    # its wake-up, so the run is delivered again forever; cut at the step limit, I-LIVE names the wait
    violation, env = _first_violation(WORLDS[world].scenario("two-sleeps", rev, **params))
    assert violation.invariant == "I-LIVE", violation
    assert violation.message.startswith("no quiescence after 1000 steps: "), violation
    assert "stalled on wait wait_" in violation.message and "never completed" in violation.message, violation
    log = env.view.log(ev.run_id("two-sleeps"))
    created = {e["correlationId"] for e in log if e["eventType"] == ev.WAIT_CREATED}
    completed = {e["correlationId"] for e in log if e["eventType"] == ev.WAIT_COMPLETED}
    assert ev.RUN_COMPLETED not in [e["eventType"] for e in log]
    assert len(created) + len(completed) < 4, log   # some wait event of the two sleeps is missing for good
