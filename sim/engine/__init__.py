"""Engines run one execution of a scenario under a strategy. All give identical traces for a tape."""
from __future__ import annotations

NAMES = ("fast", "trio")


def make(name: str):
    if name == "fast":
        from sim.engine.fast import FastEngine
        return FastEngine()
    if name == "trio":
        from sim.engine.tasks import TaskEngine
        return TaskEngine()
    raise ValueError(f"unknown engine {name!r} (choose from {', '.join(NAMES)})")
