"""The model against the real PostgreSQL backend (issue 15): speed, and whether verdicts agree.

    python benchmarks/backends_pg.py [--budget N] [--agree [--agree-budget M]]

`bench_postgres_backend()` runs the same workloads, the same schedules (random strategy,
seed 1, N executions each, past violations) on the model and on the real server, and gives
schedules/s of each and their ratio, measured in this one run. A common `sim bench --backends`
can call it. `--agree` also explores every registered postgres scenario with the default
strategy (portfolio, seed 1, M executions) on both backends and lists the verdicts side by side.
"""
from __future__ import annotations

import argparse
import sys
import time

# workloads of different shapes: autocommits only (P2), transactions and their waits (P3, P4), a crash
WORKLOADS = ("step-2331@postgres:P2", "step-2331@postgres:P3", "hook-1665@postgres:P3", "run-create-race@postgres:P4",
             "step-create-crash@postgres:P4")


def _explore(scenario, backend: str, budget: int, strategy: str = "random", stop: bool = False):
    import sim
    from sim import backends
    from sim import strategy as strategies
    with backends.using(backend):
        t0 = time.perf_counter()
        res = sim.explore(scenario, strategies.make(strategy, 1), budget=budget, stop_on_violation=stop)
        return res, time.perf_counter() - t0


def bench_postgres_backend(budget: int = 60, names=WORKLOADS) -> list[dict]:
    """Per workload: schedules/s on the model and on the server (same schedules), and model/server."""
    from sim import registry
    rows = []
    for name in names:
        s = registry.get(name)
        _explore(s, "postgres", 2)   # start the server and open the sessions outside the timing
        model, tm = _explore(s, "model", budget)
        real, tr = _explore(s, "postgres", budget)
        rows.append({"workload": name, "schedules": budget, "model/s": model.executions / tm,
                     "server/s": real.executions / tr, "ratio": (model.executions / tm) / (real.executions / tr),
                     "steps": (model.steps, real.steps)})
    return rows


def _verdict(res) -> str:
    return "hold" if res.violation is None else res.violation.invariant


def compare_registered(budget: int = 40) -> list[dict]:
    """Every registered postgres scenario, default strategy, on both backends."""
    from models.postgres.backend import RACES
    from sim import registry
    rows = []
    for s in registry.all_scenarios():
        if not (s.model or "").startswith("postgres:"):
            continue
        before = RACES[0]
        m, tm = _explore(s, "model", budget, "portfolio", stop=True)
        r, tr = _explore(s, "postgres", budget, "portfolio", stop=True)
        rows.append({"scenario": s.name, "expect": s.expect, "model": _verdict(m), "server": _verdict(r),
                     "found at": (m.found_at, r.found_at), "raced": RACES[0] - before,
                     "seconds": (round(tm, 1), round(tr, 1))})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=60, help="schedules per workload for the speed figures")
    ap.add_argument("--agree", action="store_true", help="also compare every registered postgres verdict")
    ap.add_argument("--agree-budget", type=int, default=40)
    args = ap.parse_args(argv)
    try:
        rows = bench_postgres_backend(args.budget)
    except Exception as e:   # no server: one line
        if type(e).__name__ != "BackendError":
            raise
        print(f"backends_pg: {e}", file=sys.stderr)
        return 2
    print(f"{'workload':34} {'model/s':>9} {'server/s':>9} {'model/server':>13}")
    for r in rows:
        print(f"{r['workload']:34} {r['model/s']:9.1f} {r['server/s']:9.1f} {r['ratio']:13.1f}")
    if args.agree:
        agree = compare_registered(args.agree_budget)
        same = sum(r["model"] == r["server"] for r in agree)
        print(f"\n{'scenario':44} {'expect':14} {'model':14} {'server':14} raced")
        for r in agree:
            mark = "" if r["model"] == r["server"] else "  <- differs"
            print(f"{r['scenario']:44} {r['expect']:14} {r['model']:14} {r['server']:14} {r['raced']}{mark}")
        print(f"{same} of {len(agree)} verdicts agree ({args.agree_budget} executions each, portfolio seed 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
