"""world-postgres step lifecycle through its revisions (domain doc 2.3, 4.2): B10 (#2039), B11 (#2331),
B12 (#1434) and B13 (#3081) are each found from their revision by the default strategy, their
counterexamples replay to the catalogue's failure, and P3 holds within stated bounds."""
from __future__ import annotations

import pytest

import sim

from models import events as ev
from models.postgres.scenarios import BUGS, EXPECT, scenario
from scenarios._support import counterexample, events_by_type, holds_exhaustively, holds_randomly, publishers
from sim.cli import main
from sim.strategy import DFS
from sim.trace import save

HOLD_SCHEDULES = 300    # random schedules P3 must survive per workload
STEP_WORKLOADS = ("step-dup", "step-2331", "step-complete-race", "step-create-crash", "run-start-race")
BUGGY = sorted((w, r, e) for (w, r), e in EXPECT.items() if w in STEP_WORKLOADS and e != "hold")


@pytest.mark.parametrize("workload,revision,expected", BUGGY, ids=[f"{BUGS[(w, r)]}-{r}-{w}" for w, r, _ in BUGGY])
def test_each_bug_is_found_from_its_revision(workload, revision, expected):
    counterexample(scenario(workload, revision), expected)


def _steps(env, run) -> dict:
    out: dict = {}
    for e in env.view.log(run):
        if e["eventType"].startswith("step_"):
            out.setdefault(e["correlationId"], []).append(e["eventType"])
    return out


def test_b11_2331_replays_as_a_late_step_started(capsys, tmp_path):
    # the upstream report: step_started, step_completed, step_started for one correlationId
    s = scenario("step-2331", "P2")
    trace, env = counterexample(s, "I-S2")
    (run,) = env.workflows
    ((corr, types),) = _steps(env, run).items()
    assert types[-3:] == [ev.STEP_STARTED, ev.STEP_COMPLETED, ev.STEP_STARTED]
    assert publishers(trace, "step_started") == {"p1", "p2"}   # the two executors
    # `sim replay` prints the step's events, in log order, in the violation it reproduces
    path = save(trace, tmp_path, "b11")
    assert main(["replay", str(path)]) == 1
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("reproduced: I-S2"))
    shown = [event.split()[0] for event in line.rsplit(": ", 1)[-1].split(", ")]
    assert shown[-3:] == ["step_started", "step_completed", "step_started"], line


def test_b10_2039_replays_as_a_duplicate_step_created():
    trace, env = counterexample(scenario("step-dup", "P0"), "I-S1")
    (run,) = env.workflows
    ((corr, types),) = _steps(env, run).items()
    assert types.count(ev.STEP_CREATED) == 2
    assert publishers(trace, "step_created") == {"p1", "p2"}


def test_b12_1434_replays_as_two_completions():
    _, env = counterexample(scenario("step-complete-race", "B12"), "I-S3")
    (run,) = env.workflows
    ((corr, types),) = _steps(env, run).items()
    assert types.count(ev.STEP_COMPLETED) == 2
    # both executors were told "ok": neither completion was refused
    assert env.ledger.issued[(run, ev.STEP_COMPLETED, corr)] == ["ok", "ok"]


def test_b13_3081_replays_as_a_step_row_without_its_event():
    trace, env = counterexample(scenario("step-create-crash", "B13"), "I-ORPHAN")
    (run,) = [r for r in env.view.runs()]
    corr = next(iter(k[2] for k in env.ledger.issued if k[1] == ev.STEP_CREATED))
    assert env.view.step(run, corr) is not None                       # the row (the exactly-once claim)
    assert ev.STEP_CREATED not in events_by_type(env, run)             # ... without its event
    assert env.ledger.issued[(run, ev.STEP_CREATED, corr)][-1] == "409"   # and the retry was told 409
    assert any(s.kind == "crash" for s in trace.steps)


def test_b13_without_a_crash_starts_a_step_before_it_is_created():
    # the 409 on an existing row sends the loser's step message to an executor that starts the step
    # before the winner's step_created is committed
    _, env = counterexample(scenario("step-dup", "B13"), "I-S5")
    (run,) = env.workflows
    ((corr, types),) = _steps(env, run).items()
    assert types[0] == ev.STEP_STARTED and ev.STEP_CREATED not in types   # started, not (yet) created
    assert "409" in env.ledger.issued[(run, ev.STEP_CREATED, corr)]      # the loser was told "exists"


def test_revived_run_is_found_in_p3():
    # not in the catalogue: run_started's unguarded UPDATE lets a first delivery that read the run as
    # pending revive it after another delivery completed it
    _, env = counterexample(scenario("run-start-race", "P3"), "I-R2")
    (run,) = env.workflows
    types = [e["eventType"] for e in env.view.log(run)]
    assert types.index(ev.RUN_COMPLETED) < len(types) - 1 and types[-1] == ev.RUN_STARTED
    assert env.view.run(run)["status"] == "running"   # the completed run is running again


# (workload, revision, at least this many schedules): exhaustive with DPOR within the workload's faults
EXHAUSTIVE = [
    ("step-complete-race", "P3", 2),   # which completion commits first
    ("step-create-crash", "P3", 5),
    ("step-create-crash", "P4", 5),
]


# workloads too small for random sampling to say anything are covered exhaustively instead
HOLDING = sorted(w for (w, r), e in EXPECT.items() if r == "P3" and e == "hold" and w in STEP_WORKLOADS
                 and w not in {x for x, _, _ in EXHAUSTIVE})


@pytest.mark.parametrize("workload", HOLDING)
def test_p3_holds_under_random_schedules(workload, record_property):
    res = holds_randomly(scenario(workload, "P3"), HOLD_SCHEDULES)
    record_property("schedules", res.executions)


@pytest.mark.parametrize("workload,revision,at_least", EXHAUSTIVE, ids=[f"{w}-{r}" for w, r, _ in EXHAUSTIVE])
def test_fixed_revisions_hold_exhaustively(workload, revision, at_least, record_property):
    res = holds_exhaustively(scenario(workload, revision), at_least)
    record_property("schedules", res.executions)


def test_b11_needs_one_preemption_and_p3_holds_within_two(record_property):
    # CHESS-style bounds: the #2331 interleaving is one preemption deep (the executor is pre-empted between
    # its UPDATE and its INSERT); the transaction of #2714 leaves no such point within 2 preemptions
    found = sim.explore(scenario("step-2331", "P2"), DFS(preemption_bound=1, iterative=True))
    assert found.violation is not None and found.violation.invariant == "I-S2"
    for workload, at_least in (("step-2331", 888), ("step-dup", 1_744)):
        res = sim.explore(scenario(workload, "P3"), DFS(preemption_bound=2, iterative=True))
        record_property(f"{workload} schedules", res.executions)
        assert res.violation is None, res.violation
        assert res.complete and res.executions >= at_least


def test_p3_holds_on_2331_exhaustively(record_property):
    # every schedule of the #2331 workload (DPOR: 1,176 executions, about 2 s; 12,064 before the log
    # invariants declared their reads)
    res = holds_exhaustively(scenario("step-2331", "P3"), 1_000)
    record_property("schedules", res.executions)
