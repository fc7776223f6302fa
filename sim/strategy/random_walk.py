"""Uniform random walk over the decision tree, with faults at a fixed rate."""
from __future__ import annotations

import random

from sim.strategy.base import Strategy
from sim.tape import STEP


class RandomWalk(Strategy):
    """Every choice uniformly at random from a seeded stream; a fault offered is taken with
    probability `fault_rate`. Not exhaustive: its verdicts say "sampled".

    Example: `sim.explore(scn, sim.RandomWalk(seed=1), budget=1000)`."""
    name = "random"

    def __init__(self, seed: int = 0, fault_rate: float = 0.05):
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be in [0, 1], got {fault_rate}")
        self.seed = seed
        self.fault_rate = fault_rate
        self.index = 0
        self._rng = random.Random(seed)  # one stream per run: reseeding per execution cost 5 us

    def next_execution(self) -> bool:
        self.index += 1
        return True

    def choose(self, kind, n, label):
        # int(random() * n) rather than randrange: a third of the cost, bias below 2**-50 for small n
        r = self._rng.random
        if kind is STEP:
            nr = label.n_run
            if nr < n and (nr == 0 or r() < self.fault_rate):
                return nr + int(r() * (n - nr))
            return int(r() * nr)
        return int(r() * n)

    def describe(self):
        return {"name": self.name, "seed": self.seed, "fault_rate": self.fault_rate}
