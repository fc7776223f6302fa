"""Replay a recorded tape, failing loudly at the first choice that differs."""
from __future__ import annotations

from sim.strategy.base import Strategy
from sim.tape import Divergence


class Replay(Strategy):
    """Answers with a recorded tape, one execution; a choice whose kind or width differs from the
    recording raises `Divergence` naming the step (the model changed).

    Example: `sim.explore(scn, sim.Replay(res.tape))`."""
    name = "replay"

    def __init__(self, values, kinds=None, ns=None):
        self.values = list(values)
        self.kinds = None if kinds is None else list(kinds)
        self.ns = None if ns is None else list(ns)
        self._pos = 0
        self._used = False

    @classmethod
    def from_choices(cls, choices):
        """From `[(kind, n, value), ...]` as stored in a trace."""
        kinds, ns, values = zip(*choices) if choices else ((), (), ())
        return cls(values, kinds, ns)

    def next_execution(self) -> bool:
        if self._used:
            return False
        self._used = True
        self._pos = 0
        return True

    def choose(self, kind, n, label):
        pos = self._pos
        if pos >= len(self.values):
            raise Divergence(pos, "no more choices", f"a {kind} choice among {n}")
        v = self.values[pos]
        if self.kinds is not None and (self.kinds[pos] != kind or self.ns[pos] != n):
            raise Divergence(pos, f"a {self.kinds[pos]} choice among {self.ns[pos]}", f"a {kind} choice among {n}")
        if not 0 <= v < n:
            raise Divergence(pos, f"value {v}", f"a {kind} choice among {n}")
        self._pos = pos + 1
        return v

    def end_execution(self, view) -> None:
        if self._pos != len(self.values):
            err = Divergence(self._pos, f"{len(self.values) - self._pos} more choice(s)", "none (the execution ended)")
            err.step = view.step
            raise err

    def describe(self):
        return {"name": self.name}
