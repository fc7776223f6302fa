"""Our tape shrinker (sim.shrink) against Hypothesis's (sim.hypo) on the known counterexample scenarios.

For every scenario and seed 1..N:
  ours:       find with the default strategy (portfolio, seed s), shrink with sim.shrink.shrink;
  Hypothesis: sim.hypo.hunt(seed=s): Hypothesis finds ("choices" encoding) and shrinks ("marks");
  same start: sim.hypo.shrink_with_hypothesis on *our* found tape (both shrinkers from one input).
Each cell is the median over the seeds. A shape is steps/deviations/choices; f/p counts the faults
(crashes, redeliveries) and preemptions of the final tape. "vs ours" counts the seeds where
Hypothesis's tape from the same start is simpler / as simple / less simple than ours, in our order
(faults, preemptions, steps, deviations, choices).

    python benchmarks/shrink_compare.py [--seeds 5] [--quick] [--no-same-start]
"""
from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from sim import registry
from sim.explore import explore
from sim.hypo import hunt, profile, shrink_with_hypothesis
from sim.shrink import shrink
from sim.strategy import make

SCENARIOS = [
    "claim-publish", "hook-pairs@local:B3", "step-2331@postgres:P2", "hook-converge@postgres:P1",
    "hook-1665@local:B1", "hook-1665-crash@postgres:P3", "step-dup@postgres:P1",
    "run-start-race@postgres:P3", "step-create-crash@postgres:B13",
]
QUICK = ["claim-publish", "hook-pairs@local:B3", "step-2331@postgres:P2", "step-dup@postgres:P1",
         "step-create-crash@postgres:B13"]
BUDGET = 5_000


def med(xs) -> str:
    return f"{statistics.median(xs):g}" if xs else "-"


def shape(ps) -> str:
    """steps/deviations/choices, each the median over the seeds."""
    if not ps:
        return "-"
    return "/".join(med([getattr(p, f) for p in ps]) for f in ("steps", "deviations", "choices"))


def fp(ps) -> str:
    return f"{med([p.faults for p in ps])}/{med([p.preemptions for p in ps])}" if ps else "-"


def order(p) -> tuple:
    return (p.faults, p.preemptions, p.steps, p.deviations, p.choices)  # sim.shrink.cost without the values


def run_one(task) -> dict:
    """One scenario at one seed: both pipelines (a process-pool task)."""
    name, seed, same_start = task
    s = registry.get(name)
    out: dict = {"seed": seed}
    res = explore(s, make("portfolio", seed=seed), budget=BUDGET)
    if res.violation is not None:
        t0 = time.perf_counter()
        r = shrink(s, res.tape)
        out["ours"] = dict(invariant=r.invariant, time=time.perf_counter() - t0, candidates=r.executions,
                           before=profile(s, res.tape), after=profile(s, r.tape))
        if same_start:
            h = shrink_with_hypothesis(s, res.tape, r.invariant, seed=seed)
            out["same"] = dict(after=h.after, time=h.elapsed)
    h = hunt(s, seed=seed)
    if h.found:
        out["hyp"] = dict(before=h.before, after=h.after, found_at=h.found_at, shrink=h.shrink_examples,
                          time=h.elapsed)
    return out


def row(name: str, runs: list, seeds: int, same_start: bool) -> str:
    ours = [r["ours"] for r in runs if "ours" in r]
    hyp = [r["hyp"] for r in runs if "hyp" in r]
    same = [r["same"] for r in runs if "same" in r]
    inv = ", ".join(sorted({o["invariant"] for o in ours})) or "-"
    cells = [name, inv, f"{len(ours)}/{seeds}", shape([o["before"] for o in ours]),
             shape([o["after"] for o in ours]), fp([o["after"] for o in ours]), med([o["candidates"] for o in ours]),
             secs([o["time"] for o in ours]),
             f"{len(hyp)}/{seeds}", shape([h["before"] for h in hyp]), shape([h["after"] for h in hyp]),
             fp([h["after"] for h in hyp]),
             f"{med([h['found_at'] for h in hyp])}+{med([h['shrink'] for h in hyp])}" if hyp else "-",
             secs([h["time"] for h in hyp])]
    if same_start:
        vs = [0, 0, 0]
        for r in runs:
            if "same" in r:
                a, b = order(r["same"]["after"]), order(r["ours"]["after"])
                vs[0 if a < b else 1 if a == b else 2] += 1
        cells += [shape([x["after"] for x in same]), fp([x["after"] for x in same]),
                  secs([x["time"] for x in same]), "/".join(map(str, vs))]
    return "| " + " | ".join(cells) + " |"


def secs(xs) -> str:
    return f"{statistics.median(xs):.2f}" if xs else "-"


def report(results, tasks, seeds: int, same_start: bool) -> None:
    runs: list = []
    for i, r in enumerate(results):   # in task order: a scenario's seeds, then the next scenario's
        runs.append(r)
        if len(runs) == seeds:
            print(row(tasks[i][0], runs, seeds, same_start), flush=True)
            runs = []


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=None, help="seeds 1..N (default 5; 3 with --quick)")
    ap.add_argument("--quick", action="store_true", help="5 of the scenarios, 3 seeds unless --seeds is given")
    ap.add_argument("--no-same-start", dest="same_start", action="store_false",
                    help="skip Hypothesis shrinking our own found tapes")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2; 1 = in this process)")
    args = ap.parse_args(argv)
    seeds = args.seeds if args.seeds is not None else 3 if args.quick else 5
    if seeds < 1 or args.jobs < 1:
        print("shrink_compare: --seeds and --jobs must be >= 1", file=sys.stderr)
        return 2
    names = QUICK if args.quick else SCENARIOS
    head = ["scenario", "invariant", "ours found", "ours original s/d/c", "ours after s/d/c", "ours f/p",
            "ours candidates", "ours s", "Hyp. found", "Hyp. original s/d/c", "Hyp. after s/d/c", "Hyp. f/p",
            "Hyp. executions find+shrink", "Hyp. s"]
    if args.same_start:
        head += ["Hyp. on our tape s/d/c", "Hyp. on our tape f/p", "Hyp. on our tape s",
                 "vs ours better/equal/worse"]
    print(f"Shrinkers compared, medians over seeds 1..{seeds} (s/d/c = steps/deviations/choices, "
          f"f/p = faults/preemptions; portfolio budget {BUDGET}, hunt max_examples 1000)\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|")
    t0 = time.perf_counter()
    tasks = [(name, seed, args.same_start) for name in names for seed in range(1, seeds + 1)]
    if args.jobs == 1:
        report(map(run_one, tasks), tasks, seeds, args.same_start)
    else:
        # the tasks are independent: the shrunk tapes (not the timings) are the same with any --jobs
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            report(pool.map(run_one, tasks), tasks, seeds, args.same_start)
    print(f"\n{time.perf_counter() - t0:.0f} s in all (--jobs {args.jobs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
