"""The bare baseline: claim-then-publish driven by plain `coro.send(None)`, no kernel, no trio, no tape.

This is what the benchmark compares the engines against, so it is kept as lean
as an honest hand-written driver would be. It explores the same interleaving
space as `scenarios.engine_toys.claim_then_publish`:

- the same workers with the same scheduling points (check claim, set claim,
  scan events, publish created; or one exclusive-create claim point), the same
  shared state and the same invariants (at most one created event after every
  step, some created event at the end);
- a choice is made only when more than one worker can run, as in the kernel,
  so schedule, step and decision counts match `sim.explore` one for one.

What it leaves out on purpose is everything that makes sim a product: labels,
footprints, option 0 = "keep running the current actor", a per-execution seed,
a tape, faults, timers, traces. The workers are listed in spawn order (the
kernel lists the current actor first); under a uniform choice this gives the
same distribution of schedules, and DFS enumerates the same tree in another order.
"""
from __future__ import annotations

import random
import time
import types
from dataclasses import dataclass


@types.coroutine
def _point():
    yield


async def _worker(st, me, exclusive):
    if exclusive:
        await _point()                       # xcreate claim
        if st["claim"] is not None:
            return
        st["claim"] = me
    else:
        await _point()                       # check claim
        if st["claim"] is not None:
            return
        await _point()                       # set claim
        st["claim"] = me
    await _point()                           # scan events
    for kind, _ in st["events"]:
        if kind == "created":
            return
    await _point()                           # publish created
    st["events"].append(("created", me))


def _one_created(st) -> str | None:
    by = [who for kind, who in st["events"] if kind == "created"]
    return None if len(by) <= 1 else f"{len(by)} created events (by {', '.join(by)})"


@dataclass
class BareResult:
    schedules: int = 0
    steps: int = 0
    decisions: int = 0
    elapsed: float = 0.0
    complete: bool = False          # DFS enumerated the whole tree
    violation: str | None = None    # "I-ONE-CREATED: 2 created events (by w1, w2)"
    found_at: int | None = None     # 1-based schedule index of the first violation


def _start(workers: int, exclusive: bool):
    """Fresh state and fresh workers, each run to its first point (not a step, as in the kernel)."""
    st = {"claim": None, "events": []}
    runnable = []
    for i in range(workers):
        c = _worker(st, f"w{i + 1}", exclusive)
        try:
            c.send(None)
        except StopIteration:
            continue
        runnable.append(c)
    return st, runnable


def _at_end(st) -> str | None:
    for kind, _ in st["events"]:
        if kind == "created":
            return None
    return "I-SOME-CREATED: no created event"


def random_walk(workers: int = 2, exclusive: bool = False, *, seed: int = 0, budget: int = 1000,
                check: bool = True) -> BareResult:
    """Uniform random schedules until a violation or `budget` schedules. `check=False` skips the invariants."""
    rnd = random.Random(seed).random
    res = BareResult()
    steps = decisions = 0
    t0 = time.perf_counter()
    n = 0
    while n < budget:
        n += 1
        st, runnable = _start(workers, exclusive)
        bad = None
        while runnable:
            k = len(runnable)
            if k > 1:
                i = int(rnd() * k)
                decisions += 1
            else:
                i = 0
            steps += 1
            try:
                runnable[i].send(None)
            except StopIteration:
                del runnable[i]
            if check:
                bad = _one_created(st)
                if bad is not None:
                    bad = "I-ONE-CREATED: " + bad
                    break
        if check and bad is None:
            bad = _at_end(st)
        if bad is not None:
            for c in runnable:
                c.close()
            res.violation, res.found_at = bad, n
            break
    res.elapsed = time.perf_counter() - t0
    res.schedules, res.steps, res.decisions = n, steps, decisions
    return res


def dfs(workers: int = 2, exclusive: bool = False, *, budget: int | None = None,
        check: bool = True) -> BareResult:
    """Exhaustive stateless DFS over the scheduling choices: every schedule re-executes from the start."""
    ns: list[int] = []   # branching of each choice on the current path
    vs: list[int] = []   # value taken there
    res = BareResult()
    steps = decisions = 0
    t0 = time.perf_counter()
    n = 0
    while budget is None or n < budget:
        n += 1
        st, runnable = _start(workers, exclusive)
        pos = 0
        bad = None
        while runnable:
            k = len(runnable)
            if k > 1:
                if pos < len(ns):
                    i = vs[pos]
                else:
                    ns.append(k)
                    vs.append(0)
                    i = 0
                pos += 1
                decisions += 1
            else:
                i = 0
            steps += 1
            try:
                runnable[i].send(None)
            except StopIteration:
                del runnable[i]
            if check:
                bad = _one_created(st)
                if bad is not None:
                    bad = "I-ONE-CREATED: " + bad
                    break
        if check and bad is None:
            bad = _at_end(st)
        if bad is not None:
            for c in runnable:
                c.close()
            res.violation, res.found_at = bad, n
            break
        del ns[pos:]
        del vs[pos:]
        while ns and vs[-1] + 1 >= ns[-1]:
            ns.pop()
            vs.pop()
        if not ns:
            res.complete = True
            break
        vs[-1] += 1
    res.elapsed = time.perf_counter() - t0
    res.schedules, res.steps, res.decisions = n, steps, decisions
    return res
