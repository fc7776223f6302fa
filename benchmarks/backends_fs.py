"""world-local on its model and on a real directory (`--backend fs`): verdicts and speed.

    python benchmarks/backends_fs.py [--budget N] [--seed S] [--scenario NAME ...] [--agreement]
    python -m sim bench --backends [same options]

`bench_fs_backend()` explores the same world-local workloads with the same strategy and seed on
both backends, in one run, and gives schedules/s on each and their ratio. `agreement()` runs every
registered `*@local:*` scenario on both and compares the verdicts, where each was found and how
much was explored (the fs backend makes the same store accesses as the model, so even DPOR takes
the same path: everything should be equal, not only the verdict).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass

from sim import backends, registry
from sim import strategy as strategies
from sim.explore import explore

# holding workloads of different shapes: hooks (many small files), steps with a crash, waits and runs
BENCH_SCENARIOS = ("hook-pairs@local:L1", "step-2331@local:L1", "wait-complete-pair@local:L1",
                   "hook-sleep-race-2113@local:L1F")


@dataclass
class Side:
    verdict: str
    found_at: int | None
    executions: int
    steps: int
    seconds: float


def run(name: str, backend: str, strategy: str = "portfolio", seed: int = 1, budget: int = 100,
        stop: bool = True) -> Side:
    scenario = registry.get(name)
    with backends.using(backend):
        t0 = time.perf_counter()
        res = explore(scenario, strategies.make(strategy, seed), budget=budget, stop_on_violation=stop)
        seconds = time.perf_counter() - t0
    return Side("holds" if res.violation is None else res.violation.invariant, res.found_at, res.executions,
                res.steps, seconds)


def local_scenarios() -> list[str]:
    return [s.name for s in registry.all_scenarios() if s.model.startswith("local:")]


def agreement(budget: int = 100, seed: int = 1, names=None) -> list[tuple]:
    """(scenario, expected, model side, fs side, same) per registered world-local scenario."""
    rows = []
    for name in names or local_scenarios():
        m, f = run(name, "model", seed=seed, budget=budget), run(name, "fs", seed=seed, budget=budget)
        same = (m.verdict, m.found_at, m.executions, m.steps) == (f.verdict, f.found_at, f.executions, f.steps)
        rows.append((name, registry.get(name).expect, m, f, same))
    return rows


def bench_fs_backend(budget: int = 200, seed: int = 1, names=BENCH_SCENARIOS, strategy: str = "random") -> dict:
    """Schedules/s of the model and of the real directory on the same workloads, explored past
    violations so both run the whole budget; {scenario: (model/s, fs/s)} and the overall ratio."""
    out, tm, tf, n = {}, 0.0, 0.0, 0
    for name in names:
        m = run(name, "model", strategy, seed, budget, stop=False)
        f = run(name, "fs", strategy, seed, budget, stop=False)
        assert (m.executions, m.steps) == (f.executions, f.steps), f"{name}: the backends explored differently"
        out[name] = (m.executions / m.seconds, f.executions / f.seconds)
        tm, tf, n = tm + m.seconds, tf + f.seconds, n + m.executions
    return {"per_scenario": out, "model_per_s": n / tm, "fs_per_s": n / tf, "ratio": tf / tm}


def _side(s: Side) -> str:
    return f"{s.verdict} @{s.found_at or '-'} ({s.executions} ex)"


class _Parser(argparse.ArgumentParser):
    def error(self, message):   # one line, as sim's own commands
        self.exit(2, f"backends_fs: error: {message}\n")


def main(argv=None) -> int:
    ap = _Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=None, help="executions per scenario (agreement 100, bench 200)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scenario", action="append", help="only these scenarios (repeatable)")
    ap.add_argument("--agreement", action="store_true", help="the verdict table of every world-local scenario")
    args = ap.parse_args(argv)
    if args.budget is not None and args.budget < 1:
        ap.error("--budget takes a number >= 1")
    for name in args.scenario or ():
        try:
            if not registry.get(name).model.startswith("local:"):
                ap.error(f"{name} is not a world-local scenario")
        except registry.UnknownScenario as e:
            ap.error(str(e))
    if args.agreement:
        rows = agreement(args.budget or 100, args.seed, args.scenario)
        print("| scenario | expected | model | fs | same |\n| --- | --- | --- | --- | --- |")
        for name, expect, m, f, same in rows:
            print(f"| `{name}` | {expect} | {_side(m)} | {_side(f)} | {'yes' if same else 'NO'} |")
        print(f"\n{sum(r[4] for r in rows)} of {len(rows)} scenarios agree (portfolio, seed {args.seed}, "
              f"budget {args.budget or 100})")
        return 0 if all(r[4] for r in rows) else 1
    b = bench_fs_backend(args.budget or 200, args.seed, tuple(args.scenario or BENCH_SCENARIOS))
    print("| scenario | model schedules/s | fs schedules/s |\n| --- | ---: | ---: |")
    for name, (m, f) in b["per_scenario"].items():
        print(f"| `{name}` | {m:,.0f} | {f:,.0f} |")
    print(f"| all | {b['model_per_s']:,.0f} | {b['fs_per_s']:,.0f} |")
    from models.local import realfs
    where = os.environ.get(realfs.DIR_ENV) or tempfile.gettempdir()
    print(f"\nthe real directory ({where}) takes {b['ratio']:.1f}x the model's time per schedule "
          f"({args.budget or 200} random schedules per scenario, seed {args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
