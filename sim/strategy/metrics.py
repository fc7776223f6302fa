"""A wrapper that counts what a strategy was asked, without changing its answers."""
from __future__ import annotations

from sim.strategy.base import Wrapper
from sim.tape import STEP


class Metrics(Wrapper):
    """Counts what the wrapped strategy was asked (decisions, their widths, faults offered), answering
    exactly as it does.

    Example: `m = sim.Metrics(sim.DFS()); sim.explore(scn, m)`."""

    def __init__(self, inner):
        super().__init__(inner)
        self.executions = 0
        self.decisions = 0
        self.by_kind: dict[str, int] = {}
        self.deviations = 0       # step choices that were not "keep running the current actor"
        self.faults_offered = 0   # step choices where a time/redelivery/crash option existed

    def next_execution(self) -> bool:
        ok = self.inner.next_execution()
        if ok:
            self.executions += 1
        return ok

    def choose(self, kind, n, label):
        v = self.inner.choose(kind, n, label)
        self.decisions += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if kind is STEP:
            if v:
                self.deviations += 1
            if label.n_run < n:
                self.faults_offered += 1
        return v

    def summary(self) -> dict:
        return {"executions": self.executions, "decisions": self.decisions,
                "by_kind": dict(sorted(self.by_kind.items())), "deviations": self.deviations,
                "faults_offered": self.faults_offered}
