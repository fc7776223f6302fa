"""Exhaustive depth-first search over the choice tree (stateless: each execution re-runs from the start).

Every `step` choice is enumerated. Data choices with more than `data_cap`
values (ULID ordering bits, wide random draws) are explored at their two
extremes, 0 and n-1, which covers both relative orders; `truncated` says so.
"""
from __future__ import annotations

from sim.strategy.base import Prune, Strategy
from sim.tape import STEP


class ModelNondeterminism(RuntimeError):
    """The same choice prefix led to a different question: the model depends on something outside the tape."""


class DFS(Strategy):
    """Plain DFS; with `preemption_bound=b`, only schedules with at most b preemptions; with
    `fault_bound=f`, at most f injected faults (crashes and redeliveries together, within the
    scenario's budget for each).

    A preemption is switching away from the current actor while it could still run
    (choosing option i in [1, n_run) when option 0 is the current actor); faults and
    time passing are bounded by the scenario's budget, not here. With `iterative`,
    the bound grows 0, 1, ..., b (CHESS-style), so the first violation found needs
    the fewest preemptions; schedules within a smaller bound are run again in the
    next round.

    Example: `res = sim.explore(scn, sim.DFS(preemption_bound=2)); print(res.bounds())`.
    """
    name = "dfs"
    exhaustive = True

    def __init__(self, data_cap: int = 16, preemption_bound: int | None = None, iterative: bool = False,
                 fault_bound: int | None = None, resume: list | None = None, cache_states: bool = False):
        if preemption_bound is not None and preemption_bound < 0:
            raise ValueError(f"preemption bound must be >= 0, got {preemption_bound}")
        if fault_bound is not None and fault_bound < 0:
            raise ValueError(f"fault bound must be >= 0, got {fault_bound}")
        self.fault_bound = fault_bound
        self._faults = 0            # faults on the path so far
        self.data_cap = data_cap
        self.max_preemptions = preemption_bound
        self.preemption_bound = 0 if iterative and preemption_bound is not None else preemption_bound
        self._n: list[int] = []     # options asked at each choice on the current path
        self._vals: list = []       # the values tried there, in order
        self._k: list[int] = []     # which of them is taken now
        if resume:  # a work unit (sim.units): start where unit_state() left off
            self._n = [n for n, _, _ in resume]
            self._vals = [tuple(v) for _, v, _ in resume]
            self._k = [k for _, _, k in resume]
        self._pos = 0
        self._used = 0              # preemptions on the path so far
        self._done = False
        self.truncated = False
        self.executions = 0
        self.pruned = 0
        # state caching: fingerprints (sim.statehash) of the states whose subtrees are explored or being
        # explored. Sound for a tree search because the step count is part of the state: a state is never
        # met again below itself, so its first visit's subtree is complete before any later visit is cut
        self._cache: set | None = set() if cache_states else None

    @property
    def complete(self) -> bool:
        return self._done

    def next_execution(self) -> bool:
        if self._done:
            return False
        self._pos = 0
        self._used = 0
        self._faults = 0
        return True

    def choose(self, kind, n, label):
        pos = self._pos
        self._pos = pos + 1
        preempting = kind is STEP and self.preemption_bound is not None and \
            label.n_run > 0 and label.options[0] is label.current
        if pos < len(self._n):
            if self._n[pos] != n:
                raise ModelNondeterminism(
                    f"choice {pos} had {self._n[pos]} options before and {n} now with the same prefix")
            v = self._vals[pos][self._k[pos]]
        else:
            if preempting and self._used >= self.preemption_bound:
                vals = [0, *range(label.n_run, n)]  # keep running the current actor, or a fault
            elif kind is not STEP and n > self.data_cap:
                self.truncated = True
                vals = (0, n - 1)
            else:
                vals = range(n)
            if kind is STEP and self.fault_bound is not None and self._faults >= self.fault_bound:
                vals = [v for v in vals if not label.is_fault(v)]
            if self._cache is not None and kind is STEP:
                # what the bounds have spent on this path limits its future: part of the state
                key = (label.fingerprint(), self._used, self._faults,
                       label.current.name if preempting and label.current is not None else None)
                if key in self._cache:
                    self._pos = pos
                    self.pruned += 1
                    raise Prune()
                self._cache.add(key)
            self._n.append(n)
            self._vals.append(vals)
            self._k.append(0)
            v = vals[0]
        if preempting and 0 < v < label.n_run:
            self._used += 1
        elif self.fault_bound is not None and kind is STEP and label.is_fault(v):
            self._faults += 1
        return v

    def end_execution(self, view) -> None:
        self.executions += 1
        ns, vals, ks = self._n, self._vals, self._k
        del ns[self._pos:], vals[self._pos:], ks[self._pos:]
        while ns:
            if ks[-1] + 1 < len(vals[-1]):
                ks[-1] += 1
                return
            ns.pop()
            vals.pop()
            ks.pop()
        if self.preemption_bound is not None and self.preemption_bound < (self.max_preemptions or 0):
            self.preemption_bound += 1  # the next round of iterative bounding
            if self._cache is not None:
                self._cache.clear()  # a state explored under a smaller bound has a larger subtree now
            return
        self._done = True

    def unit_state(self) -> list:
        """The next path as plain data, `(n, values to try, index of the one taken)` per choice: a work
        unit (sim.units) that gets it as `resume` explores exactly what this search has left. A choice
        with one value left is frozen: its other values are explored elsewhere, or were."""
        return [(n, tuple(v), k) for n, v, k in zip(self._n, self._vals, self._k)]

    def describe(self):
        d = {"name": self.name, "data_cap": self.data_cap}
        if self.preemption_bound is not None:
            d["preemption_bound"] = self.preemption_bound
        if self.fault_bound is not None:
            d["fault_bound"] = self.fault_bound
        if self._cache is not None:
            d["cache_states"] = True
        return d

