"""Schedules per second of the real-code world next to the model's, on the same workload, in one run.

    python benchmarks/npm_throughput.py [--workload hook-pairs] [--version 4.4.1] [--model local:L1]
                                        [--budget 40] [--seed 1]

Random exploration (same seed, same budget) of `WORKLOAD@MODEL` and `WORKLOAD@local-npm:VERSION`;
prints executions, steps, wall seconds, schedules/s and steps/s of each and the ratio model/real.
Wall time, not CPU: the real world's work is mostly in its Node workers. The workers are started
(and the pinned version installed) before the clock starts.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sim  # noqa: E402
from sim import RandomWalk, registry  # noqa: E402


def measure(name: str, budget: int, seed: int) -> tuple[int, int, float]:
    sc = registry.get(name)
    sim.explore(sc, RandomWalk(seed=seed + 1000), budget=1)   # warm-up: install, start workers
    t = time.perf_counter()
    res = sim.explore(sc, RandomWalk(seed=seed), budget=budget, stop_on_violation=False)
    return res.executions, res.steps, time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="hook-pairs")
    ap.add_argument("--version", default="4.4.1")
    ap.add_argument("--model", default="local:L1")
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rows = []
    for name in (f"{args.workload}@{args.model}", f"{args.workload}@local-npm:{args.version}"):
        n, steps, wall = measure(name, args.budget, args.seed)
        rows.append((name, n, steps, wall))
    print("| scenario | schedules | steps | wall s | schedules/s | steps/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, n, steps, wall in rows:
        print(f"| `{name}` | {n} | {steps} | {wall:.2f} | {n / wall:.2f} | {steps / wall:.0f} |")
    (_, mn, _, mw), (_, rn, _, rw) = rows
    print(f"\nmodel/real schedules per second: {(mn / mw) / (rn / rw):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
