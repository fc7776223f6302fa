"""The shared workloads against every world-postgres revision (domain doc 2.3, 4.1, 4.2), registered as
`workload@postgres:REV`.

`EXPECT` says which invariant each revision breaks on each workload. A pair is
registered only when its verdict is definite: on a workload that can reach two
known bugs, the scenario names both ("I-A|I-B") or is left out.
"""
from __future__ import annotations

import dataclasses

from models.fence import fenced
from models.invariants import one_body_per_attempt, with_repairability, world_invariants
from models.postgres.world import REVISIONS as CODE_REVISIONS
from models.resume import RESUME_WORKLOADS
from models.workloads import (WORKLOADS as SHARED, build_scenario, model_infos, on_demand, ulid_twin_infos,
                              with_process_ulids)
from models.workloads_lifecycle import WORKLOADS as LIFECYCLE
from models.workloads_runs import RUN_WORKLOADS
from models.workflow import REFERENCE  # noqa: F401  (shown by `sim list`)
from sim import Scenario, at_end

WORLD = "postgres"
WORKLOADS = {**SHARED, **LIFECYCLE}

# revision -> (bugs its code has that the workloads reach, what the revision changed)
MODEL_NOTES = {
    "B12": ("B12", "before #1434: step transitions read the status, check it, then UPDATE unguarded"),
    "P0": ("B10", "#1434: guarded UPDATEs (status NOT IN terminal); no uniqueness on events"),
    "P1": ("B1p", "#1878: unique index on creation events; a token probe finding our own hook -> hook_conflict"),
    "B2": ("B2", "#2295 head 1: own hook -> 409 without looking for its event"),
    "P2": ("B11", "#2295: own hook -> probe for hook_created, repair if absent; step_started still two autocommits"),
    "P3": ("", "#2714: step_started in one transaction; #2987: hook_received locks the run row; #2983"),
    "B13": ("B13", "#3081's versions: step_created answers 409 when the step row exists (two autocommits)"),
    "B28": ("B28", "#3575: step_created in one transaction; slot event ids (#3269/#3389); run row, slot marker "
                   "and run_created still three autocommits"),
    "P4": ("", "#3656: run row, slot marker and run_created in one transaction"),
    "B33": ("B33", "#3465: P4 with a queue whose idempotency key claim outlives its message"),
    "P4F": ("", "P4 with #2113's fence: a compare-and-set on lastKnownEventId under a per-run server lock "
                "(models.fence)"),
    "P4Fm": ("B25", "P4F whose server mints the event id on arrival, before the run lock (models.fence)"),
    "P4Fc": ("", "P4F whose fenced write meeting another write of the run is told a plain 409 (hypothesis, "
                 "models.fence)"),
    "P4Fp": ("", "P4F whose server patches then PUTs the run document: of two overlapping writes only the last "
                 "PUT's event is kept (hypothesis, models.fence)"),
    "P1m": ("B1p, B11", "P1 as released in 4.2.0: every event id minted at the top of events.create, before "
                        "any statement (the model of postgres-npm:4.2.0)"),
}
# the fenced P4 (#2113) before the twins, so it gets its per-process-id twin like every revision
REVISIONS = with_process_ulids({**CODE_REVISIONS, "P4F": fenced(CODE_REVISIONS["P4"], "P4F"),
                                "P4Fm": fenced(CODE_REVISIONS["P4"], "P4Fm", mint_early=True),
                                "P4Fc": fenced(CODE_REVISIONS["P4"], "P4Fc", contention=True),
                                "P4Fp": fenced(CODE_REVISIONS["P4"], "P4Fp", lost_update=True)})

HOLDS_FROM_P3 = ("P3", "B13", "P4")


def _bug(verdict: str, bug: str, revisions) -> dict:
    return {r: (verdict, bug) for r in revisions}


def _hold(revisions) -> dict:
    return {r: ("hold", "") for r in revisions}


# workload -> revision -> (expected verdict, the bug(s) it shows)
EXPECT_BY_WORKLOAD = {
    # B12 (#1434): two executors both past step_started complete one step twice
    "step-complete-race": {**_bug("I-S3", "B12", ["B12"]), **_hold(["P0", "P2", "P3"])},
    # B10 (#2039): two deliveries both write step_created. A delivery whose replay already saw the
    # other's step_created queues a step message instead, and that executor can run into B11; from
    # P1 the index stops B10 and only B11 is left, as in upstream's #1665 e2e run. B13's 409 on the
    # row lets the loser's executor start the step before the winner's step_created is committed.
    "step-dup": {**_bug("I-S1|I-S2", "B10, B11", ["P0"]), **_bug("I-S2", "B11", ["P1", "P2"]),
                 **_hold(["P3", "P4"]), **_bug("I-S5", "B13", ["B13"])},
    # B30 (#2780) in #1418's scenario 8 (the pull request: "safe"): the loser of step_created queues the
    # step message while the winner runs the step inline; graphile's job_key does not dedupe a job nobody
    # holds yet, and the second executor's step_started restarts the running step: two bodies in flight
    # with no crash or redelivery (I-EXEC's in-flight clause; step-dup itself does not check it, so that
    # B11/B13 stay the bugs it names)
    "step-dup-exec": _bug("I-EXEC", "B30", ["P4"]),
    # B11 (#2331): a late step_started lands after step_completed
    "step-2331": {**_bug("I-S2", "B11", ["P0", "P1", "P2"]), **_hold(HOLDS_FROM_P3),
                  # found by this model: #2714 mints step_started's id after the row lock, which orders ids
                  # within one server process only; the other process's ids of the same millisecond (or of a
                  # clock behind) sort below it, and the late step_started lands after step_completed again
                  # (the second executor mints right after the row lock is handed over: well within a
                  # millisecond); P4 and B13 keep #2714's transaction
                  # (the late step_started lands after run_completed too, I-R2, as on local:L1: first in 5
                  # of seeds 1..20)
                  **_bug("I-S2|I-R2", "B11", ["P3u", "P4u", "B13u"]),
                  # P1 as released (4.2.0: ids minted at the top of events.create): the late step_started's
                  # id is older than any step_completed whose call began after it, so B11 needs the
                  # step_completed call to begin first and the step_started UPDATE to land before its UPDATE
                  **_bug("I-S2", "B11", ["P1m"])},
    # B13 (#3081): a crash between the step row and step_created, then a trusting 409; without the
    # index (P0) a crash after the event makes the redelivered job write a second one (B10)
    "step-create-crash": {**_bug("I-S1", "B10", ["P0"]), **_hold(["P1", "P2", "P3"]),
                          **_bug("I-ORPHAN", "B13", ["B13"]), **_hold(["P4"])},
    # B1p: the token probe finds the run's own row and writes hook_conflict
    **{w: {**_bug("I-H2", "B1p", ["P1"]), **_hold(["B2", "P2", "P3", "P4"])} for w in ("hook-converge", "hook-dup-retry")},
    # ... and in the #1665 workflow the self-conflict fails the run, which a resumeHook can outrun (#2987).
    # graphile's job_key dedupes only against a pending job, so a replay re-queues a step whose message
    # a worker holds: two executors of one step, and B11 until P3 (upstream's #1665 e2e run hit it)
    "hook-1665": {**_bug("I-H2|I-R2|I-S2", "B1p, B11", ["P1"]), **_bug("I-S2", "B11", ["B2", "P2"]),
                  **_hold(["P3", "P4"])},
    # B2 (postgres): a crash between the hook row and its event, then a trusting 409 (P1: the retry
    # finds its own row and writes hook_conflict, B1p's crash schedule)
    "hook-event-first": {**_bug("I-ORPHAN|I-H2", "B1p", ["P1"]), **_bug("I-ORPHAN", "B2", ["B2"]),
                         **_hold(["P2", "P3", "P4"])},
    # ... and on 4.2.0's model every pair's second hook_created meets its own row (the released code, too)
    "hook-pairs": {**_hold(["P3"]), **_bug("I-H2", "B1p", ["P1m"])},
    # found by this model: D7 in postgres. A duplicate hook_created whose token probe ran before the
    # winner's INSERT re-inserts the row after the run completed and its hooks were deleted; the event
    # INSERT then fails 23505 -> 409, leaving a zombie hook row that holds the token
    "hook-1665-complete": _bug("I-H4", "D7", ["P3", "P4"]),
    # found by this model: run_started's UPDATE is unguarded, so a first delivery that read the run
    # as pending revives it after another delivery completed it (run_started after run_completed)
    "run-start-race": _bug("I-R2", "D-PG-RUN-REVIVED", ["P3", "P4"]),
    # D4 confirmed: a crash between step_completed's UPDATE and its event leaves a completed row and
    # no event; every later step_started and step_completed is told 409, the run waits forever
    "hook-1665-crash": _bug("I-ORPHAN", "D4", ["P3", "P4"]),
    # B22 (#2029): the scan's wait_completed appended to a stale snapshot flips race(hook, sleep)
    "hook-sleep-race": _bug("I-REPLAY", "B22", ["P4"]),
    # found by this model: with #2029's re-read the log still corrupts when hook_received's INSERT (its
    # id drawn first) commits after the re-read: ORDER BY id puts it before wait_completed (B25)
    "hook-sleep-race-2029": _bug("I-REPLAY", "B25", ["P4"]),
    # D5: a crash between run_completed's guarded UPDATE and its event (M); the redelivery's run_started
    # is told 410 and acks: the run row says completed, the log never ends
    "run-complete-crash": _bug("I-ORPHAN", "D5", ["P3", "P4"]),
    # D9 does not reach postgres: the guarded UPDATE lets one delivery's run_completed through, the other
    # is told 409 (swallowed, the #1118 situation)
    "run-complete-race": _hold(["P3", "P4"]),
    # 3.4: a body that fails and is retried, or fails for good, on one executor
    "step-retry": _hold(["P3", "P4"]),
    "step-fail": _hold(["P3", "P4"]),
    # B33 (#3465): the handler's {timeoutSeconds} re-adds the step message under its key while the job is
    # held; a key claim that outlives its message dedupes it away, the job completes, and nothing
    # dispatches the step again: the run is stuck on it (I-LIVE). graphile's job_key (P4) dedupes only
    # against a pending job, so the re-added job runs the next attempt
    "step-retry-keyed": {**_bug("I-LIVE", "B33", ["B33"]), **_hold(["P4"])},
    # found by this model: step_retrying is still two autocommits in P3/P4 (UPDATE, then INSERT). Two
    # executors of one step (two step messages, as in #2331): the failing attempt's UPDATE puts the row
    # back to pending, the other attempt completes it and commits step_completed, then the failing
    # attempt's step_retrying is inserted after it (a late event, like B11's)
    # (P4 does not change step_retrying: registered on P3 only, it costs the main job a 4-preemption shrink)
    "step-retry-race": {**_bug("I-S2", "B11", ["P2"]), **_bug("I-S2", "D-PG-RETRY-LATE", ["P3"])},
    # B14/B15's schedules: the unique index (P1+) and the guarded UPDATE arbitrate
    **{w: _hold(["P3"]) for w in ("step-create-pair", "wait-create-pair", "wait-complete-pair")},
    # B27 (#2983): the resilient run_started creates the run, then start()'s INSERT finds the row and
    # appends a second run_created. From P3 it is a 409, but start()'s run row and run_created are two
    # autocommits: a delivery between them logs run_started first (the #3656 window), and with slot ids
    # (B28) gets a legacy id in a slot-id log. P4 (#3656) creates the run in one transaction
    "run-create-race": {**_bug("I-R1", "B27", ["P2"]), **_bug("I-R1", "D-PG-RUN-ORDER", ["P3"]),
                        **_bug("I-R1", "B28", ["B28"]), **_hold(["P4"])},
    "run-create-crash": {**_bug("I-R1", "B28", ["B28"]), **_hold(["P4"])},
    # D2, D1: a crash between the wait's row and its event: the row without the event, every retry 409
    "wait-create-crash": _bug("I-ORPHAN", "D2", ["P4"]),
    "wait-complete-crash": _bug("I-ORPHAN", "D1", ["P4"]),
    # B24 (#2171): the replay before #2171 lets a wait_completed after hook_received win the race
    "race-replay": _hold(["P4"]),
    "race-replay-pre2171": _bug("I-REPLAY", "B24", ["P4"]),
}
EXPECT = {(w, r): v for w, by_rev in EXPECT_BY_WORKLOAD.items() for r, (v, _bug_) in by_rev.items()}
BUGS = {(w, r): b for w, by_rev in EXPECT_BY_WORKLOAD.items() for r, (_v, b) in by_rev.items() if b}


# The main job's budget where the default 1000 executions miss the bug for some seeds: at least 1.5 x the
# latest first find of the default portfolio over seeds 1..20 (benchmarks/seed_matrix.py; seeds that missed
# within 3000 measured again up to 10000). D7 is found by the portfolio's PCT depth-3 member alone
BUDGETS = {
    ("hook-1665-complete", "P3"): 11200,   # D7: median 509; seeds 6, 12 at 7104, 3939
    ("hook-1665-complete", "P4"): 11200,   # D7: median 606; seeds 9, 14 at 7429, 3264
    ("hook-1665", "B2"): 2600,             # B11: median 136, max 1696 (seed 5)
    ("swallow-5", "P4"): 3000,             # D-PG-WAIT-ZOMBIE: median 463, max 1914 (seed 4)
}


def scenario(workload: str, revision: str, expect: str | None = None, **params) -> Scenario:
    expect = expect or EXPECT.get((workload, revision), "hold")
    bug = BUGS.get((workload, revision), "") if expect != "hold" else ""
    built = build_scenario(WORLD, revision, REVISIONS[revision], WORKLOADS, workload, expect, bug,
                           with_repairability(world_invariants()) + (at_end("I-EXEC", one_body_per_attempt),), "1",
                           **params)
    budget = BUDGETS.get((workload, revision))
    return built if budget is None or params else dataclasses.replace(built, budget=budget)


# P1m is P1 as released (listed last so the other revisions keep their parents)
MODELS = [dataclasses.replace(m, parent=f"{WORLD}:P1") if m.name == f"{WORLD}:P1m" else m
          for m in model_infos(WORLD, MODEL_NOTES)] + ulid_twin_infos(WORLD, MODEL_NOTES)
SCENARIOS = [scenario(w, r) for (w, r) in EXPECT]


build = on_demand(WORLD, WORKLOADS, REVISIONS, scenario)


# ---- how runs end and what the runtime swallows (models.workloads_runs): B20, B26, B31 -------------
WORKLOADS = {**WORKLOADS, **RUN_WORKLOADS}
RUN_EXPECT_BY_WORKLOAD = {
    # B26: before #1418 each of its eight scenarios ends a delivery in an escaped 409/410
    **{f"swallow-{n}-pre1418": _bug("I-NO-ESCAPE", "B26", ["P4"]) for n in range(2, 9)},
    # scenario 1 also reaches D-PG-RUN-REVIVED (as after #1418, below): the main job going on past B26
    # finds run_started after run_completed at seed 1's third execution
    "swallow-1-pre1418": _bug("I-NO-ESCAPE|I-R2", "B26, D-PG-RUN-REVIVED", ["P4"]),
    # ... and after it, where the pull request argues "safe": scenario 1 is D-PG-RUN-REVIVED (the loser's
    # unguarded run_started revives the run instead of meeting 410), scenario 4 is D7 (the loser's
    # hook_created re-inserts the row after the run ended, then 409), and scenario 5 is D7's twin for
    # waits, found by this model (the loser's wait_created re-inserts the wait row after the run ended
    # and deleted it, then 409: a wait row of an ended run)
    "swallow-1": _bug("I-R2", "D-PG-RUN-REVIVED", ["P4"]),
    "swallow-2": _hold(["P4"]),
    "swallow-3": _hold(["P4"]),
    "swallow-4": _bug("I-H4", "D7", ["P4"]),
    "swallow-5": _bug("I-R3", "D-PG-WAIT-ZOMBIE", ["P4"]),
    "swallow-6": _hold(["P4"]),
    "swallow-7": _hold(["P4"]),
    # scenario 8 after #1418 is step-dup@postgres:P4 (the same two deliveries of a one-step run), which
    # holds: not registered twice (DPOR covers it in 14,208 schedules)
    # B20 (#2987): hook_received lands after a concurrent run_cancelled; P3 locks the run row
    "cancel-resume": {**_bug("I-R2", "B20", ["P2"]), **_hold(["P3"])},
    # found by this model: step_started reads the run before its transaction and never locks it, so a
    # run cancelled meanwhile gets a step_started after run_cancelled (B20's twin for steps)
    "cancel-step": _bug("I-R2", "D-STEP-AFTER-END", ["P4"]),
    # B31 (#3539): resumeHook's retried hook_received is told 409 -> "hook gone", no wake: stuck run
    "resume-retry": _bug("I-LIVE", "B31", ["P4"]),
    "resume-retry-3539": _hold(["P4"]),
}
for _w, _by_rev in RUN_EXPECT_BY_WORKLOAD.items():
    for _r, (_v, _b) in _by_rev.items():
        EXPECT[(_w, _r)] = _v
        if _b:
            BUGS[(_w, _r)] = _b
        SCENARIOS.append(scenario(_w, _r))
# B25 by search as I-LOG2 (opt-in): hook_received's INSERT draws its id, then commits after the
# re-read after the snapshot's cursor passed it
SCENARIOS.append(dataclasses.replace(scenario("hook-sleep-race-2029", "P4", log_prefix=True),
                                     expect="I-LOG2", bug="B25"))
# B25 at one millisecond, as I-LOG3: the resumeHook caller (another app instance, its own factory) commits
# hook_received; the scan's delivery reads it and mints wait_completed within the same millisecond, and
# that id sorts below it: the re-read after the cursor (hook_received) misses it, the cold replay takes
# the sleep. I-LOG2 breaks in the same state (the scan had read hook_received); I-LOG3 is listed first
SCENARIOS.append(dataclasses.replace(scenario("hook-sleep-race-2029", "P4u", log_prefix=True),
                                     expect="I-LOG3|I-LOG2", bug="B25"))
# ... and in other schedules hook_received's id, drawn first (B25 as on P4), sorts below an event the scan
# had read without any mint of that millisecond: I-LOG2 alone, first in 8 of seeds 1..20
# (benchmarks/seed_matrix.py); B25 either way
build = on_demand(WORLD, WORKLOADS, REVISIONS, scenario)


# ---- the resilient resumeHook (models.resume): B32 as on world-local --------------------------------
WORKLOADS.update(RESUME_WORKLOADS)
for _w, _v in (("resume-resilient", "I-H9"), ("resume-resilient-keyed", "hold")):
    EXPECT[(_w, "P4")] = _v
    if _v != "hold":
        BUGS[(_w, "P4")] = "B32"
    SCENARIOS.append(scenario(_w, "P4"))

# #2113's site alone (fenced-site), each runtime on each log order: P4 and P4Fm draw hook_received's id
# before the scan's wait_completed commits (B25); P4F draws ids under the run lock (README, "The fenced site")
FENCED_SITE = {
    "fenced-site": _bug("I-REPLAY", "B22", ["P4", "P4F", "P4Fm"]),
    **{w: {**_bug("I-REPLAY", "B25", ["P4", "P4Fm"]), **_hold(["P4F"])} for w in ("fenced-site-2029", "fenced-site-2113")},
    # #2113's follow-up hang on the lost-update hypothesis (README, "The two-sleeps hang")
    "two-sleeps": _bug("I-LIVE|I-S4", "2113-hang", ["P4Fp"]),
}
for _w, _by_rev in FENCED_SITE.items():
    for _r, (_v, _b) in _by_rev.items():
        EXPECT[(_w, _r)] = _v
        if _b:
            BUGS[(_w, _r)] = _b
        SCENARIOS.append(scenario(_w, _r))

# ---- the six writes #2113 leaves unfenced (models.workloads_fence): B22/B23 per site ------------------
from models.workloads_fence import FENCE_EXPECT, FENCE_WORKLOADS  # noqa: E402

WORKLOADS.update(FENCE_WORKLOADS)
for (_w, _r), _v in FENCE_EXPECT.items():
    if _r == "P4F":
        EXPECT[(_w, _r)] = _v
        SCENARIOS.append(scenario(_w, _r))
build = on_demand(WORLD, WORKLOADS, REVISIONS, scenario)

# ---- the released package (models.npm.pgscenarios): `WORKLOAD@postgres-npm:VERSION`, listed beside these
# revisions and built on demand
from models.npm import pgscenarios as _npm  # noqa: E402

MODELS += _npm.MODELS
_build_model = build


def build(workload: str, model: str):  # noqa: F811
    return _build_model(workload, model) or _npm.build(workload, model)
