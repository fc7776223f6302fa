"""The table of the run-ending workloads (models.workloads_runs): for each named scenario, executions of
the default strategy (portfolio) to the first violation over seeds 1..N (median, max, invariants seen)
and the steps of seed 1's counterexample after shrinking; a scenario that holds gets its coverage.

    python benchmarks/run_end_table.py [--seeds 20] [--budget 5000] SCENARIO ...
"""
from __future__ import annotations

import argparse
import statistics as st

import sim
from sim import registry
from sim.shrink import shrink
from sim.strategy import make


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=5_000)
    ap.add_argument("scenarios", nargs="+")
    args = ap.parse_args(argv)
    print("| scenario | expected | found (seeds) | executions median | max | shrunk steps (seed 1) |")
    print("|---|---|---|---:|---:|---:|")
    for name in args.scenarios:
        s = registry.get(name)
        ex, invs, first, cover = [], {}, None, ""
        for seed in range(1, args.seeds + 1):
            res = sim.explore(s, make("portfolio", seed), budget=args.budget)
            if res.violation is None:
                cover = f"{'exhaustive' if res.complete else 'sampled'}, {res.executions} executions"
                continue
            ex.append(res.found_at)
            invs[res.violation.invariant] = invs.get(res.violation.invariant, 0) + 1
            if first is None:
                first = shrink(s, res.tape)
        found = ", ".join(f"{k} x{v}" for k, v in sorted(invs.items())) or f"holds ({cover})"
        print(f"| {name} | {s.expect} | {found} | {st.median(ex) if ex else '-'} | {max(ex) if ex else '-'} | "
              f"{first.after.steps if first else '-'} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
