"""Which registered world pairs change verdict on their per-process-id twin: every registered
`workload@local:REV` and `workload@postgres:REV` is explored as registered and as `workload@WORLD:REVu`
(the same code with event ids from per-process ULID factories), with the same seed and budget, and the
pairs whose found verdicts differ are printed as a Markdown table, then the count.

    python benchmarks/twin_verdicts.py [--seed 1] [--budget 300] [--all] [--row NAME ...]

`--all` prints every pair, not only the differing ones. A verdict is what the search found within the
budget (`hold` = nothing found, which is not a proof unless the coverage column says exhaustive).
"""
from __future__ import annotations

import argparse
import time

import sim
from models.local import scenarios as local
from models.postgres import scenarios as postgres
from models.workloads import ULID_SUFFIX
from sim import registry
from sim.strategy import make

WORLDS = {"local": local, "postgres": postgres}


def twin_of(s):
    """The registered scenario `s` on its revision's `u` twin (None when `s` is not a world pair)."""
    world, _, revision = s.params.get("model", "").partition(":")
    mod = WORLDS.get(world)
    if mod is None or revision.endswith(ULID_SUFFIX) or revision + ULID_SUFFIX not in mod.REVISIONS:
        return None
    twin = mod.scenario(s.params["workload"], revision + ULID_SUFFIX, s.expect)
    # a registered variant (`[log_prefix=true]`) keeps its parameters on its twin
    varied = {k: v for k, v in s.params.items() if k not in ("model", "workload") and twin.params.get(k) != v}
    return mod.scenario(s.params["workload"], revision + ULID_SUFFIX, s.expect, **varied) if varied else twin


def verdict(s, seed: int, budget: int) -> tuple[str, str]:
    res = sim.explore(s, make("portfolio", seed), budget=budget)
    if res.violation is not None:
        return res.violation.invariant, f"at {res.found_at}"
    return "hold", "exhaustive" if res.complete else f"sampled {res.executions}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--all", action="store_true", help="print every pair, not only those that differ")
    ap.add_argument("--row", nargs="*", default=None, help="only these registered scenarios")
    args = ap.parse_args(argv)
    scenarios = [registry.get(n) for n in args.row] if args.row else registry.all_scenarios()
    pairs = [(s, t) for s in scenarios if (t := twin_of(s)) is not None]
    print("| scenario | expected | found | twin found |")
    print("|---|---|---|---|")
    differ, t0 = 0, time.process_time()
    for s, t in pairs:
        (v, how), (tv, thow) = verdict(s, args.seed, args.budget), verdict(t, args.seed, args.budget)
        if v != tv:
            differ += 1
        if v != tv or args.all:
            print(f"| {s.name} | {s.expect} | {v} ({how}) | {tv} ({thow}) |", flush=True)
    print(f"\n{differ} of {len(pairs)} registered pairs change verdict on their twins "
          f"(portfolio, seed {args.seed}, budget {args.budget}; {time.process_time() - t0:.0f} CPU s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
