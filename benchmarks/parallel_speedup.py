"""Executions per second with --jobs 1 against --jobs 2 on holding model scenarios (not a test).

Each case runs the same units both ways (identical results are checked) and prints
the ratio; the goal on two free cores is >= 1.8x. The pool's start is included.

    python benchmarks/parallel_speedup.py [--budget N] [--split-budget N]
"""
from __future__ import annotations

import argparse
import time

from sim import parallel, registry
from sim.units import Spec

CASES = (("hook-pairs@local:L1", "random"), ("step-2331@postgres:P3", "random"))


def measure(name: str, strategy: str, budget: int | None, jobs: int):
    scenario = registry.get(name)
    ex = parallel.backend(jobs)
    t0 = time.perf_counter()
    try:
        res = parallel.explore(scenario, Spec(name, strategy), executor=None if jobs == 1 else ex, budget=budget)
    finally:
        ex.close()
    return res, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=2000, help="executions for random (default 2000)")
    ap.add_argument("--split-budget", type=int, default=0,
                    help="executions for dpor (default 0: run the whole tree; a budget on a tree counts "
                         "executions in DFS order, which leaves little to run in parallel)")
    ap.add_argument("--dpor", action="append", default=[], metavar="SCENARIO",
                    help="also a holding scenario under dpor (its whole tree unless --split-budget)")
    args = ap.parse_args()
    print(f"{'scenario':32} {'strategy':8} {'executions':>10} {'jobs 1 exec/s':>14} {'jobs 2 exec/s':>14} {'ratio':>6}")
    for name, strategy in (*CASES, *((n, "dpor") for n in args.dpor)):
        budget = args.budget if strategy == "random" else (args.split_budget or None)
        one, t1 = measure(name, strategy, budget, 1)
        two, t2 = measure(name, strategy, budget, 2)
        assert (one.executions, one.steps, one.found_at) == (two.executions, two.steps, two.found_at)
        print(f"{name:32} {strategy:8} {one.executions:>10} {one.executions / t1:>14.0f} "
              f"{two.executions / t2:>14.0f} {t1 / t2:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
