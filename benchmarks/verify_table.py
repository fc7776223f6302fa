"""How far verification gets on the holding model workloads, within a budget per row.

For each row (a scenario name, variants included): DPOR until it completes or
has run `--dpor-budget` executions (executions, complete or not, CPU seconds),
the same for DFS with state caching (`--cache-budget`; `dfs --cache-states`:
executions, distinct states fingerprinted, complete or not, CPU seconds), then a random walk of `--random-budget` executions (executions per CPU second).
CPU is this process's (`time.process_time`), so other load on the machine
does not count. The last lines give the whole job's CPU: this process, and
any child processes it waited for. A row that does not hold says so; "complete"
is only claimed when DPOR covered the whole space within the row's bounds.

    python benchmarks/verify_table.py [--dpor-budget N] [--cache-budget N] [--random-budget N] [--seed N]
                                      [--row NAME ...] [--out FILE]

The table is Markdown (on stdout, and in FILE with --out).
"""
from __future__ import annotations

import argparse
import resource
import sys
import time

from sim import registry, variants
from sim.explore import explore
from sim.strategy import DFS, DPOR, RandomWalk

ROWS = (
    "hook-converge@local:L1",
    "step-2331@postgres:P3",
    "step-dup@postgres:P3",
    "hook-1665@local:L1",
    "hook-1665@postgres:P3",
    "hook-pairs@local:L1[pairs=1,redeliveries=0]",   # one pair, one crash
    "hook-pairs@local:L1[pairs=1]",                  # one pair, one crash, one redelivery
)
DPOR_BUDGET = 3_000     # about two minutes for the whole table on one core
CACHE_BUDGET = 3_000
RANDOM_BUDGET = 500

HEADER = ("| scenario | bounds | DPOR executions | complete | DPOR CPU s | DPOR verdict "
          "| cached DFS executions | states | complete | cached CPU s "
          "| random executions | random executions / CPU s |")


def _cpu(res, fn):
    t0 = time.process_time()
    out = fn()
    res.append(time.process_time() - t0)
    return out


def _verdict(r) -> str:
    return "holds" if r.violation is None else f"**{r.violation.invariant}**"


def row(name: str, dpor_budget: int, cache_budget: int, random_budget: int, seed: int) -> str:
    s = registry.get(name)
    cpu: list[float] = []
    d = _cpu(cpu, lambda: explore(s, DPOR(), budget=dpor_budget))
    cached = DFS(cache_states=True)
    c = _cpu(cpu, lambda: explore(s, cached, budget=cache_budget))
    r = _cpu(cpu, lambda: explore(s, RandomWalk(seed), budget=random_budget))
    params = variants.describe(variants.parameters(s))
    bounds = ", ".join(x for x in (params, s.faults.describe(), f"{s.max_steps} steps") if x)
    rate = f"{r.executions / cpu[2]:,.0f}" if cpu[2] > 0 else "-"
    random_cell = f"{r.executions:,}" + ("" if r.violation is None else f" ({_verdict(r)})")
    cached_cell = f"{c.executions:,}" + ("" if c.violation is None else f" ({_verdict(c)})")
    return (f"| {name} | {bounds} | {d.executions:,} | {'yes' if d.complete else 'no'} | {cpu[0]:.2f} "
            f"| {_verdict(d)} | {cached_cell} | {len(cached._cache):,} | {'yes' if c.complete else 'no'} "
            f"| {cpu[1]:.2f} | {random_cell} | {rate} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dpor-budget", type=int, default=DPOR_BUDGET, metavar="N",
                    help=f"DPOR executions per row at most (default {DPOR_BUDGET:,})")
    ap.add_argument("--cache-budget", type=int, default=CACHE_BUDGET, metavar="N",
                    help=f"executions of DFS with state caching per row at most (default {CACHE_BUDGET:,})")
    ap.add_argument("--random-budget", type=int, default=RANDOM_BUDGET, metavar="N",
                    help=f"random-walk executions per row (default {RANDOM_BUDGET:,})")
    ap.add_argument("--seed", type=int, default=1, help="random-walk seed (default 1)")
    ap.add_argument("--row", action="append", metavar="NAME",
                    help="a scenario or variant name, e.g. 'hook-pairs@local:L1[pairs=1]' (repeatable; default: "
                         "the issue's rows)")
    ap.add_argument("--out", metavar="FILE", help="also write the table to FILE")
    args = ap.parse_args(argv)
    if args.dpor_budget < 1 or args.random_budget < 1 or args.cache_budget < 1:
        ap.error("budgets must be >= 1")
    names = args.row or list(ROWS)
    for name in names:  # every name is checked before anything runs
        try:
            registry.get(name)
        except registry.UnknownScenario as e:
            ap.error(str(e))
    lines = [HEADER, "|---|---|---:|---|---:|---|---:|---:|---|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for name in names:
        lines.append(row(name, args.dpor_budget, args.cache_budget, args.random_budget, args.seed))
        print(lines[-1], flush=True)
    own = time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines += ["", f"main job CPU: {own:.1f} s (this process, imports included); child processes: "
                  f"{kids.ru_utime + kids.ru_stime:.1f} s",
              f"budgets: DPOR {args.dpor_budget:,} executions per row, cached DFS {args.cache_budget:,}, "
              f"random walk {args.random_budget:,} "
              f"(seed {args.seed}); python {sys.version.split()[0]}"]
    print("\n".join(lines[-3:]))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
