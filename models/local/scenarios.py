"""Hook workloads against every world-local revision (domain doc 4.1), registered as `workload@local:REV`.

Each workload is the shape a catalogue entry names: the #1665 workflow run by
queue deliveries, the upstream convergence test, a pre-seeded legacy claim,
token reuse across runs, a duplicate retry with other metadata, a crash between
the event and the entity. `EXPECT` says which invariant each revision breaks on
each workload; a pair not listed there is not registered.
"""
from __future__ import annotations

from models import events as ev
from models.local import hooks as revisions
from models.local.invariants import local_invariants
from models.local.world import claim_path
from models.runtime import create
from models.workloads import WORKLOADS as SHARED, build_scenario, hc, job_consumers, job_env, model_infos, on_demand
from models.workloads_lifecycle import WORKLOADS as LIFECYCLE
from models.workflow import REFERENCE  # noqa: F401  (shown by `sim list`)
from sim import Faults, Scenario

WORLD = "local"


def wl_legacy_claim(rev, workers: int = 2):
    """A claim written by a pre-#2295 version (no eventId) for (R, H), then `workers` processes create H."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    run = ev.run_id("legacy")
    hook, token = ev.correlation_id("hook", run, 0), "tok-legacy"

    def setup(sim):
        env, q = job_env(rev, [run], {(run, hook): token})
        env.storage.seed(claim_path(token), {"token": token, "hookId": hook, "runId": run})
        for _ in range(workers):
            q.push({"run": run, "req": hc(hook, token)})
        job_consumers(sim, env, q, workers)
        return env

    return setup, {"workers": workers}


def wl_token_reuse(rev):
    """Token reuse across run lifetimes: run A recovers a legacy claim (pinning a recovery marker) and
    completes; a legacy claim for run B with the same token appears; two processes create B's hook."""
    run_a, run_b = ev.run_id("reuse-a"), ev.run_id("reuse-b")
    hook_a, hook_b = ev.correlation_id("hook", run_a, 0), ev.correlation_id("hook", run_b, 0)
    token = "tok-reused"

    def setup(sim):
        env, q = job_env(rev, [run_a, run_b], {(run_a, hook_a): token, (run_b, hook_b): token})
        env.storage.seed(claim_path(token), {"token": token, "hookId": hook_a, "runId": run_a})

        async def lifetime_a(p):
            world = p.volatile["world"]
            await create(world, env.ledger, run_a, hc(hook_a, token), swallow=(409, 410))
            await create(world, env.ledger, run_a, {"eventType": ev.RUN_COMPLETED}, swallow=(409, 410))
            # an instance of the older version claims the token for run B (no eventId)
            await env.storage.put(claim_path(token), {"token": token, "hookId": hook_b, "runId": run_b}, " (old version)")
            for _ in range(2):
                await q.send({"run": run_b, "req": hc(hook_b, token)})

        job_consumers(sim, env, q, 2)
        sim.processes[0].spawn("run A", lifetime_a, sim.processes[0])
        return env

    return setup, {}


# name -> (factory, fault budget, what it is): the shared workloads, and two only world-local has
WORKLOADS = {
    **SHARED,
    **LIFECYCLE,
    "hook-legacy-claim": (wl_legacy_claim, Faults(), "pre-seeded legacy claim, two processes create the hook"),
    "hook-token-reuse": (wl_token_reuse, Faults(), "legacy recovery in run A, token reused by run B"),
}
HOOK_WORKLOADS = [w for w in WORKLOADS if w.startswith("hook-")]

# revision -> (bug, what the round changed)
MODEL_NOTES = {
    "B1": ("B1", "L0 (#2283): a lost claim is always a hook_conflict (hookId dropped by the claim parser)"),
    "B2": ("B2", "#2295 head 1: own claim -> 409 without looking at the log"),
    "B3": ("B3", "probe the log, repair with a fresh eventId (per-instance lock only)"),
    "B4": ("B4", "canonical eventId in the claim, exclusive publish; legacy claims still probe + fresh id"),
    "B5": ("B5", "legacy recovery marker keyed by token, overwritten when stale, kept at run end"),
    "B6": ("B6", "marker keyed by (token, run, hook), exclusive only; entity overwritten before publish"),
    "B7": ("B7", "entity written after the publish; a collision answers 409 without repair"),
    "L1": ("", "merged #2295: collision repairs the entity from the event; claim rebuilt from the log"),
}

# (workload, revision) -> expected verdict ("|": any of these, when several known bugs are reachable and
# the schedule decides which shows first)
EXPECT = {
    ("hook-1665", "B1"): "I-H2",
    ("hook-event-first", "B2"): "I-ORPHAN",
    ("hook-pairs", "B3"): "I-H1",
    ("hook-legacy-claim", "B4"): "I-H1",
    ("hook-token-reuse", "B5"): "I-H1",
    ("hook-dup-retry", "B6"): "I-H4",
    ("hook-event-first", "B7"): "I-ORPHAN",
    **{(w, "L1"): "hold" for w in HOOK_WORKLOADS + ["step-complete-race"]},
    # found by this model, not in the catalogue: L1's deferred entity write (the B6 fix) lands after
    # the run completed and its cleanup deleted the entity: a zombie hook entity of an ended run
    ("hook-1665-complete", "L1"): "I-H4",
    # the derived step hazards of 4.8, confirmed: a crash inside step_created (D3: step_started
    # without step_created), inside step_completed (D4: completed entity, no event, every retry
    # 409), inside step_started (the attempt counter runs ahead of the log), and the redelivered
    # executor's late step_started (D8, the local twin of B11)
    ("hook-1665-crash", "L1"): "I-S5|I-ORPHAN|I-S4|I-S2",
    # D3: a crash after step_created's lock file, before its event; the retry is told 409
    ("step-create-crash", "L1"): "I-ORPHAN",
    # B22 (#2029): the scan's wait_completed appended to a stale snapshot flips the race's branch
    ("hook-sleep-race", "L1"): "I-REPLAY",
    # found by this model: with #2029's re-read the log still corrupts when the hook_received, whose
    # eventId was minted before the scan's wait_completed, is published after the re-read (B25)
    ("hook-sleep-race-2029", "L1"): "I-REPLAY",
    # found by this model: start()'s run_created mints its id first but publishes after its entity, so a
    # delivery in between logs run_started before run_created; the resilient path mints run_created's
    # id after run_started's (E2), so it sorts after it for good
    ("run-create-race", "L1"): "I-R1",
    ("run-create-crash", "L1"): "I-R1",
    # D2, D1: a crash after the wait's lock file, before its event: every retry 409
    ("wait-create-crash", "L1"): "I-ORPHAN",
    ("wait-complete-crash", "L1"): "I-ORPHAN",
}
FINDINGS = {("hook-1665-complete", "L1"): "D-L1-ZOMBIE", ("hook-sleep-race", "L1"): "B22",
            ("hook-sleep-race-2029", "L1"): "B25", ("hook-1665-crash", "L1"): "D3, D4, D8",
            ("step-create-crash", "L1"): "D3", ("run-create-race", "L1"): "D-L-RUN-ORDER",
            ("run-create-crash", "L1"): "D-L-RUN-ORDER", ("wait-create-crash", "L1"): "D2",
            ("wait-complete-crash", "L1"): "D1"}


def scenario(workload: str, revision: str, expect: str | None = None, **params) -> Scenario:
    expect = expect or EXPECT.get((workload, revision), "hold")
    bug = FINDINGS.get((workload, revision)) or (MODEL_NOTES[revision][0] if expect != "hold" else "")
    rev = revisions.REVISIONS[revision]
    return build_scenario(WORLD, revision, rev, WORKLOADS, workload, expect, bug,
                          local_invariants(rev.entity_after_event), "2", **params)


MODELS = model_infos(WORLD, {r: (bug, note) for r, (bug, note) in MODEL_NOTES.items()}, {"B1": ("local:L0",)})

SCENARIOS = [scenario(w, r) for (w, r) in EXPECT]


build = on_demand(WORLD, WORKLOADS, revisions.REVISIONS, scenario)
