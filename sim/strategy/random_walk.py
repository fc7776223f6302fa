"""Uniform random walk over the decision tree, with faults at a fixed rate."""
from __future__ import annotations

import random

from sim.strategy.base import Strategy, execution_seed
from sim.tape import STEP


class RandomWalk(Strategy):
    name = "random"

    def __init__(self, seed: int = 0, fault_rate: float = 0.05):
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be in [0, 1], got {fault_rate}")
        self.seed = seed
        self.fault_rate = fault_rate
        self.index = 0
        self._rng = random.Random(0)

    def next_execution(self) -> bool:
        self._rng.seed(execution_seed(self.seed, self.index))
        self.index += 1
        return True

    def choose(self, kind, n, label):
        rng = self._rng
        if kind is STEP:
            nr = label.n_run
            if nr < n and (nr == 0 or rng.random() < self.fault_rate):
                return rng.randrange(nr, n)
            return rng.randrange(nr)
        return rng.randrange(n)

    def describe(self):
        return {"name": self.name, "seed": self.seed, "fault_rate": self.fault_rate}
