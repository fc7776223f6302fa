"""sim: a deterministic concurrency simulator and model checker.

Public API (everything a model or scenario outside this package needs):

    actors:      point, wait, sleep, now, choose, note, spawn, ulid,
                 current_process, current_actor
    primitives:  Lock, Queue (and the Delivery its handlers get), Store (managed key-value state)
    scenarios:   Scenario, ModelInfo, Faults, always, at_end, eventually, keys_where
    exploring:   explore, make_trace, replay, strategies (RandomWalk, PCT, DFS, Replay, Metrics, Wrapper)
                 and the View a strategy sees of an execution
"""
from sim.explore import Exploration, explore, make_trace, replay
from sim.kernel import Crashed, Process, Violation
from sim.primitives import Delivery, Lock, Queue
from sim.reads import keys_where
from sim.registry import register
from sim.runtime import (SimUsageError, UnawaitedPoint, choose, current_actor, current_process, note, now,
                         point, sleep, spawn, touch, ulid, wait)
from sim.scenario import Faults, Invariant, ModelInfo, Scenario, always, at_end, eventually
from sim.store import Store
from sim.strategy import DFS, PCT, Metrics, RandomWalk, Replay, Strategy, Wrapper
from sim.trace import TraceError
from sim.view import View


def __getattr__(name: str):
    if name == "Trace":  # pydantic, imported on first use
        from sim.tracemodel import Trace
        return Trace
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "point", "wait", "sleep", "now", "choose", "note", "spawn", "touch", "ulid", "current_process", "current_actor",
    "Lock", "Queue", "Delivery", "Store", "Scenario", "ModelInfo", "Faults", "Invariant", "always", "at_end", "eventually",
    "keys_where",
    "explore", "make_trace", "replay", "Exploration", "Strategy", "Wrapper", "RandomWalk", "PCT", "DFS", "Replay",
    "Metrics", "View", "Trace", "TraceError", "Violation", "Process", "Crashed", "SimUsageError", "UnawaitedPoint",
    "register",
]
