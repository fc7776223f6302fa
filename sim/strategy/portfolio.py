"""A portfolio: several strategies take turns, one execution each, sharing one budget.

The default member list is the evidence-backed one (SCTBench, Coyote): a random
walk, PCT with depth 1, 2 and 3, and DPOR. Random and PCT find shallow bugs in a
handful of executions; DPOR covers the small scopes exhaustively, and when it
completes without a violation the whole exploration is complete: the scenario
holds within its bounds, and nothing is left for the samplers to find.
"""
from __future__ import annotations

from sim.strategy.base import Strategy
from sim.strategy.dpor import DPOR
from sim.strategy.pct import PCT
from sim.strategy.random_walk import RandomWalk


# The default members, by command-line name and options: built here, and cut into work units by
# sim.units with the same list (one definition, so the two cannot drift apart).
MEMBERS = (("random", {}), ("pct", {"depth": 1}), ("pct", {"depth": 2}), ("pct", {"depth": 3}), ("dpor", {}))
_CLASSES = {"random": RandomWalk, "pct": PCT, "dpor": DPOR}


class Portfolio(Strategy):
    name = "portfolio"
    exhaustive = False  # sampling members never run out; DPOR completing makes it complete
    tracks = True       # for the DPOR member; others ignore before_step

    def __init__(self, seed: int = 0, members: list[Strategy] | None = None):
        self.seed = seed
        if members is None:
            members = [_CLASSES[name](**opts) if name == "dpor" else _CLASSES[name](seed, **opts)
                       for name, opts in MEMBERS]
        if not members:
            raise ValueError("a portfolio needs at least one member")
        self.members = members
        self.turn = -1
        self.current = members[0]
        self._complete = False

    def next_execution(self) -> bool:
        if self._complete:  # DPOR covered everything: the samplers cannot find more
            return False
        n = len(self.members)
        for _ in range(n):
            self.turn = (self.turn + 1) % n
            m = self.members[self.turn]
            if m.next_execution():
                self.current = m
                self.choose = m.choose  # no wrapper frame per decision
                return True
        return False

    def choose(self, kind, n, label):  # replaced per execution by the member's own bound method
        return self.current.choose(kind, n, label)

    def before_step(self, view, option: int, tape_pos: int) -> None:
        if self.current.tracks:
            self.current.before_step(view, option, tape_pos)

    def after_step(self, view) -> None:
        if self.current.tracks:
            self.current.after_step(view)

    def end_execution(self, view) -> None:
        m = self.current
        m.end_execution(view)
        if m.exhaustive and m.complete:
            self._complete = True

    @property
    def complete(self) -> bool:
        return self._complete

    @property
    def truncated(self) -> bool:
        return any(m.truncated for m in self.members)

    def describe(self):
        return {"name": self.name, "seed": self.seed, "member": self.current.describe()}
