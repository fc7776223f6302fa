"""Differential testing of world-postgres: each schedule run on the model revision that stands for a release
and on the released package, by carrying the schedule over (models.npm.transfer).

    python benchmarks/npm_differential_pg.py [--pair 4.2.0=P1m] [--seeds 10] [--budget 400]
                                             [--workload NAME ...] [--out DIR]

For each workload and each pair VERSION=REVISION (default: every pinned version with the model revision
models/npm/pgscenarios.py names for it), these schedules run on both sides:
- the model's: its counterexample, if the default strategy (portfolio, seed 1) finds one within
  `--budget` executions, and `--seeds` random schedules (seeds 1..N); each is carried over to the package;
- the package's: `--seeds` random schedules, each carried over to the model.
An execution's outcome is its verdict and, per run and correlation id, the event types in log order (as
benchmarks/npm_differential.py has it); two agree when both break the same invariant, or neither does
and their logs are the same up to which correlation id is which (`agree`). Crashes and redeliveries
are not carried over: a schedule with one is left out (and said so). Where a schedule gives another
outcome on the other side, both traces are saved under `--out` and listed (a violation both sides reach is
printed with the trace of the carried-over execution): either the model is wrong, or the schedule
does not carry over (the package waits for a lock, takes a step the model does not): read the two.
Each package execution takes seconds (a Node worker per process, a real server).
"""
from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import sim  # noqa: E402
from npm_differential import outcome, show  # noqa: E402
from sim import RandomWalk, registry  # noqa: E402
from sim import trace as trace_files  # noqa: E402
from sim.explore import run_tape, trace_of  # noqa: E402
from sim.strategy import make as make_strategy  # noqa: E402

WORKLOADS = ["step-2331", "step-complete-race", "step-dup", "run-complete-race", "hook-pairs"]
FAULTS = ("crash", "redeliver")   # not carried over (models.npm.transfer steers actors only)


def agree(a: tuple, b: tuple) -> bool:
    """Two outcomes agree when both break the same invariant (where each stopped differs with the steps
    each world takes), or when neither breaks one and their logs are the same up to which correlation id
    is which (the deliveries, not carried over, decide which hook or step an actor handles)."""
    if a[0] != "ok" or b[0] != "ok":
        return a[0] == b[0]
    renamed = [tuple(sorted(tuple(sorted(ts for _c, ts in log)) for _r, log in o[1])) for o in (a, b)]
    return renamed[0] == renamed[1]


def pairs() -> list[tuple[str, str]]:
    from models.npm.pgscenarios import NOTES, VERSIONS
    return [(v, NOTES[v][2]) for v in VERSIONS if v in NOTES]


def run(sc, strategy, what: str):
    """(outcome, trace) of one execution of `sc` steered by `strategy`."""
    k = run_tape(sc, strategy)
    return outcome(k), trace_of(sc, k, strategy={"name": what, **strategy.describe()}, engine="fast")


def carried(source_trace, target) -> tuple:
    from models.npm.transfer import Transfer, model_order, source_choices
    return run(target, Transfer(model_order(source_trace), choices=source_choices(source_trace)),
               f"transfer of {source_trace.scenario}")


def randoms(sc, seeds: int) -> list:
    """(what, outcome, trace) of random schedules seeds 1..N."""
    return [(f"random seed {s}", *run(sc, RandomWalk(seed=s), "random")) for s in range(1, seeds + 1)]


def counterexample(sc, budget: int) -> list:
    """[(what, outcome, trace)] of the default strategy's first violation within `budget`, or []."""
    from sim.shrink import Guided
    res = sim.explore(sc, make_strategy("portfolio", 1), budget=budget)
    if res.violation is None:
        return []
    o, tr = run(sc, Guided(list(res.tape)), "portfolio seed 1, as found")
    return [(f"counterexample (portfolio seed 1, execution {res.found_at})", o, tr)]


def compare(workload: str, version: str, revision: str, seeds: int, budget: int, out_dir: str) -> list:
    model = registry.get(f"{workload}@postgres:{revision}")
    real = registry.get(f"{workload}@postgres-npm:{version}")
    found = []
    sides = [("model", model, real, counterexample(model, budget) + randoms(model, seeds)),
             ("package", real, model, randoms(real, seeds))]
    for side, src, dst, schedules in sides:
        for what, src_o, tr in schedules:
            if any(st.kind in FAULTS for st in tr.steps):
                print(f"  not carried over: {side} schedule ({what}) has a crash or redelivery", flush=True)
                continue
            dst_o, dst_tr = carried(tr, dst)
            tag = f"diff-pg-{workload}-{version}-{side}-{tr.digest[:8]}"
            if not agree(src_o, dst_o):
                a = trace_files.save(tr, out_dir, tag + "-source")
                b = trace_files.save(dst_tr, out_dir, tag + "-carried")
                found.append((f"{side} schedule ({what}) of {src.name}: {show(src_o)}\n"
                              f"    carried over to {dst.name}: {show(dst_o)}\n    traces: {a}\n            {b}"))
            elif dst_o[0] != "ok":   # the same violation on both: keep the carried-over trace, replayable
                path = trace_files.save(dst_tr, out_dir, tag + "-carried")
                print(f"  same violation ({dst_o[0]}) on both for {side} schedule ({what}): {path}", flush=True)
    return found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", action="append", help="VERSION=REVISION (repeatable)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=400)
    ap.add_argument("--workload", action="append")
    ap.add_argument("--out", default="reports/traces")
    args = ap.parse_args(argv)
    try:
        chosen = [tuple(p.split("=", 1)) for p in args.pair] if args.pair else pairs()
        if any(len(p) != 2 for p in chosen):
            raise ValueError("--pair takes VERSION=REVISION, e.g. 4.2.0=P1m")
    except ValueError as e:
        print(f"npm_differential_pg: {e}", file=sys.stderr)
        return 2
    total = 0
    for w in args.workload or WORKLOADS:
        for version, revision in chosen:
            diffs = compare(w, version, revision, args.seeds, args.budget, args.out)
            print(f"## {w}: postgres:{revision} vs postgres-npm:{version}: {len(diffs)} difference(s)", flush=True)
            for d in diffs:
                print(f"- {d}", flush=True)
            total += len(diffs)
    print(f"{total} difference(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
