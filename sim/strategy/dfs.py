"""Exhaustive depth-first search over the choice tree (stateless: each execution re-runs from the start).

Every `step` choice is enumerated. Data choices with more than `data_cap`
values (ULID ordering bits, wide random draws) are explored at their two
extremes, 0 and n-1, which covers both relative orders; `truncated` says so.
"""
from __future__ import annotations

from sim.strategy.base import Strategy
from sim.tape import STEP


class ModelNondeterminism(RuntimeError):
    """The same choice prefix led to a different question: the model depends on something outside the tape."""


class DFS(Strategy):
    name = "dfs"
    exhaustive = True

    def __init__(self, data_cap: int = 16):
        self.data_cap = data_cap
        self._n: list[int] = []     # branching of each choice on the current path
        self._v: list[int] = []     # value taken
        self._pos = 0
        self._done = False
        self.truncated = False
        self.executions = 0

    @property
    def complete(self) -> bool:
        return self._done

    def next_execution(self) -> bool:
        if self._done:
            return False
        self._pos = 0
        return True

    def choose(self, kind, n, label):
        pos = self._pos
        self._pos = pos + 1
        if pos < len(self._n):
            if abs(self._n[pos]) != n:
                raise ModelNondeterminism(
                    f"choice {pos} had {abs(self._n[pos])} options before and {n} now with the same prefix")
            return self._v[pos]
        if kind is not STEP and n > self.data_cap:
            self.truncated = True
            n = -n  # marks a two-valued node: 0 then |n|-1
        self._n.append(n)
        self._v.append(0)
        return 0

    def end_execution(self, kernel) -> None:
        self.executions += 1
        ns, vs = self._n, self._v
        del ns[self._pos:]
        del vs[self._pos:]
        while ns:
            n, v = ns[-1], vs[-1]
            if n < 0:
                if v == 0:
                    vs[-1] = -n - 1
                    return
            elif v + 1 < n:
                vs[-1] = v + 1
                return
            ns.pop()
            vs.pop()
        self._done = True

    def describe(self):
        return {"name": self.name, "data_cap": self.data_cap}
