"""Conformance of world-local's filesystem model (models/local/fs.py) with a real directory.

A program is a few actors, each calling primitives on a shared data directory; every
interleaving (and every crash the budget allows) is run by plain DFS once on the model
(`DataDir`) and once on a real directory (`RealDataDir`). Per schedule (its tape) the
outcome is compared: each call's return value or error, the final records and the listing of
every directory. The real side's final state is read by walking the disk, not from the mirror
the backend keeps. The two DFS runs must also make the same choice trees (the same tapes):
the same steps are enabled in the same states.

    python -m tests.real_fs.conformance     # the families and the schedules compared
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from models.events import EntityConflictError
from models.local.fs import DataDir
from models.local.realfs import RealDataDir
from sim import DFS, Faults, Scenario
from sim.engine import make as make_engine

R = "events/r1/e1"   # a path whose directories do not exist yet (mkdir -p on the way)
E = "runs/r1"        # a path seeded in some programs


@dataclass(frozen=True)
class Program:
    name: str
    actors: tuple            # per actor: ((primitive, path, value), ...)
    seed: tuple = ()         # ((path, value), ...) written before the actors start
    crashes: int = 0
    one_process: bool = False   # all actors in one process (PUT_NX_RACY's in-process set is shared)


def _op(fs, prim: str, path: str, value):
    if prim == "xcreate":
        return fs.xcreate(path, value)
    if prim == "put":
        return fs.put(path, value)
    if prim == "put_nx":
        return fs.put_nx_racy(path, value)
    if prim == "delete":
        return fs.delete(path)
    if prim == "read":
        return fs.read(path)
    if prim == "list":
        return fs.listdir(path)
    if prim == "scan":
        return fs.scan(path)
    if prim == "scan_immutable":
        return fs.scan(path, immutable=True)
    raise ValueError(prim)


def scenario(prog: Program, real: bool) -> Scenario:
    def setup(sim):
        fs = RealDataDir() if real else DataDir()
        for path, value in prog.seed:
            fs.seed(path, value)
        results: dict = {}

        async def actor(i, ops):
            for j, (prim, path, value) in enumerate(ops):
                try:
                    out = await _op(fs, prim, path, value)
                    results[(i, j)] = ("ok", list(out) if isinstance(out, tuple) else out)
                except EntityConflictError as e:
                    results[(i, j)] = ("409", str(e))

        if prog.one_process:
            sim.process("p", lambda p: [p.spawn(f"a{i}", actor, i, ops) for i, ops in enumerate(prog.actors)],
                        restart=False)
        else:
            for i, ops in enumerate(prog.actors):
                sim.process(f"p{i}", lambda p, i=i, ops=ops: p.spawn("a", actor, i, ops), restart=False)
        return {"fs": fs, "results": results}

    return Scenario(f"fs-{prog.name}", setup, faults=Faults(crashes=prog.crashes), max_steps=100)


def final_state(state, real: bool) -> tuple:
    """(results, records, listings, temp files left) at the end of an execution."""
    results, fs = state["results"], state["fs"]
    if real:
        records = fs.contents()
        listings = {}
        for top, _dirs, _files in os.walk(fs.data):
            rel = os.path.relpath(top, fs.data).replace(os.sep, "/")
            if rel != ".":
                listings[rel] = fs.listing(rel)
        leftovers = len(fs.leftovers())
    else:
        records = dict(sorted(fs.files._data.items()))
        listings = {d: names for d, names in fs.dirs._data.items() if names is not None}
        leftovers = None
    return dict(sorted(results.items())), records, dict(sorted(listings.items())), leftovers


def run_all(prog: Program, real: bool, check_footprints: bool = False) -> dict:
    """tape -> final state, for every schedule plain DFS covers (it must cover them all)."""
    eng = make_engine("fast")
    scn = scenario(prog, real)
    strategy = DFS()
    out: dict = {}

    def loop():
        while strategy.next_execution():
            k = eng.execute(scn, strategy, False, check_footprints)
            strategy.end_execution(k.view())
            if k.violation is not None:
                raise AssertionError(f"{prog.name}: {k.violation}")
            out[tuple(k.tape)] = final_state(k.state, real)
            assert len(out) < 20_000, "program too large"

    eng.host(loop)
    assert strategy.complete
    return out


def compare(prog: Program) -> tuple[int, int]:
    """Run both sides; raise AssertionError naming the first schedule that differs. Returns
    (schedules compared, schedules whose real run left a temp file)."""
    model = run_all(prog, real=False)
    real = run_all(prog, real=True, check_footprints=True)
    if set(model) != set(real):
        only_m, only_r = sorted(set(model) - set(real)), sorted(set(real) - set(model))
        raise AssertionError(f"{prog.name}: the choice trees differ: model only {only_m[:3]}, real only {only_r[:3]}")
    for tape, m in model.items():
        r = real[tape]
        if m[:3] != r[:3]:
            raise AssertionError(f"{prog.name}: schedule {list(tape)}: model {m[:3]} != real {r[:3]}")
    return len(model), sum(1 for r in real.values() if r[3])


def _v(n):
    return {"n": n}


# family -> programs: each primitive alone, then pairs on one path
FAMILIES = {
    "single": [
        Program("xcreate-new", ((("xcreate", R, _v(1)),),), crashes=1),
        Program("xcreate-existing", ((("xcreate", E, _v(1)),),), seed=((E, _v(0)),)),
        Program("put-new", ((("put", R, _v(1)),),), crashes=1),
        Program("put-existing", ((("put", E, _v(1)),),), seed=((E, _v(0)),)),
        Program("put_nx-new", ((("put_nx", R, _v(1)),),), crashes=1),
        Program("put_nx-existing", ((("put_nx", E, _v(1)),),), seed=((E, _v(0)),)),
        Program("put_nx-twice", ((("put_nx", R, _v(1)), ("put_nx", R, _v(2))),)),
        Program("delete-existing", ((("delete", E, None),),), seed=((E, _v(0)),)),
        Program("delete-missing", ((("delete", R, None),),)),
        Program("read", ((("read", E, None), ("read", R, None)),), seed=((E, _v(0)),)),
        Program("list", ((("list", "runs", None), ("list", "events", None), ("scan", "runs", None)),),
                seed=((E, _v(0)), ("runs/r2", _v(2)))),
    ],
    "exclusive-create race": [
        Program("xcreate-2", ((("xcreate", R, _v(1)),), (("xcreate", R, _v(2)),))),
        Program("xcreate-3", ((("xcreate", R, _v(1)),), (("xcreate", R, _v(2)),), (("xcreate", R, _v(3)),))),
        Program("xcreate-2-crash", ((("xcreate", R, _v(1)),), (("xcreate", R, _v(2)),)), crashes=1),
    ],
    "rename over": [
        Program("put-put", ((("put", E, _v(1)),), (("put", E, _v(2)),)), seed=((E, _v(0)),)),
        Program("put-put-new", ((("put", R, _v(1)),), (("put", R, _v(2)),))),
        Program("put-xcreate", ((("put", R, _v(1)),), (("xcreate", R, _v(2)),))),
        Program("put-read", ((("put", E, _v(1)),), (("read", E, None),)), seed=((E, _v(0)),)),
    ],
    "racy write vs exclusive create": [
        Program("put_nx-xcreate", ((("put_nx", R, _v(1)),), (("xcreate", R, _v(2)),)), crashes=1),
        Program("put_nx-put_nx", ((("put_nx", R, _v(1)),), (("put_nx", R, _v(2)),)), crashes=1),
        Program("put_nx-put_nx-one-process", ((("put_nx", R, _v(1)),), (("put_nx", R, _v(2)),)),
                one_process=True),
        Program("put_nx-read", ((("put_nx", R, _v(1)),), (("read", R, None),)), crashes=1),
    ],
    "delete vs read": [
        Program("delete-read", ((("delete", E, None),), (("read", E, None),)), seed=((E, _v(0)),)),
        Program("delete-delete", ((("delete", E, None),), (("delete", E, None),)), seed=((E, _v(0)),)),
        Program("delete-xcreate", ((("delete", E, None),), (("xcreate", E, _v(1)),)), seed=((E, _v(0)),)),
        Program("delete-put-read", ((("delete", E, None),), (("put", E, _v(1)),), (("read", E, None),)),
                seed=((E, _v(0)),)),
    ],
    "listing during create": [
        Program("list-xcreate-new-dir", ((("xcreate", R, _v(1)),), (("list", "events", None),
                                                                   ("list", "events/r1", None)))),
        Program("scan-xcreate", ((("xcreate", "events/r1/e2", _v(2)),),
                                 (("scan_immutable", "events/r1", None),)), seed=(("events/r1/e1", _v(1)),)),
        Program("scan-put_nx", ((("put_nx", "runs/r2", _v(2)),), (("scan", "runs", None),)),
                seed=((E, _v(1)),), crashes=1),
        Program("scan-delete", ((("delete", E, None),), (("scan", "runs", None),)),
                seed=((E, _v(1)), ("runs/r2", _v(2)))),
    ],
    # longer actors on one path: each primitive against each other one, with a crash anywhere
    "mixed": [
        Program("xcreate-put_nx-delete", ((("xcreate", R, _v(1)), ("read", R, None)),
                                          (("put_nx", R, _v(2)), ("delete", R, None))), crashes=1),
        Program("put-delete-xcreate", ((("put", E, _v(1)), ("read", E, None)),
                                       (("delete", E, None), ("xcreate", E, _v(2)))), seed=((E, _v(0)),), crashes=1),
        Program("three-writers", ((("put_nx", R, _v(1)),), (("xcreate", R, _v(2)),), (("put", R, _v(3)),
                                                                                   ("list", "events/r1", None))),
                crashes=1),
    ],
}


def main() -> int:
    total = 0
    for family, progs in FAMILIES.items():
        n = leftover = 0
        for prog in progs:
            a, b = compare(prog)
            n += a
            leftover += b
        total += n
        print(f"{family:34} {len(progs):2} programs {n:6} schedules compared"
              + (f" ({leftover} left a temp file)" if leftover else ""))
    print(f"{'all':34}    {total:6} schedules: model and real directory agree")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
