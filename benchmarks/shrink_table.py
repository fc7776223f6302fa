"""Shrinking every registered counterexample: before and after, and how long it takes.

For each registered scenario that expects a violation and seed 1..N: find it with the default
strategy (portfolio), shrink it with sim.shrink.shrink (default candidate budget), and print one
Markdown row per scenario: the invariant, the original and shrunk shapes (steps, faults,
preemptions; medians over the seeds), candidates and the slowest shrink. The last line is the
slowest shrink of all (the issue's bound is 10 s per counterexample on the 2-core machine).

    python benchmarks/shrink_table.py [--seeds 2] [--scenario NAME ...]
"""
from __future__ import annotations

import argparse
import statistics

from sim import registry
from sim.explore import explore
from sim.shrink import shrink
from sim.strategy import make


def med(xs) -> str:
    return f"{statistics.median(xs):g}"


def shape(shapes) -> str:
    return " / ".join(med([getattr(s, f) for s in shapes]) for f in ("steps", "faults", "preemptions"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--scenario", action="append", help="only these (repeatable)")
    args = ap.parse_args(argv)
    names = args.scenario or [s.name for s in registry.all_scenarios() if s.expect != "hold"]
    print("| scenario | invariant | found: steps / faults / preemptions | shrunk | candidates | slowest s |")
    print("|---|---|---|---|---:|---:|")
    slowest = (0.0, "")
    for name in names:
        s = registry.get(name)
        rows = []
        for seed in range(1, args.seeds + 1):
            res = explore(s, make("portfolio", seed=seed), budget=5_000)
            if res.violation is not None:
                rows.append(shrink(s, res.tape))
        if not rows:
            print(f"| {name} | not found | | | | |")
            continue
        worst = max(r.elapsed for r in rows)
        slowest = max(slowest, (worst, name))
        invariants = ", ".join(sorted({r.invariant for r in rows}))
        print(f"| {name} | {invariants} | {shape([r.before for r in rows])} | {shape([r.after for r in rows])} "
              f"| {med([r.executions for r in rows])} | {worst:.2f} |")
    print(f"\nslowest shrink: {slowest[0]:.2f} s ({slowest[1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
