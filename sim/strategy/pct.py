"""PCT (Burckhardt et al., ASPLOS 2010): random priorities plus d-1 priority change points.

Each actor gets a random priority above d when first seen; the highest-priority
enabled actor runs. At each of d-1 change points (steps drawn uniformly from the
estimated execution length) the running actor drops to priority d-i. A bug of
depth d is then hit with probability at least 1/(n * k^(d-1)) per execution.
Faults and data choices are drawn as in the random walk.
"""
from __future__ import annotations

import random

from sim.strategy.base import Strategy
from sim.tape import STEP


class PCT(Strategy):
    """Probabilistic concurrency testing (see the module's text): random actor priorities and
    `depth - 1` points where the running actor drops in priority. Not exhaustive.

    Example: `sim.explore(scn, sim.PCT(seed=1, depth=3), budget=1000)`."""
    name = "pct"

    def __init__(self, seed: int = 0, depth: int = 3, fault_rate: float = 0.05, length_hint: int = 8):
        if depth < 1:
            raise ValueError(f"PCT depth must be >= 1, got {depth}")
        self.seed = seed
        self.depth = depth
        self.fault_rate = fault_rate
        self.length_hint = max(1, length_hint)
        self.length = 0   # k: the most scheduling decisions seen in one execution (the hint until one ran)
        self.index = 0
        self._rng = random.Random(seed)  # one stream per run: reseeding per execution cost 5 us
        self._prio: dict[int, float] = {}
        self._changes: dict[int, int] = {}
        self._step = 0

    def next_execution(self) -> bool:
        rng = self._rng
        self.index += 1
        self._prio = {}
        self._step = 0
        k = self.length or self.length_hint
        points = rng.sample(range(1, k + 1), min(self.depth - 1, k))
        self._changes = {p: self.depth - 1 - i for i, p in enumerate(sorted(points))}
        return True

    def choose(self, kind, n, label):
        rng = self._rng
        if kind is not STEP:
            return rng.randrange(n)
        nr = label.n_run
        if nr < n and (nr == 0 or rng.random() < self.fault_rate):
            return rng.randrange(nr, n)
        self._step += 1
        prio = self._prio
        opts = label.options
        best = -1
        best_p = -1.0
        for i in range(nr):
            aid = opts[i].id
            p = prio.get(aid)
            if p is None:
                p = prio[aid] = self.depth + rng.random()
            if p > best_p:
                best, best_p = i, p
        low = self._changes.get(self._step)
        if low is not None:
            prio[opts[best].id] = low + rng.random() * 1e-3
            best = max(range(nr), key=lambda i: prio[opts[i].id])
        return best

    def end_execution(self, view) -> None:
        if self._step > self.length:
            self.length = self._step

    def describe(self):
        return {"name": self.name, "seed": self.seed, "depth": self.depth, "fault_rate": self.fault_rate}
