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
    assert footprint({"kind": "readdir", "path": "events"}) == ((("dir", "events"),), ())   # no temporary names
    tmp = "events/e.json.tmp.01KDVDNA021W3M6SRFBAH9SYM8"
    exists = {tmp, "events", "hooks/tokens"}.__contains__
    _, w = footprint({"kind": "rename", "path": tmp, "path2": "events/e.json"}, exists)
    assert set(w) == {("fs", tmp), ("fs", "events/e.json"), ("dir", "events")}
    r, w = footprint({"kind": "writeFile", "path": "hooks/tokens/t.json" + tmp[-31:]}, exists)
    assert set(w) == {("fs", "hooks/tokens/t.json" + tmp[-31:])} and ("tmpdir", "hooks/tokens") in r
    assert footprint({"kind": "mkdir", "path": "events", "recursive": True}, exists)[1] == ()
    _, w = footprint({"kind": "mkdir", "path": "hooks", "recursive": True}, exists)
    assert ("dir", "") in w and ("dir", "hooks") in w


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
    res = sim.explore(sc, make_strategy("portfolio", 1), budget=60)   # found at execution 31 (README)
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


# ---- the footprints are sound: DPOR over them reaches what DFS reaches, on a model of the same operations ----

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sim import DFS, Scenario, always, keys_where, point  # noqa: E402
from sim.strategy import DPOR  # noqa: E402
from models.npm.world import is_temp  # noqa: E402
from tests.test_dpor import outcomes  # noqa: E402

TMP1, TMP2 = ".tmp.01KDVDNA021W3M6SRFBAH9SYM8", ".tmp.01KDVDNA04RQSGFV45W6R1YKQ2"
FILES = ("a/x.json", "a/y.json", "a/x.json" + TMP1, "a/x.json" + TMP2, "a/b/x.json", "a/b/x.json" + TMP1)
DIRS = ("a", "a/b")


class FakeFs:
    """POSIX's answers to the gated operations, over a dict (path -> None for a directory, else content):
    every result, errors included, is folded into the calling actor's accumulator and into what it
    writes, so the order of any two operations that do not commute shows in the final state."""

    def __init__(self):
        self.nodes = {"": None}
        self.acc = {}

    def exists(self, p):
        return p in self.nodes

    def below(self, p):
        return sorted(q for q in self.nodes if q.startswith(p + "/"))

    def run(self, me, op):
        kind, p, q = op["kind"], op["path"], op.get("path2")
        n, par = self.nodes, p.rpartition("/")[0]
        acc = self.acc.get(me, 1)
        if kind == "readdir":   # as the worker answers it: without temporary names
            out = sorted(k.rpartition("/")[2] for k in n if k and k.rpartition("/")[0] == p and not is_temp(k)) \
                if p in n and n[p] is None else "ENOENT"
        elif kind in ("readFile", "access"):
            out = n.get(p, "ENOENT") if p in n else "ENOENT"
        elif kind == "mkdir":
            if p in n:
                out = "ok" if n[p] is None and op.get("recursive") else "EEXIST"
            elif op.get("recursive"):
                chain = [p]
                while chain[-1].rpartition("/")[0] not in n:
                    chain.append(chain[-1].rpartition("/")[0])
                out = "ENOTDIR" if n.get(chain[-1].rpartition("/")[0], None) is not None else "ok"
                if out == "ok":
                    for c in chain:
                        n[c] = None
            else:
                out = "ENOENT" if n.get(par, 0) is not None else "ok"
                if out == "ok":
                    n[p] = None
        elif kind == "writeFile":
            out = "ENOENT" if n.get(par, 0) is not None else ("EISDIR" if p in n and n[p] is None else "ok")
            if out == "ok":
                n[p] = f"{me}:{acc}"
        elif kind in ("link", "rename"):
            qpar = q.rpartition("/")[0]
            if p not in n or n.get(qpar, 0) is not None:
                out = "ENOENT"
            elif kind == "link" and q in n:
                out = "EEXIST"
            else:
                out = "ok"
                n[q] = n[p]
                if kind == "rename":
                    del n[p]
        elif kind == "unlink":
            out = "ENOENT" if p not in n else ("EISDIR" if n[p] is None else "ok")
            if out == "ok":
                del n[p]
        elif kind == "rm":
            out = "ok" if p in n else "ENOENT"
            for c in [p, *self.below(p)] if p in n else ():
                del n[c]
        self.acc[me] = hash_fold(acc, kind, p, out)


def hash_fold(acc, *parts) -> int:
    for s in map(str, parts):
        for ch in s:
            acc = (acc * 31 + ord(ch)) % 1_000_003
    return acc


fs_ops = st.one_of(
    st.builds(lambda p: {"kind": "readdir", "path": p}, st.sampled_from(DIRS)),
    st.builds(lambda p: {"kind": "readFile", "path": p}, st.sampled_from(FILES)),
    st.builds(lambda p: {"kind": "access", "path": p}, st.sampled_from(FILES)),
    st.builds(lambda p, r: {"kind": "mkdir", "path": p, **({"recursive": True} if r else {})},
              st.sampled_from(DIRS), st.booleans()),
    st.builds(lambda p: {"kind": "writeFile", "path": p}, st.sampled_from(FILES)),
    st.builds(lambda p: {"kind": "unlink", "path": p}, st.sampled_from(FILES)),
    st.builds(lambda k, p, q: {"kind": k, "path": p, "path2": q}, st.sampled_from(["link", "rename"]),
              st.sampled_from(FILES), st.sampled_from(FILES)),
    st.builds(lambda p: {"kind": "rm", "path": p, "recursive": True}, st.just("a/b")),
)


def fs_scenario(actors, seeded, fp=footprint) -> Scenario:
    def setup(sim):
        fs = FakeFs()
        for p in seeded:   # some files and directories exist before the actors run
            for d in ("a", "a/b")[: p.count("/")]:
                fs.nodes[d] = None
            fs.nodes[p] = "seed"

        async def actor(me, ops):
            for op in ops:
                await point(f"{op['kind']} {op['path']}", reads=lambda op=op: fp(op, fs.exists, fs.below)[0],
                            writes=lambda op=op: fp(op, fs.exists, fs.below)[1])
                fs.run(me, op)

        for i, ops in enumerate(actors):
            sim.process(f"p{i}", lambda p, i=i, ops=ops: p.spawn("a", actor, i, ops))
        return {"state": fs.nodes, "acc": fs.acc, "fs": fs}

    def visible_count(s):   # reads what NpmView's invariants read: no temporary names
        return sum(1 for k in s["fs"].nodes if k.startswith("a/") and k.endswith(".json")) != 3 or "three visible files"

    return Scenario("fs-ops", setup, max_steps=100, invariants=(
        always("I-VISIBLE", visible_count, reads=keys_where(lambda k: k[0] in ("dir", "fs") and not is_temp(k[1]))),))


def fs_outcomes(scenario, strategy) -> tuple[set, int]:
    """Final states (the tree and every actor's accumulator) and violations, and the executions run."""
    finals, violations, runs = outcomes(scenario, strategy)
    return finals | violations, runs


fs_programs = st.tuples(st.lists(st.lists(fs_ops, min_size=1, max_size=3), min_size=2, max_size=3),
                        st.lists(st.sampled_from(FILES + DIRS), max_size=2, unique=True))


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(program=fs_programs)
def test_dpor_over_the_gated_operations_footprints_reaches_what_dfs_reaches(program):
    actors, seeded = program
    sc = fs_scenario(actors, seeded)
    dfs, _ = fs_outcomes(sc, DFS())
    dpor, _ = fs_outcomes(sc, DPOR())
    assert dpor == dfs


def test_a_wrong_refinement_is_caught_by_the_comparison():
    # a temporary file's creation as reading nothing of its directory: it then "commutes" with the removal
    # of that directory, which it does not (written first, it is removed with it; written after, ENOENT).
    # The comparison above would fail on it.
    def wrong(op, exists, below):
        r, w = footprint(op, exists, below)
        return (tuple(k for k in r if k[0] != "tmpdir"), w) if is_temp(op["path"]) else (r, w)
    ops = [[{"kind": "rm", "path": "a/b", "recursive": True}], [{"kind": "writeFile", "path": "a/b/x.json" + TMP1}]]
    sc = fs_scenario(ops, ["a/b/x.json"], fp=wrong)
    assert fs_outcomes(sc, DPOR())[0] != fs_outcomes(sc, DFS())[0]
    dpor, runs = fs_outcomes(fs_scenario(ops, ["a/b/x.json"]), DPOR())
    assert dpor == fs_outcomes(fs_scenario(ops, ["a/b/x.json"]), DFS())[0] and runs == 2


def test_reduction_a_temporary_file_commutes_with_a_listing_of_its_directory():
    # readdir does not return temporary names (the worker leaves them out, as every listing of the
    # package filters them): creating one does not change what a listing returns
    ops = [[{"kind": "readdir", "path": "a"}], [{"kind": "writeFile", "path": "a/x.json" + TMP1}],
           [{"kind": "readdir", "path": "a"}]]
    sc = fs_scenario(ops, ["a/y.json"])
    dpor, runs = fs_outcomes(sc, DPOR())
    assert runs == 1 and dpor == fs_outcomes(sc, DFS())[0]


def test_reduction_two_temporary_files_and_an_existing_directory_commute():
    # writes of two temporary files in one directory, and mkdir -p of a directory that exists: one execution
    ops = [[{"kind": "mkdir", "path": "a", "recursive": True}, {"kind": "writeFile", "path": "a/x.json" + TMP1}],
           [{"kind": "mkdir", "path": "a", "recursive": True}, {"kind": "writeFile", "path": "a/x.json" + TMP2}]]
    sc = fs_scenario(ops, ["a/y.json"])
    dpor, runs = fs_outcomes(sc, DPOR())
    assert runs == 1 and dpor == fs_outcomes(sc, DFS())[0]


# ---- the quiet clock: only steps that may read the time declare it, and only those that did are ordered ----

from sim import Store  # noqa: E402
from models.npm.world import CLOCK  # noqa: E402

# a call: (reads the time again later?, [does step i read the time?]); its first step is its start
clock_calls = st.lists(st.tuples(st.booleans(), st.lists(st.booleans(), min_size=1, max_size=2)), min_size=1,
                       max_size=2)


def clock_scenario(actors) -> Scenario:
    """NpmWorld._call's rule over a model of the quiet clock: a step declares CLOCK while its call has not
    read the time yet or may read it again; a step that reads it takes the next millisecond (recorded
    read and write of the clock's store key) and folds it into its actor's accumulator. A reading where
    the rule declares none is malformed (the world stops it) and is not generated."""
    def setup(sim):
        minted = Store(CLOCK[0], {CLOCK[1]: 0})
        acc = {}

        async def actor(me, calls):
            for late, steps in calls:
                unread = True
                for i, reads in enumerate(steps):
                    may = unread or late
                    own = (("npm", me), CLOCK) if may else (("npm", me),)
                    await point(f"{me} step {i}", reads=own, writes=own)
                    if reads and may:
                        t = minted[CLOCK[1]] + 1
                        minted[CLOCK[1]] = t
                        acc[me] = hash_fold(acc.get(me, 1), t)
                        unread = False
        for i, calls in enumerate(actors):
            sim.process(f"p{i}", lambda p, i=i, calls=calls: p.spawn("a", actor, i, calls))
        return {"state": {}, "acc": acc}

    return Scenario("quiet-clock", setup, max_steps=100)


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=st.lists(clock_calls, min_size=2, max_size=3))
def test_dpor_over_the_quiet_clock_reaches_what_dfs_reaches(actors):
    sc = clock_scenario(actors)
    assert fs_outcomes(sc, DPOR())[0] == fs_outcomes(sc, DFS())[0]


def test_reduction_steps_that_read_no_time_are_not_ordered_by_the_clock():
    # two calls that read the time at their start only: their later steps commute, the two starts do not
    sc = clock_scenario([[(False, [True, False, False])], [(False, [True, False, False])]])
    dpor, runs = fs_outcomes(sc, DPOR())
    assert runs == 2 and dpor == fs_outcomes(sc, DFS())[0]
