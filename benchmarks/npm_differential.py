"""Differential testing: the same workloads on a world-local model revision and on the released package.

    python benchmarks/npm_differential.py [--version 4.4.1] [--model local:L1s] [--seeds 40] [--model-seeds 1000]
                                          [--workload NAME ...] [--search-model 20000] [--search-real 150]
                                          [--out DIR] [--index FILE]

Per workload, the default schedule and random seeds 1..N run on both worlds to quiescence, and their
outcomes (models.npm.differential: the invariants the final state breaks, and the event types per
correlation id in log order) are compared. An outcome sampled on one side only is then searched for on
the other (portfolio, seed 1, the given budgets): found, it is a sampling gap and listed as such; not
found, it is a difference, and the trace of the side that reached it is saved under --out. Deterministic:
the same options give the same list and the same trace files.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from models.npm.differential import reach, sample, shared, show  # noqa: E402
from models.npm.scenarios import MODEL_OF  # noqa: E402
from sim import trace as trace_files  # noqa: E402

WORKLOADS = ["hook-pairs[pairs=1]", "hook-1665", "step-create-pair", "wait-create-pair", "wait-complete-pair",
             "step-complete-race", "hook-dup-retry", "hook-event-first"]


def variant(workload: str, world: str) -> str:
    """`hook-pairs[pairs=1]`, `local:L1s` -> `hook-pairs@local:L1s[pairs=1]`."""
    name, bracket, params = workload.partition("[")
    return f"{name}@{world}{bracket}{params}"


def compare(workload: str, model: str, version: str, seeds: dict, budgets: dict, out: str) -> list:
    """The differences found on `workload`, each a dict (see --index)."""
    names = {"model": variant(workload, model), "real": variant(workload, f"local-npm:{version}")}
    only = shared(*names.values())
    found = {side: sample(name, seeds[side], only) for side, name in names.items()}
    print(f"## {workload}: {len(found['model'])} outcome(s) in {seeds['model'] + 1} schedules of {model}, "
          f"{len(found['real'])} in {seeds['real'] + 1} of local-npm:{version}", flush=True)
    differences = []
    for side, other in (("real", "model"), ("model", "real")):
        for o, (what, trace, count) in found[side].items():
            if o in found[other]:
                continue
            hit = reach(names[other], o, budgets[other], only) if budgets[other] else None
            if hit is not None:
                print(f"- sampled on {side} only ({count} of {seeds[side] + 1}), found on {other} by search at "
                      f"execution {hit[0]}: {show(o)}")
                continue
            stem = f"{workload.replace('[', '-').replace(']', '').replace('=', '')}-{model.replace(':', '-')}-{version}"
            path = trace_files.save(trace, out, f"{stem}-{side}-{trace.digest[:8]}")
            print(f"- ONLY {side.upper()} ({what}, {count} of {seeds[side] + 1} schedules; {other} searched "
                  f"{budgets[other]} executions): {show(o)}\n"
                  f"  trace: {path}", flush=True)
            differences.append({"workload": workload, "version": version, "model": model, "side": side,
                                "reached": f"{what}, {count} of {seeds[side] + 1} schedules",
                                "searched": budgets[other], "outcome": o, "trace": path.name})
    return differences


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="4.4.1")
    ap.add_argument("--model", help="the model revision (default: the one standing for --version, "
                                    "models.npm.scenarios.MODEL_OF)")
    ap.add_argument("--seeds", type=int, default=40, help="random schedules of the package")
    ap.add_argument("--model-seeds", type=int, default=1000, help="random schedules of the model")
    ap.add_argument("--workload", action="append")
    ap.add_argument("--search-model", type=int, default=20000, help="executions to search the model for an outcome (0: none)")
    ap.add_argument("--search-real", type=int, default=150, help="executions to search the package for an outcome (0: none)")
    ap.add_argument("--out", default="reports/differences")
    ap.add_argument("--index", help="also write the differences found to this JSON file")
    args = ap.parse_args(argv)
    model = args.model or MODEL_OF.get(args.version)
    if model is None:
        ap.error(f"no model revision known for version {args.version}: name one with --model")
    seeds = {"model": args.model_seeds, "real": args.seeds}
    budgets = {"model": args.search_model, "real": args.search_real}
    found = [d for w in args.workload or WORKLOADS for d in compare(w, model, args.version, seeds, budgets, args.out)]
    print(f"{len(found)} difference(s)")
    if args.index:
        with open(args.index, "w") as f:
            json.dump(found, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
