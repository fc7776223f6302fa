"""Shrinking a failing tape to a counterexample a person can read.

A tape is the list of values of an execution's choices, and 0 is always "no
deviation": keep running the current actor, inject no fault, take the oldest
message. The shrinker re-executes candidate tapes under `Guided` (which answers
0 wherever a candidate runs out or no longer fits the question asked) and keeps
a candidate only if the same invariant still fails; what it keeps is the tape the
execution actually made, so every kept tape replays exactly.

Simpler means, in this order: fewer injected faults (crashes, redeliveries),
fewer preemptions (switching away from an actor that could still run), fewer
steps, fewer other deviations (a non-default pick when the current actor is
blocked, a later message, a ULID order), fewer choices. Faults come first
because a reader must trust that each crash in a counterexample is needed;
preemptions next because they are what makes a schedule hard to follow (CHESS's
measure), even when fewer of them take more steps.

`Shrinker`'s passes, repeated until none improves or the candidate budget is
spent: `drop_faults`; `cut_tail`; `delete_runs` of choices (drops redundant
work: a deleted choice lets the default schedule run instead);
`lower_deviations` (each to 0, else one lower); `move_deviations` one choice
earlier or later (a preemption that must happen somewhere can land where it
lets another one go). When they are stuck, `bounded_search` (iterative
preemption-bounded DFS with a fault bound) looks for fewer faults, then fewer
preemptions; what it covers without finding one is reported in `Shrunk.proofs`
as the proof that the counts are minimal.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

from sim import engine as engines
from sim.scenario import Scenario
from sim.strategy.base import Strategy
from sim.strategy.dfs import DFS
from sim.tape import STEP


SHORTEST_LOOK = 200  # schedules the bounded search goes on exploring, at the bound it found a failure at,
                     # for a shorter one: which message a consumer takes first decides how much
                     # unrelated work precedes the race


class Shape(NamedTuple):
    """What a reader pays for a counterexample."""
    steps: int
    faults: int
    preemptions: int
    deviations: int      # every non-zero choice, faults and preemptions included
    choices: int

    def describe(self) -> str:
        return (f"{self.steps} steps, {self.faults} fault(s), {self.preemptions} preemption(s), "
                f"{self.deviations} deviation(s) in {self.choices} choices")


class Guided(Strategy):
    """Follows `values`; past their end, or where a value does not fit the question, answers 0.

    Counts the faults and preemptions of the schedule it steers."""
    name = "guided"

    def __init__(self, values):
        self.values = values
        self._pos = 0
        self._used = False
        self.faults = 0
        self.preemptions = 0

    def next_execution(self) -> bool:
        if self._used:
            return False
        self._used = True
        return True

    def choose(self, kind, n, label):
        pos = self._pos
        self._pos = pos + 1
        v = self.values[pos] if pos < len(self.values) else 0
        if v >= n:
            v = 0
        if v and kind is STEP:
            if label.is_fault(v):
                self.faults += 1
            elif label.is_preemption(v):
                self.preemptions += 1
        return v


def shape_of(k, g: Guided) -> Shape:
    return Shape(k.step, g.faults, g.preemptions, sum(1 for v in k.tape if v), len(k.tape))


def cost(shape: Shape, tape) -> tuple:
    """Smaller is simpler (see the module docstring)."""
    return (shape.faults, shape.preemptions, shape.steps, shape.deviations, shape.choices, tuple(tape))


def measure(scenario: Scenario, tape, engine: str = "fast") -> Shape:
    """The shape of one execution of `tape` (values past the end are 0)."""
    eng = engines.make(engine)

    def once():
        g = Guided(list(tape))
        return shape_of(eng.execute(scenario, g, False, False), g)

    return eng.host(once)


@dataclass
class Shrunk:
    tape: list
    invariant: str
    executions: int = 0          # candidates tried
    elapsed: float = 0.0
    before: Shape | None = None  # of the original
    after: Shape | None = None
    exhausted: bool = False      # stopped by the budget (or time), not because no pass improved
    proofs: list = field(default_factory=list)  # what the bounded searches found or ruled out


def shrink(scenario: Scenario, tape, invariant: str | None = None, *, max_candidates: int = 3_000,
           time_limit: float | None = None, engine: str = "fast", check_footprints: bool = False) -> Shrunk:
    """Minimize `tape`, which must end in a violation (of `invariant`, if given) of `scenario`.

    `max_candidates` bounds the work and keeps the result deterministic (the same tape shrinks to the
    same tape on any machine); `time_limit` is an optional extra bound that trades that away.
    `check_footprints`: the tape was found with footprints checked (a "footprint" violation only
    exists then)."""
    def minimize():
        return Shrinker(scenario, tape, invariant, max_candidates=max_candidates, time_limit=time_limit,
                        engine=engine, check_footprints=check_footprints).minimize()

    return engines.make(engine).host(minimize)


class Shrinker:
    """One shrink: the scenario, its engine, the target invariant, the candidate budget and the best
    tape so far (`best`, with its `best_shape`; every pass reads it afresh, as attempts replace it).

    Building one executes `tape` once (inside the engine's `host`), which must fail `invariant` (or,
    if None, any invariant, which becomes the target): ValueError otherwise. Each pass is a method
    that tries candidates through `attempt` and returns whether the best tape improved; `minimize`
    repeats them (see the module docstring) and returns the `Shrunk` result."""

    def __init__(self, scenario: Scenario, tape, invariant: str | None = None, *, max_candidates: int = 3_000,
                 time_limit: float | None = None, engine: str = "fast", check_footprints: bool = False):
        self.t0 = time.perf_counter()
        self.scenario = scenario
        self.eng = engines.make(engine)
        self.max_candidates = max_candidates
        self.time_limit = time_limit
        self.check_footprints = check_footprints
        first, first_shape = self.run(list(tape))
        if first.violation is None:
            raise ValueError(f"the tape does not fail {scenario.name}: nothing to shrink")
        self.target = target = invariant or first.violation.invariant
        if first.violation.invariant != target:
            raise ValueError(f"the tape fails {first.violation.invariant}, not {target}")
        self.best, self.best_shape = list(first.tape), first_shape
        self.result = Shrunk(self.best, target, 1, before=first_shape)
        self.tried = {tuple(self.best)}
        # ("f" or "p", faults, preemptions): the search for fewer faults (preemptions) from that shape
        # was run, or found nothing can be below it: not asked again
        self.settled: set = set()

    # ---- candidates ------------------------------------------------------------------------

    def run(self, values):
        g = Guided(values)
        k = self.eng.execute(self.scenario, g, False, self.check_footprints)
        return k, shape_of(k, g)

    def attempt(self, values) -> bool:
        """Execute a candidate (once: a tape tried before is not run again); adopt what it executed if
        it fails the target invariant and costs less than the best tape."""
        key = tuple(values)
        if key in self.tried:
            return False
        self.tried.add(key)
        self.result.executions += 1
        k, shape = self.run(list(values))
        if k.violation is None or k.violation.invariant != self.target:
            return False
        if cost(shape, k.tape) < cost(self.best_shape, self.best):
            self.best, self.best_shape = list(k.tape), shape
            return True
        return False

    def spent(self) -> bool:
        return self.result.executions >= self.max_candidates or (
            self.time_limit is not None and time.perf_counter() - self.t0 > self.time_limit)

    # ---- the schedule of passes ----------------------------------------------------------------

    def minimize(self) -> Shrunk:
        # a short bounded search first: when the bug needs few preemptions it finds that schedule
        # for far less than the local passes spend picking a long random one apart
        budget = self.max_candidates
        self.drop_faults()
        self.cut_tail()
        if self.best_shape.faults == 0 and self.best_shape.preemptions > 1:
            self.search(0, self.best_shape.preemptions - 1, max(1, budget // 5))
        while True:
            improved = True
            while improved and not self.spent():
                improved = self.drop_faults()
                improved |= self.cut_tail()
                improved |= self.delete_runs()
                improved |= self.lower_deviations()
                improved |= self.move_deviations()
            # the local passes are stuck: the (dearer) bounded searches may do better, fewer faults
            # first, then fewer preemptions; what they rule out is the proof of minimality
            f, p = self.best_shape.faults, self.best_shape.preemptions
            if self.spent():
                break
            if f and ("f", f, p) not in self.settled:
                self.settled.add(("f", f, p))
                if self.search(f - 1, p, max(1, budget // 4)):
                    continue
            if p and ("p", f, p) not in self.settled and not self.spent():
                self.settled.add(("p", f, p))   # asked once, settled or not
                if self.search(f, p - 1, max(1, budget // 4)):
                    continue
            break
        res = self.result
        res.exhausted = self.spent()
        res.tape, res.after = self.best, self.best_shape
        res.elapsed = time.perf_counter() - self.t0
        return res

    def search(self, fault_bound: int, preemption_bound: int, budget: int) -> bool:
        """`bounded_search`, recording which shapes it settled as minimal."""
        known = len(self.result.proofs)
        improved = self.bounded_search(fault_bound, preemption_bound, budget)
        if improved and self.best_shape.faults == fault_bound:
            self.settled.add(("p", fault_bound, self.best_shape.preemptions))  # found at the lowest bound: minimal
        elif len(self.result.proofs) > known:
            self.settled.add(("p", fault_bound, preemption_bound + 1))    # covered: nothing below the best
        return improved

    # ---- the passes: each returns whether the best tape improved ---------------------------------

    def fault_positions(self, tape) -> list[int]:
        """Positions of the tape's fault choices (found by replaying it once with a recorder)."""
        spots: list[int] = []

        class Spot(Guided):
            def choose(self, kind, n, label):
                f = self.faults
                v = super().choose(kind, n, label)
                if self.faults != f:
                    spots.append(self._pos - 1)
                return v

        self.eng.execute(self.scenario, Spot(list(tape)), False, False)
        return spots

    def drop_faults(self) -> bool:
        """Each fault (crash, redelivery), last first: answer 0 instead, else delete its choice."""
        improved = False
        for i in reversed(self.fault_positions(self.best)):
            if self.spent():
                break
            t = self.best
            if i < len(t) and t[i] and (self.attempt(t[:i] + [0] + t[i + 1:]) or self.attempt(t[:i] + t[i + 1:])):
                improved = True
        return improved

    def bounded_search(self, fault_bound: int, preemption_bound: int, budget: int) -> bool:
        """CHESS-style: iterative preemption-bounded DFS (bound 0, 1, ... `preemption_bound`) over the
        schedules with at most `fault_bound` faults, at most `budget` of them; adopts the first that
        fails the target, and appends to `result.proofs` what it found or covered.

        Local passes can get stuck at a schedule whose preemptions or faults are only removable
        together; this search finds the failing schedule with the fewest preemptions outright, and
        what it covers without finding one is the proof that the best tape's counts are minimal."""
        target, res = self.target, self.result
        dfs = DFS(preemption_bound=preemption_bound, iterative=True, fault_bound=fault_bound)
        n = 0
        found = None      # (steps, tape) of the shortest failing schedule at the first bound that has one
        b = None
        look = SHORTEST_LOOK
        while n < budget and not self.spent() and dfs.next_execution():
            if found is not None and (dfs.preemption_bound != b or look == 0):
                break
            bound = dfs.preemption_bound  # end_execution moves it on when this was the round's last
            k = self.eng.execute(self.scenario, dfs, False, False)
            dfs.end_execution(k.view())
            n += 1
            if found is not None:
                look -= 1
            if k.violation is not None and k.violation.invariant == target:
                if found is None or k.step < found[0]:
                    found = (k.step, list(k.tape))
                b = bound if b is None else b
        res.executions += n
        extremes = ", wide data choices at their extremes" if dfs.truncated else ""
        if found is not None:
            below = f"; none with {b - 1} or fewer{extremes}" if b else ""
            res.proofs.append(f"{target} with {b} preemption(s) and at most {fault_bound} fault(s){below} "
                              f"(bounded DFS, {n} schedules)")
            return self.attempt(found[1])
        if dfs.complete:
            res.proofs.append(f"no schedule with at most {preemption_bound} preemption(s) and {fault_bound} "
                              f"fault(s) fails {target} (bounded DFS, {n} schedules, exhaustive{extremes})")
        return False

    def cut_tail(self) -> bool:
        """Binary search for the shortest prefix that still fails (what follows is answered with 0s)."""
        improved = False
        lo, hi = 0, len(self.best)
        while lo < hi and not self.spent():
            mid = (lo + hi) // 2
            if self.attempt(self.best[:mid]):
                improved = True
                hi = min(mid, len(self.best))
                lo = 0
            else:
                lo = mid + 1
        return improved

    def delete_runs(self) -> bool:
        """Delete runs of 16, 8, 4, 2, then 1 choices holding a deviation (the default schedule runs instead)."""
        improved = False
        for size in (16, 8, 4, 2, 1):
            i = 0
            while i < len(self.best) and not self.spent():
                t = self.best
                # an all-zero run only shifts the deviations after it, which rarely helps and would
                # cost a candidate per position of a long, mostly default tape
                if any(t[i:i + size]) and self.attempt(t[:i] + t[i + size:]):
                    improved = True
                else:
                    i += 1
        return improved

    def deviations(self):
        """(position, current best tape) of each deviation, last first (usually the unneeded ones)."""
        for i in reversed(range(len(self.best))):
            if self.spent():
                return
            t = self.best
            if i < len(t) and t[i]:
                yield i, t

    def lower_deviations(self) -> bool:
        """Each deviation to 0, else one lower."""
        improved = False
        for i, t in self.deviations():
            if self.attempt(t[:i] + [0] + t[i + 1:]) or (t[i] > 1 and self.attempt(t[:i] + [t[i] - 1] + t[i + 1:])):
                improved = True
        return improved

    def move_deviations(self) -> bool:
        """Each deviation one choice earlier, else later."""
        improved = False
        for i, t in self.deviations():
            for j in (i - 1, i + 1):
                if 0 <= j < len(t) and not t[j]:
                    u = list(t)
                    u[i], u[j] = u[j], u[i]
                    if self.attempt(u):
                        improved = True
                        break
        return improved
