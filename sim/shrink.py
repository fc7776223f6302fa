"""Shrinking a failing tape to a counterexample a person can read.

A tape is the list of values of an execution's choices, and 0 is always "no
deviation": keep running the current actor, inject no fault, take the oldest
message. So a tape with fewer non-zero values has fewer preemptions and faults,
and a shorter one has fewer steps. The shrinker re-executes candidate tapes under
`Guided` (which answers 0 wherever a candidate runs out or no longer fits the
question asked) and keeps a candidate only if the same invariant still fails;
what it keeps is the tape the execution actually made, so every kept tape
replays exactly.

Passes, repeated until none improves or the time is up: cut the tail; delete
runs of choices; set single choices to 0; lower single choices. Candidates are
ordered by (non-zero choices, length, values), smallest first.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from sim import engine as engines
from sim.scenario import Scenario
from sim.strategy.base import Strategy


class Guided(Strategy):
    """Follows `values`; past their end, or where a value does not fit the question, answers 0."""
    name = "guided"

    def __init__(self, values):
        self.values = values
        self._pos = 0
        self._used = False

    def next_execution(self) -> bool:
        if self._used:
            return False
        self._used = True
        return True

    def choose(self, kind, n, label):
        pos = self._pos
        self._pos = pos + 1
        v = self.values[pos] if pos < len(self.values) else 0
        return v if v < n else 0


def simplicity(tape) -> tuple:
    """Smaller is simpler: fewer deviations (preemptions, faults, non-default picks), then fewer choices."""
    return (sum(1 for v in tape if v), len(tape), tuple(tape))


@dataclass
class Shrunk:
    tape: list
    invariant: str
    executions: int = 0          # candidates tried
    elapsed: float = 0.0
    before: tuple = ()           # (steps, deviations, choices) of the original
    after: tuple = ()


def shrink(scenario: Scenario, tape, invariant: str | None = None, *, max_candidates: int = 3_000,
           time_limit: float | None = None, engine: str = "fast") -> Shrunk:
    """Minimize `tape`, which must end in a violation (of `invariant`, if given) of `scenario`.

    `max_candidates` bounds the work and keeps the result deterministic (the same tape shrinks to the
    same tape on any machine); `time_limit` is an optional extra bound that trades that away."""
    eng = engines.make(engine)
    out: dict = {}

    def run(values):
        k = eng.execute(scenario, Guided(values), False, False)
        return k

    def loop():
        t0 = time.perf_counter()
        first = run(list(tape))
        if first.violation is None:
            raise ValueError(f"the tape does not fail {scenario.name}: nothing to shrink")
        target = invariant or first.violation.invariant
        if first.violation.invariant != target:
            raise ValueError(f"the tape fails {first.violation.invariant}, not {target}")
        best, best_k = list(first.tape), first
        res = Shrunk(best, target, 1, before=_shape(first))
        tried = {tuple(best)}

        def attempt(values) -> bool:
            nonlocal best, best_k
            key = tuple(values)
            if key in tried:
                return False
            tried.add(key)
            res.executions += 1
            k = run(list(values))
            if k.violation is None or k.violation.invariant != target:
                return False
            if simplicity(k.tape) < simplicity(best):
                best, best_k = list(k.tape), k
                return True
            return False

        def out_of_time() -> bool:
            return res.executions >= max_candidates or (
                time_limit is not None and time.perf_counter() - t0 > time_limit)

        improved = True
        while improved and not out_of_time():
            improved = False
            # 1. cut the tail (what follows is answered with 0s)
            lo, hi = 0, len(best)
            while lo < hi and not out_of_time():
                mid = (lo + hi) // 2
                if attempt(best[:mid]):
                    improved = True
                    hi = min(mid, len(best))
                    lo = 0
                else:
                    lo = mid + 1
            # 2. delete runs of choices, long runs first
            for size in (16, 8, 4, 2, 1):
                i = 0
                while i < len(best) and not out_of_time():
                    if attempt(best[:i] + best[i + size:]):
                        improved = True
                    else:
                        i += 1
            # 3. single choices to 0, then lower (deviations later in the tape first: they are
            #    usually the ones the failure does not need)
            for i in reversed(range(len(best))):
                if out_of_time():
                    break
                if i < len(best) and best[i]:
                    v = best[i]
                    if attempt(best[:i] + [0] + best[i + 1:]):
                        improved = True
                    elif v > 1 and attempt(best[:i] + [v - 1] + best[i + 1:]):
                        improved = True
        res.tape, res.after = best, _shape(best_k)
        res.elapsed = time.perf_counter() - t0
        out["res"] = res

    eng.host(loop)
    return out["res"]


def _shape(k) -> tuple:
    """(steps, deviations, choices) of an execution."""
    return (k.step, sum(1 for v in k.tape if v), len(k.tape))
