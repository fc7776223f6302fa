"""The bug table of the world models: for every registered buggy `workload@world:revision`, executions
of the default strategy (portfolio) to the first expected violation and steps in the counterexample,
over N seeds. Not part of the test suite (the suites check each bug at one seed and a smaller budget).

    python benchmarks/model_bug_table.py [--seeds 20] [--budget 5000] [--world postgres] [--row NAME ...]

`--row` keeps only the named scenarios; the last column is the steps of seed 1's counterexample
after `sim.shrink` (its default candidate bound).
"""
from __future__ import annotations

import argparse
import statistics as st
import time

import sim
from sim import registry
from sim.shrink import shrink
from sim.strategy import make


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=5_000)
    ap.add_argument("--world", default="", help="only models of this world (local, postgres)")
    ap.add_argument("--row", nargs="*", default=[], help="only these scenarios (workload@world:REV)")
    args = ap.parse_args()
    rows = [s for s in registry.all_scenarios() if s.model.startswith(args.world) and s.model and s.expect != "hold"
            and (not args.row or s.name in args.row)]
    print("| bug | model | workload | invariant(s) found | executions median | max | steps median (min-max) "
          "| shrunk steps | found | s |")
    print("|---|---|---|---|---:|---:|---|---:|---|---:|")
    for s in rows:
        ex, steps, invs, shrunk = [], [], {}, "-"
        t0 = time.perf_counter()
        for seed in range(1, args.seeds + 1):
            res = sim.explore(s, make("portfolio", seed), budget=args.budget)
            if res.violation is not None and s.expects(res.violation.invariant):
                ex.append(res.found_at)
                steps.append(res.violation.step)
                invs[res.violation.invariant] = invs.get(res.violation.invariant, 0) + 1
                if seed == 1:
                    shrunk = shrink(s, res.tape, res.violation.invariant).after.steps
        found = ", ".join(f"{k} ×{v}" for k, v in sorted(invs.items())) or "-"
        span = f"{st.median(steps):g} ({min(steps)}-{max(steps)})" if steps else "-"
        med = f"{st.median(ex):g}" if ex else "-"
        print(f"| {s.bug} | {s.model} | {s.workload} | {found} | {med} | "
              f"{max(ex) if ex else '-'} | {span} | {shrunk} | {len(ex)}/{args.seeds} | {time.perf_counter() - t0:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
