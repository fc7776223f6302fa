"""Differential testing: the same workloads on a world-local model revision and on the released package.

    python benchmarks/npm_differential.py [--version 4.4.1] [--model local:L1] [--seeds 20]
                                          [--workload NAME ...]

For each workload, the default schedule (no deviation, no fault) and `--seeds` random schedules
(seeds 1..N, faults as the workload allows) run on both worlds. The tapes of the two are not
interchangeable (the package takes more steps than the model per write), so what is compared is the
outcome of an execution: its verdict and, per run and correlation id, the event types in log order
(the order across correlation ids is the schedule's, not a behaviour). Every outcome one side reached and the other did not is listed with the seed that reached it;
the trace of a real-code outcome is saved under reports/traces/ so it can be replayed and read.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sim import RandomWalk, registry  # noqa: E402
from sim import trace as trace_files  # noqa: E402
from sim.explore import run_tape, trace_of  # noqa: E402
from sim.shrink import Guided  # noqa: E402

WORKLOADS = ["hook-pairs", "hook-1665", "hook-dup-retry", "step-2331", "run-complete-race", "wait-complete-pair",
             "step-complete-race"]


def outcome(k) -> tuple:
    env = k.state
    verdict = k.violation.invariant if k.violation else "ok"
    logs = []
    for run in env.view.runs():
        per = {}
        for e in env.view.log(run):
            per.setdefault((e["correlationId"] or "")[-4:], []).append(e["eventType"])
        logs.append((run[-4:], tuple(sorted((c, tuple(ts)) for c, ts in per.items()))))
    return verdict, tuple(logs)


def explore_outcomes(name: str, seeds: int) -> dict:
    """outcome -> the first (strategy description, kernel-made trace) that reached it."""
    sc = registry.get(name)
    seen: dict = {}
    runs = [("default", Guided([]))] + [(f"random seed {s}", RandomWalk(seed=s)) for s in range(1, seeds + 1)]
    for what, strategy in runs:
        k = run_tape(sc, strategy)
        o = outcome(k)
        if o not in seen:
            seen[o] = (what, trace_of(sc, k, strategy={"name": what}, engine="fast"))
    return seen


def show(o: tuple) -> str:
    verdict, logs = o
    return f"{verdict}: " + "; ".join(f"run …{r}: " + "; ".join(f"{c or 'run'}: {' '.join(ts)}" for c, ts in log)
                                      for r, log in logs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="4.4.1")
    ap.add_argument("--model", default="local:L1")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--workload", action="append")
    ap.add_argument("--out", default="reports/traces")
    args = ap.parse_args(argv)
    total = 0
    for w in args.workload or WORKLOADS:
        model = explore_outcomes(f"{w}@{args.model}", args.seeds)
        real = explore_outcomes(f"{w}@local-npm:{args.version}", args.seeds)
        only_real = [o for o in real if o not in model]
        only_model = [o for o in model if o not in real]
        print(f"## {w}: {len(model)} outcome(s) on {args.model}, {len(real)} on local-npm:{args.version}, "
              f"{len(only_real)} only real, {len(only_model)} only model")
        for side, only, found in (("real", only_real, real), ("model", only_model, model)):
            for o in only:
                what, trace = found[o]
                path = trace_files.save(trace, args.out, f"diff-{w}-{side}-{trace.digest[:8]}")
                print(f"- only {side} ({what}): {show(o)}\n  trace: {path}")
                total += 1
    print(f"{total} difference(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
