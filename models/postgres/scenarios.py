"""The shared workloads against every world-postgres revision (domain doc 2.3, 4.1, 4.2), registered as
`workload@postgres:REV`.

`EXPECT` says which invariant each revision breaks on each workload. A pair is
registered only when its verdict is definite: on a workload that can reach two
known bugs, the scenario names both ("I-A|I-B") or is left out.
"""
from __future__ import annotations

from models.invariants import world_invariants
from models.postgres.world import REVISIONS
from models.workloads import WORKLOADS as SHARED, build_scenario, model_infos, on_demand
from models.workloads_lifecycle import WORKLOADS as LIFECYCLE
from models.workflow import REFERENCE  # noqa: F401  (shown by `sim list`)
from sim import Scenario

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
}

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
    # B11 (#2331): a late step_started lands after step_completed
    "step-2331": {**_bug("I-S2", "B11", ["P0", "P1", "P2"]), **_hold(HOLDS_FROM_P3)},
    # B13 (#3081): a crash between the step row and step_created, then a trusting 409; without the
    # index (P0) a crash after the event makes the redelivered job write a second one (B10)
    "step-create-crash": {**_bug("I-S1", "B10", ["P0"]), **_hold(["P1", "P2", "P3"]),
                          **_bug("I-ORPHAN", "B13", ["B13"]), **_hold(["P4"])},
    # B1p: the token probe finds the run's own row and writes hook_conflict
    **{w: {**_bug("I-H2", "B1p", ["P1"]), **_hold(["B2", "P2", "P3", "P4"])} for w in ("hook-converge", "hook-dup-retry")},
    # ... and in the #1665 workflow the self-conflict fails the run, which a resumeHook can outrun (#2987)
    "hook-1665": {**_bug("I-H2|I-R2", "B1p", ["P1"]), **_hold(["B2", "P2", "P3", "P4"])},
    # B2 (postgres): a crash between the hook row and its event, then a trusting 409 (P1: the retry
    # finds its own row and writes hook_conflict, B1p's crash schedule)
    "hook-event-first": {**_bug("I-ORPHAN|I-H2", "B1p", ["P1"]), **_bug("I-ORPHAN", "B2", ["B2"]),
                         **_hold(["P2", "P3", "P4"])},
    "hook-pairs": _hold(["P3"]),
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


def scenario(workload: str, revision: str, expect: str | None = None, **params) -> Scenario:
    expect = expect or EXPECT.get((workload, revision), "hold")
    bug = BUGS.get((workload, revision), "") if expect != "hold" else ""
    return build_scenario(WORLD, revision, REVISIONS[revision], WORKLOADS, workload, expect, bug,
                          world_invariants(), "1", **params)


MODELS = model_infos(WORLD, MODEL_NOTES)
SCENARIOS = [scenario(w, r) for (w, r) in EXPECT]


build = on_demand(WORLD, WORKLOADS, REVISIONS, scenario)
