"""Hook workloads against every world-local revision (domain doc 4.1), registered as `workload@local:REV`.

Each workload is the shape a catalogue entry names: the #1665 workflow run by
queue deliveries, the upstream convergence test, a pre-seeded legacy claim,
token reuse across runs, a duplicate retry with other metadata, a crash between
the event and the entity. `EXPECT` says which invariant each revision breaks on
each workload; a pair not listed there is not registered.
"""
from __future__ import annotations

import dataclasses

from models import events as ev
from models.fence import fenced
from models.local import guards, hooks
from models.local.invariants import local_invariants
from models.local.world import claim_path
from models.resume import RESUME_WORKLOADS
from models.runtime import create
from models.workloads_runs import RUN_WORKLOADS
from models.workloads import (WORKLOADS as SHARED, build_scenario, hc, job_consumers, job_env, model_infos,
                              on_demand, ulid_twin_infos, with_process_ulids)
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

# the fenced L1 (#2113) before the twins, so it gets its per-process-id twin like every revision
REVISIONS = with_process_ulids({**guards.REVISIONS, **hooks.REVISIONS, "L1F": fenced(hooks.L1, "L1F"),
                                "L1Fm": fenced(hooks.L1, "L1Fm", mint_early=True),
                                "L1Fc": fenced(hooks.L1, "L1Fc", contention=True),
                                "L1Fp": fenced(hooks.L1, "L1Fp", lost_update=True)})

# revision -> (bug, what the round changed)
MODEL_NOTES = {
    "B14": ("B14, B15", "L-pre: step_created unguarded; wait_created, wait_completed, step_completed read-check-write"),
    "B15": ("B15", "#1434: .completed/.terminal locks; step_created and wait_created still unguarded (#1877)"),
    "B1": ("B1", "L0 (#2283): a lost claim is always a hook_conflict (hookId dropped by the claim parser)"),
    "B2": ("B2", "#2295 head 1: own claim -> 409 without looking at the log"),
    "B3": ("B3", "probe the log, repair with a fresh eventId (per-instance lock only)"),
    "B4": ("B4", "canonical eventId in the claim, exclusive publish; legacy claims still probe + fresh id"),
    "B5": ("B5", "legacy recovery marker keyed by token, overwritten when stale, kept at run end"),
    "B6": ("B6", "marker keyed by (token, run, hook), exclusive only; entity overwritten before publish"),
    "B7": ("B7", "entity written after the publish; a collision answers 409 without repair"),
    "L1": ("", "merged #2295: collision repairs the entity from the event; claim rebuilt from the log"),
    "L1s": ("B15", "the released 4.x line after #2295 (4.3.0, 4.4.1): L1's hooks, B15's step_created and "
                   "wait_created without `.created` locks, no stepLocks"),
    "L3749": ("", "#3749 (open): a wait_completed of an ended run whose wait entity is gone publishes "
                  "its event (with the runtime's R3749)"),
    "L1F": ("", "L1 with #2113's fence: a compare-and-set on lastKnownEventId under a per-run server lock "
                "(models.fence)"),
    "L1Fm": ("B25", "L1F whose server mints the event id on arrival, before the run lock (models.fence)"),
    "L1Fc": ("", "L1F whose fenced write meeting another write of the run is told a plain 409 (hypothesis, "
                 "models.fence)"),
    "L1Fp": ("", "L1F whose server patches then PUTs the run document: of two overlapping writes only the last "
                 "PUT's event is kept (hypothesis, models.fence)"),
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
    # B22 (#2029): the scan's wait_completed appended to a stale snapshot flips the race's branch.
    # And D9: world-local's process delivers its queued messages at once (models.queues), so the hook's
    # wake-up and the sleep's timeout replay the corrupted log together and both write run_failed (I-R2;
    # some seeds find it first)
    # And D7 (I-H4), found going on past the first (seed 2): once the corrupted run fails (run_failed
    # deletes its hooks), a stale delivery still replaying the sleep's branch creates its "close" hook:
    # a hook entity outliving the run, hook_created after run_failed
    ("hook-sleep-race", "L1"): "I-REPLAY|I-R2|I-H4",
    # found by this model: with #2029's re-read the log still corrupts when the hook_received, whose
    # eventId was minted before the scan's wait_completed, is published after the re-read (B25); D9 as above
    ("hook-sleep-race-2029", "L1"): "I-REPLAY|I-R2|I-H4",
    # #2113 on world-local: the world ignores lastKnownEventId (as it did then), so R2113 is R2029 here: B25
    # (and D9, D7 as above)
    ("hook-sleep-race-2113", "L1"): "I-REPLAY|I-R2|I-H4",
    # D8: the local twin of #2331. Two executors in two processes both pass step_started's re-read:
    # both PUT attempt 1 (the entity's attempt lags the log: I-S4), or one publishes after the other's
    # step_completed (I-S2); and D9: both see "all steps done", replay inline and write run_completed
    ("step-2331", "L1"): "I-S2|I-S4|I-R2",
    # D5: a crash after run_completed's PUT of the terminal run entity, before its event; the redelivery
    # is lost with the process and the restart re-enqueues no terminal run: the entity says completed,
    # the log never ends (I-ORPHAN for terminal runs; I-ENTITY-FOLD names the same state)
    ("run-complete-crash", "L1"): "I-ORPHAN",
    # D9: no lock spans the terminal check and the publish, so two deliveries both write run_completed
    ("run-complete-race", "L1"): "I-R2",
    # 3.4: a body that fails and is retried, or fails for good, on one executor
    ("step-retry", "L1"): "hold",
    ("step-fail", "L1"): "hold",
    # two executors of a retried step: D8 again (both PUT the same attempt, or a late write), and D9
    ("step-retry-race", "L1"): "I-S2|I-S4|I-R2",
    # B14 (#1388/#1434) and B15 (#1877): before the lock files two concurrent writers both pass the
    # read-then-check (or the racy no-overwrite write) and both publish
    ("step-create-pair", "B14"): "I-S1",
    ("wait-create-pair", "B14"): "I-W1",
    ("wait-complete-pair", "B14"): "I-W1",
    ("step-create-pair", "B15"): "I-S1",
    ("wait-create-pair", "B15"): "I-W1",
    ("wait-complete-pair", "B15"): "hold",
    # #1434's other half: step_completed read-check-write, two executors both complete one step
    ("step-complete-race", "B14"): "I-S3",
    ("step-complete-race", "B15"): "hold",
    **{(w, "L1"): "hold" for w in ("step-create-pair", "wait-create-pair", "wait-complete-pair")},
    # the released 4.x line (4.3.0, 4.4.1) keeps B15's unguarded step_created and wait_created
    ("step-create-pair", "L1s"): "I-S1",
    ("wait-create-pair", "L1s"): "I-W1",
    # found by this model: start()'s run_created mints its id first but publishes after its entity, so a
    # delivery in between logs run_started before run_created; the resilient path mints run_created's
    # id after run_started's (E2), so it sorts after it for good
    ("run-create-race", "L1"): "I-R1",
    # ... and I-LIVE (first in 1 of seeds 1..20, found going on past I-R1 at seed 1): a crash loses the
    # seeded message with p1 and the restart's re-enqueue scans runs before start() has created the run.
    # An artefact of the seeding (README: a scenario's processes start before its runs exist; upstream's
    # start() queues the message after the run file), listed so that it does not hide I-R1
    # ... and I-ORPHAN (10 of seeds 1..20, going on past I-R1): the crash falls between hook_created's
    # publish (E6) and its deferred entity write (E7); the restart's replay sees the event and never retries
    # it, so nothing repairs the entity (the same window as hook-1665-crash's I-ORPHAN)
    ("run-create-crash", "L1"): "I-R1|I-LIVE|I-ORPHAN",
    # D2, D1: a crash after the wait's lock file, before its event: every retry 409
    ("wait-create-crash", "L1"): "I-ORPHAN",
    ("wait-complete-crash", "L1"): "I-ORPHAN",
}
FINDINGS = {("hook-1665-complete", "L1"): "D-L1-ZOMBIE", ("hook-sleep-race", "L1"): "B22, D9, D7",
            ("hook-sleep-race-2029", "L1"): "B25, D9, D7", ("hook-sleep-race-2113", "L1"): "B25, D9, D7", ("hook-1665-crash", "L1"): "D3, D4, D8",
            ("step-create-crash", "L1"): "D3", ("step-2331", "L1"): "D8, D9", ("run-complete-crash", "L1"): "D5",
            ("run-complete-race", "L1"): "D9", ("step-retry-race", "L1"): "D8, D9",
            ("run-create-race", "L1"): "D-L-RUN-ORDER", ("run-create-crash", "L1"): "D-L-RUN-ORDER",
            ("wait-create-crash", "L1"): "D2", ("wait-complete-crash", "L1"): "D1"}

# the catalogue bug a pair shows, where its revision has several
BUG_OF = {("step-create-pair", "B14"): "B15", ("step-create-pair", "L1s"): "B15", ("wait-create-pair", "L1s"): "B15", ("wait-create-pair", "B14"): "B15", ("wait-complete-pair", "B14"): "B14",
          ("step-complete-race", "B14"): "B14"}


def scenario(workload: str, revision: str, expect: str | None = None, **params) -> Scenario:
    expect = expect or EXPECT.get((workload, revision), "hold")
    bug = FINDINGS.get((workload, revision)) or (BUG_OF.get((workload, revision), MODEL_NOTES.get(revision, ("",))[0])
                                                 if expect != "hold" else "")
    rev = REVISIONS[revision]
    return build_scenario(WORLD, revision, rev, WORKLOADS, workload, expect, bug,
                          local_invariants(rev.entity_after_event), "2", **params)



MODELS = model_infos(WORLD, {r: (bug, note) for r, (bug, note) in MODEL_NOTES.items()}, {"B1": ("local:L0",)}) + \
    ulid_twin_infos(WORLD, MODEL_NOTES)

SCENARIOS = [scenario(w, r) for (w, r) in EXPECT]


build = on_demand(WORLD, WORKLOADS, REVISIONS, scenario)


# ---- how runs end and what the runtime swallows (models.workloads_runs): B26, B29, B31 -------------
WORKLOADS.update(RUN_WORKLOADS)
RUN_EXPECT = {
    # #1418 scenario 7 argues a late step_started meets the completed step (409); world-local's
    # step_started re-reads, then writes: it lands after step_completed or loses an attempt (D8)
    ("swallow-7", "L1"): "I-S4|I-S2",
    # B29 (#3749): the wake of an ended run is acked before the scan, its due wait stays open;
    # the runtime's fix alone meets "Wait not found" (the entity went with the run). With two deliveries
    # in flight per process the wake-up may also run beside the run's completion, as on L3749 below:
    # both complete the run (I-R2, D9) or the scan PUTs the wait entity back (I-R3, D-L-WAIT-RESURRECT).
    # The schedule decides which shows first (seed 1 meets I-R2 first since the suspension handler's
    # step_created and wait_created are concurrent actors, which changed the random draws)
    ("wait-after-end", "L1"): "I-W2|I-R2|I-R3",
    ("wait-after-end-3749", "L1"): "I-W2|I-R2|I-R3",
    # with world-local's two deliveries in flight per process (models.queues) the wake-up and the run's
    # completion run side by side: I-W2 holds, but the wait_completed that read the wait entity before
    # the termination deleted it PUTs it back after run_completed (I-R3, found by this model:
    # D-L-WAIT-RESURRECT; no lock spans wait_completed and the termination), or both deliveries
    # complete the run (I-R2, D9)
    ("wait-after-end-3749", "L3749"): "I-R3|I-R2",
    # B30 (#2780): a hook's wake replays in the process whose other delivery runs the step inline; the
    # replay queues the step again and a second executor runs its body while the first is in flight
    # (I-EXEC); #2780's fix (runtime R2780: ownerMessageId on step_started) defers the wake
    ("wake-mid-step", "L1"): "I-EXEC",
    ("wake-mid-step-2780", "L1"): "hold",
}
RUN_FINDINGS = {("swallow-7", "L1"): "D8", ("wait-after-end", "L1"): "B29",
                ("wait-after-end-3749", "L1"): "B29", ("wait-after-end-3749", "L3749"): "D-L-WAIT-RESURRECT, D9",
                ("wake-mid-step", "L1"): "B30"}
EXPECT.update(RUN_EXPECT)
FINDINGS.update(RUN_FINDINGS)
SCENARIOS += [scenario(w, r) for (w, r) in RUN_EXPECT]


# ---- #2113's fence (models.fence): world-local's log order with the server's compare-and-set -----------
# with the fence (one worker; world-local's two deliveries in flight): the scan's fenced wait_completed is
# refused once hook_received is in, and its retry replays the reloaded log (sampled; see README)
EXPECT[("hook-sleep-race-2113", "L1F")] = "hold"
SCENARIOS.append(scenario("hook-sleep-race-2113", "L1F"))

# B25 by search as I-LOG2 (a diagnostic, opt-in): hook_received's key, minted before the scan's
# wait_completed, is published after a reader (the re-read after the snapshot's cursor) passed it
SCENARIOS.append(dataclasses.replace(scenario("hook-sleep-race-2029", "L1", log_prefix=True),
                                     expect="I-LOG2", bug="B25"))

# ---- the resilient resumeHook (models.resume): B32 --------------------------------------------------
# the consumer's re-ensure checks the snapshot its delivery loaded, the client's own hook_received commits
# after it: two hook_received for one resumeId (I-H9); through the (runId, resumeId) key it holds
WORKLOADS.update(RESUME_WORKLOADS)
RESUME_EXPECT = {("resume-resilient", "L1"): "I-H9", ("resume-resilient-keyed", "L1"): "hold"}
EXPECT.update(RESUME_EXPECT)
FINDINGS[("resume-resilient", "L1")] = "B32"
SCENARIOS += [scenario(w, r) for (w, r) in RESUME_EXPECT]

# #2113's site alone (fenced-site: one delivery of a due wait racing one resumeHook), each runtime on each log
# order (README, "The fenced site"): an id minted before the lock (L1, L1Fm) lets hook_received commit below
# the scan's wait_completed, which no re-read or fence at commit time sees (B25); minted under the lock (L1F)
# a run's ids are in commit order, and #2029's re-read is already enough (DPOR: exhaustive, 110)
FENCED_SITE = {
    **{("fenced-site", r): "I-REPLAY" for r in ("L1", "L1F", "L1Fm")},
    **{(w, r): "I-REPLAY" for w in ("fenced-site-2029", "fenced-site-2113") for r in ("L1", "L1Fm")},
    **{(w, "L1F"): "hold" for w in ("fenced-site-2029", "fenced-site-2113")},
    # the contention hypothesis does not hang two sleeps under the broad branch (README): hold (sampled)
    ("two-sleeps", "L1Fc"): "hold",
    # ... the lost-update hypothesis does (README, "The two-sleeps hang"): a lost wait_created stays pending in
    # every replay, its re-write is answered 409 and its wake-up fires forever; the lost events also break
    # I-S4 (a step's: first in 1 of seeds 1..20), I-ORPHAN (a wait file whose event is gone), I-W1, I-S5, I-REPLAY
    ("two-sleeps", "L1Fp"): "I-LIVE|I-S4|I-ORPHAN|I-W1|I-S5|I-REPLAY",
}
EXPECT.update(FENCED_SITE)
FINDINGS.update({(w, r): ("B22" if w == "fenced-site" else "2113-hang" if w == "two-sleeps" else "B25")
                 for (w, r), v in FENCED_SITE.items() if v != "hold"})
SCENARIOS += [scenario(w, r) for (w, r) in FENCED_SITE]


# ---- the six writes #2113 leaves unfenced (models.workloads_fence): B22/B23 per site ------------------
from models.workloads_fence import FENCE_EXPECT, FENCE_WORKLOADS  # noqa: E402

WORKLOADS.update(FENCE_WORKLOADS)
for (_w, _r), _v in FENCE_EXPECT.items():
    if _r == "L1F":
        EXPECT[(_w, _r)] = _v
        SCENARIOS.append(scenario(_w, _r))

# ---- the released package (models.npm): `WORKLOAD@local-npm:VERSION`, listed beside these revisions and
# built on demand (loaded from here so that no new entry point needs a reinstall)
from models.npm import scenarios as _npm  # noqa: E402

MODELS += _npm.MODELS
_build_model = build


def build(workload: str, model: str):  # noqa: F811
    return _build_model(workload, model) or _npm.build(workload, model)
