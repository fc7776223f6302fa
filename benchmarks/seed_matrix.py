"""Seed matrix: for every registered scenario that expects a violation, the execution at which the main
job's search (the default portfolio) finds it, over a range of seeds.

    python benchmarks/seed_matrix.py [--seeds 1-20] [--cap N] [--jobs N] [--keep-going] [--scenario NAME ...]
                                     [--out FILE]

Each (scenario, seed) is one exploration as `python -m sim explore --seed N` runs it (a fresh strategy,
one process, stopping at the first violation), up to `--cap` executions (default: 3 x the scenario's
budget, to see how far past it a late find lies). With `--keep-going` each cell is the main job's
exploration of the scenario: up to its budget, going on past the expected violation (sim.keepgoing),
and another invariant found after it is reported. The result does not depend on `--jobs`: every cell is
explored from scratch in whichever worker runs it, and the table is printed in scenario and seed order.

The table: per scenario its budget, the first find over the seeds (median, max, the seed of the max),
the seeds that found nothing within the cap, and the seeds whose first violation is an invariant the
scenario does not expect (a mismatch of the main job too). A row is marked when any seed misses its
budget. Exit status 1 when some seed would not match within the scenario's budget.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sim  # noqa: E402
from sim import registry  # noqa: E402
from sim import strategy as strategies  # noqa: E402
from sim.explore import DEFAULT_BUDGET  # noqa: E402
from sim.keepgoing import PastExpected  # noqa: E402


def seed_range(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: seeds are N, N-M or a comma list of those") from None
        if b < a:
            raise argparse.ArgumentTypeError(f"{text!r}: empty range {part}")
        out.extend(range(a, b + 1))
    return out


def budget_of(scenario) -> int:
    return getattr(scenario, "budget", None) or DEFAULT_BUDGET


def cell(name: str, seed: int, cap: int | None, keep_going: bool = False) -> tuple:
    """(invariant or None, found at, executions, complete, CPU seconds) of one exploration; with
    `keep_going` as the main job explores it (sim.keepgoing): past the expected violation, and the
    first other invariant found is the one reported."""
    scenario = registry.get(name)
    limit = cap or (budget_of(scenario) if keep_going else 3 * budget_of(scenario))
    t0 = time.process_time()
    res = sim.explore(scenario, strategies.make("portfolio", seed), budget=limit,
                      past=PastExpected.of(scenario) if keep_going else None)
    other = [f for i, f in res.violations.items() if not scenario.expects(i)]
    if other:
        inv, at = other[0].violation.invariant, other[0].execution
    else:
        inv, at = (None, None) if res.violation is None else (res.violation.invariant, res.found_at)
    return inv, at, res.executions, res.complete, time.process_time() - t0


def expecting(names: list[str] | None) -> list:
    found = registry.all_scenarios() if not names else [registry.get(n) for n in names]
    return [s for s in found if s.expect != "hold"]


def run(scenarios, seeds, cap, jobs, keep_going=False):
    """{(name, seed): cell} in a deterministic order, whichever worker ran which cell."""
    tasks = [(s.name, seed) for s in scenarios for seed in seeds]
    if jobs <= 1:
        return {t: cell(*t, cap, keep_going) for t in tasks}
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with cf.ProcessPoolExecutor(jobs, mp_context=ctx) as ex:
        futures = {t: ex.submit(cell, *t, cap, keep_going) for t in tasks}
        return {t: f.result() for t, f in futures.items()}


def table(scenarios, seeds, cells) -> tuple[str, int]:
    lines = ["| scenario | expect | budget | found at (median) | max | seed of max | misses (seed: executions) "
             "| other invariant (seed: found) | CPU s | within budget |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |"]
    bad = 0
    for s in scenarios:
        budget = budget_of(s)
        rows = [(seed, *cells[(s.name, seed)]) for seed in seeds]
        hits = [(at, seed) for seed, inv, at, *_ in rows if inv is not None and s.expects(inv)]
        misses = [f"{seed}: {n}" + (" exhaustive" if complete else "")
                  for seed, inv, at, n, complete, _ in rows if inv is None]
        other = [f"{seed}: {inv} at {at}" for seed, inv, at, *_ in rows if inv is not None and not s.expects(inv)]
        late = [seed for at, seed in hits if at > budget]
        ok = not misses and not other and not late
        bad += not ok
        worst = max(hits) if hits else (None, None)
        cpu = sum(r[-1] for r in rows)
        lines.append(f"| `{s.name}` | {s.expect.replace('|', chr(92) + '|')} | {budget} | "
                     f"{statistics.median(a for a, _ in hits) if hits else '-'} | {worst[0] or '-'} | "
                     f"{worst[1] or '-'} | {', '.join(misses) or '-'} | {', '.join(other) or '-'} | {cpu:.1f} | "
                     f"{'yes' if ok else 'NO'} |")
    return "\n".join(lines), bad


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=seed_range, default=seed_range("1-20"), help="seeds: N, N-M, or a comma list")
    p.add_argument("--cap", type=int, default=None,
                   help="executions per cell (default: 3 x the scenario's budget; with --keep-going its budget)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (the table is the same for any number)")
    p.add_argument("--scenario", action="append", metavar="NAME", help="only these scenarios (repeatable)")
    p.add_argument("--keep-going", action="store_true",
                   help="explore as the main job does past the expected violation (sim.keepgoing), so that "
                        "another invariant found after it shows; the found-at column stays the first find")
    p.add_argument("--out", metavar="FILE", help="also write the Markdown table to FILE")
    args = p.parse_args(argv)
    if args.cap is not None and args.cap < 1 or args.jobs < 1:
        p.error("--cap and --jobs take a number >= 1")
    try:
        scenarios = expecting(args.scenario)
    except registry.UnknownScenario as e:
        p.error(str(e))
    t0 = time.process_time()
    cells = run(scenarios, args.seeds, args.cap, args.jobs, args.keep_going)
    text, bad = table(scenarios, args.seeds, cells)
    cpu = sum(c[-1] for c in cells.values())
    text += (f"\n\n{len(scenarios)} scenario(s) x seeds {args.seeds[0]}..{args.seeds[-1]} ({len(args.seeds)}): "
             f"{bad} with a seed that misses its budget or finds another invariant; "
             f"{cpu:.0f} CPU s in explorations ({time.process_time() - t0:.0f} s in this process)")
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
