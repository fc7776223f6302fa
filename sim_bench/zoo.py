"""The bug zoo: how fast each strategy finds each known bug, and how much DPOR saves where none is.

`python -m sim bench --zoo [--seeds N] [--budget N] [--out FILE]`. Every
registered scenario takes part by itself: one whose `expect` names an invariant
is a known bug (executions and seconds to the first violation per strategy,
median and max over the seeds; DFS and DPOR are deterministic and run once);
one that should hold is explored to completion by plain DFS and by DPOR.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from sim import registry
from sim.explore import explore
from sim.strategy import DFS, DPOR, PCT, Portfolio, RandomWalk

SAMPLERS = {
    "random": lambda seed: RandomWalk(seed),
    "pct d=1": lambda seed: PCT(seed, depth=1),
    "pct d=2": lambda seed: PCT(seed, depth=2),
    "pct d=3": lambda seed: PCT(seed, depth=3),
    "portfolio": lambda seed: Portfolio(seed),
}
EXHAUSTIVE = {"dfs": DFS, "dpor": DPOR}


@dataclass
class Hunt:
    scenario: str
    strategy: str
    found: int          # runs that found the expected violation
    runs: int
    executions: list    # executions to the first violation, per run that found it
    seconds: list

    def cells(self) -> list[str]:
        if not self.found:
            return [self.scenario, self.strategy, f"0/{self.runs}", "-", "-", "-", "-"]
        ex, s = self.executions, self.seconds
        return [self.scenario, self.strategy, f"{self.found}/{self.runs}", _num(statistics.median(ex)), _num(max(ex)),
                f"{statistics.median(s) * 1000:.2f}", f"{max(s) * 1000:.2f}"]


def _num(x) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def hunt(scenario, name: str, make, seeds: list[int], budget: int) -> Hunt:
    h = Hunt(scenario.name, name, 0, len(seeds), [], [])
    for seed in seeds:
        res = explore(scenario, make(seed), budget=budget)
        if res.violation is not None and scenario.expects(res.violation.invariant):
            h.found += 1
            h.executions.append(res.found_at)
            h.seconds.append(res.elapsed)
    return h


def reduction(scenario, budget: int) -> list[str]:
    dfs, dpor = explore(scenario, DFS(), budget=budget), explore(scenario, DPOR(), budget=budget)
    def count(r):
        return f"{r.executions}" + ("" if r.complete else "+ (budget)")
    ratio = f"{dfs.executions / dpor.executions:.1f}x" if dpor.executions else "-"
    holds = "yes" if dfs.ok and dpor.ok else f"NO: {(dfs.violation or dpor.violation).invariant}"
    return [scenario.name, count(dfs), count(dpor), ratio, holds]


HUNT_HEAD = ["scenario (bug)", "strategy", "found", "executions median", "executions max", "ms median", "ms max"]
REDUCTION_HEAD = ["scenario (holds)", "DFS executions", "DPOR executions", "reduction", "holds under both"]


def _markdown(title: str, head: list[str], rows: list[list[str]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def run(seeds: int = 20, budget: int = 20_000, say=print) -> str:
    seed_list = list(range(1, seeds + 1))
    bugs = [s for s in registry.all_scenarios() if s.expect != "hold" and not s.model]
    holds = [s for s in registry.all_scenarios() if s.expect == "hold" and not s.model]
    rows = []
    for s in bugs:
        for name, make in SAMPLERS.items():
            rows.append(hunt(s, name, make, seed_list, budget).cells())
        for name, cls in EXHAUSTIVE.items():
            rows.append(hunt(s, name, lambda seed, cls=cls: cls(), [0], budget).cells())
        say(f"  hunted {s.name}")
    red = [reduction(s, budget) for s in holds]
    return (f"## Bug zoo: {len(bugs)} known bugs, {len(holds)} holding scenarios; {seeds} seeds, "
            f"budget {budget} executions per run\n\n"
            + _markdown("Executions and time to the first violation", HUNT_HEAD, rows) + "\n"
            + _markdown("Executions to cover a holding scenario exhaustively", REDUCTION_HEAD, red))


def _free_path(path: Path) -> Path:
    for k in range(1000):
        p = path if k == 0 else path.with_name(f"{path.stem}-{k}{path.suffix}")
        if not p.exists():
            return p
    raise SystemExit(f"sim: error: too many files named like {path}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m sim bench --zoo", description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20, help="seeds per sampling strategy (default 20)")
    p.add_argument("--budget", type=int, default=20_000, help="executions allowed per run (default 20000)")
    p.add_argument("--out", default="reports/zoo.md",
                   help="Markdown file to write (default reports/zoo.md; an existing file is kept: -1, -2 is added)")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if args.seeds < 1 or args.budget < 1:
        print("sim: error: --seeds and --budget must be positive", file=sys.stderr)
        return 2
    text = run(args.seeds, args.budget, say=lambda t: print(t, file=sys.stderr))
    print(text)
    out = _free_path(Path(args.out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.rename(out)
    print(f"written: {out}")
    return 0
