"""The released @workflow/world-local under sim's scheduler (models/npm): gates, crashes, replay, verdicts.

These need Node and npm (the pinned versions install themselves on first use). Outside CI they are
skipped when `node` is missing; in CI (CI=true) they fail instead, so they never skip there.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import sim
from models.npm import workers
from models.npm.world import footprint
from sim import RandomWalk, registry
from sim.explore import run_tape
from sim.strategy import make as make_strategy

IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
needs_node = pytest.mark.skipif(shutil.which("node") is None and not IN_CI, reason="Node.js is not installed")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_footprints_from_operation_and_path():
    assert footprint({"kind": "readFile", "path": "runs/r.json"}) == ((("fs", "runs/r.json"),), ())
    assert footprint({"kind": "readdir", "path": "events"}) == ((("dir", "events"),), ())
    assert footprint({"kind": "access", "path": "hooks/h.json"}) == ((("fs", "hooks/h.json"),), ())
    _, w = footprint({"kind": "rename", "path": "events/e.json.tmp.X", "path2": "events/e.json"})
    assert set(w) == {("fs", "events/e.json.tmp.X"), ("fs", "events/e.json"), ("dir", "events")}
    _, w = footprint({"kind": "writeFile", "path": "hooks/tokens/t.json"})
    assert set(w) == {("fs", "hooks/tokens/t.json"), ("dir", "hooks/tokens")}


def test_node_missing_is_one_line_error():
    env = {**os.environ, "PATH": "/nonexistent", "PYTHONPATH": ROOT}
    env.pop("SIM_NODE", None)
    out = subprocess.run([sys.executable, "-m", "sim", "explore", "--scenario", "hook-pairs@local-npm:4.4.1",
                          "--budget", "1", "--no-shrink"], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Node.js" in lines[0] and "Traceback" not in out.stderr, out.stderr


@needs_node
def test_2283_found_on_4_1_0_by_the_default_strategy():
    sc = registry.get("hook-1665@local-npm:4.1.0")
    res = sim.explore(sc, make_strategy("portfolio", 1), budget=40)
    assert res.violation is not None and res.violation.invariant == "I-H2", res.violation
    assert "hook_conflict" in res.violation.message
    # the trace names the package and version and replays bit for bit (a reused worker mints the same ids)
    trace = sim.make_trace(sc, res.tape, strategy={"name": "portfolio", "seed": 1}, execution=res.found_at)
    assert trace.params["model"] == "local-npm:4.1.0" and trace.revision == "world-local@4.1.0"
    again = sim.replay(trace)
    assert again.same_verdict and again.replayed.to_json() == trace.to_json()


@needs_node
def test_4_4_1_converges_and_a_crash_kills_the_worker():
    sc = registry.get("hook-pairs@local-npm:4.4.1")
    before = workers.crashed
    res = sim.explore(sc, RandomWalk(seed=3, fault_rate=0.3), budget=6)
    assert res.violation is None, res.violation
    assert workers.crashed > before   # some execution crashed a process between two operations


@needs_node
def test_a_schedule_does_not_depend_on_which_worker_runs_it():
    sc = registry.get("hook-pairs@local-npm:4.4.1[pairs=1]")
    tape = list(run_tape(sc, RandomWalk(seed=5)).tape)
    warm = sim.make_trace(sc, tape, strategy={"name": "random", "seed": 5})
    workers.close_all()   # fresh Node processes: the same schedule, the same ids, the same trace
    cold = sim.make_trace(sc, tape, strategy={"name": "random", "seed": 5})
    assert warm.to_json() == cold.to_json()
    assert any("published hook_created" in n for st in warm.steps for n in st.notes)
