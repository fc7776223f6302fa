"""Strategies: oracles that answer the tape's choices."""
from sim.strategy.base import Strategy, Wrapper
from sim.strategy.dfs import DFS, ModelNondeterminism
from sim.strategy.dpor import DPOR
from sim.strategy.metrics import Metrics
from sim.strategy.pct import PCT
from sim.strategy.portfolio import Portfolio
from sim.strategy.random_walk import RandomWalk
from sim.strategy.replay import Replay

NAMES = ("portfolio", "random", "pct", "dfs", "dpor")


def make(name: str, seed: int = 0, **opts) -> Strategy:
    """Build a strategy by its command-line name."""
    if name == "portfolio":
        return Portfolio(seed, **opts)
    if name == "random":
        return RandomWalk(seed, **opts)
    if name == "pct":
        return PCT(seed, **opts)
    if name == "dfs":
        return DFS(**opts)
    if name == "dpor":
        return DPOR(**opts)
    raise ValueError(f"unknown strategy {name!r} (choose from {', '.join(NAMES)})")


__all__ = ["Strategy", "Wrapper", "Portfolio", "DFS", "DPOR", "PCT", "RandomWalk", "Replay", "Metrics", "ModelNondeterminism", "make", "NAMES"]
