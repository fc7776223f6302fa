"""Scenario registry: scenarios are found by name through the `sim.scenarios` entry point group.

A package (ours: `scenarios.engine_toys`; later the world models) exposes a
module with a `SCENARIOS` list; `--load MODULE` on the command line adds any
other importable module the same way, so users never edit sim/ to add theirs.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from sim.scenario import Scenario

_registry: dict[str, Scenario] = {}
_loaded = False


class UnknownScenario(LookupError):
    pass


def register(*scenarios: Scenario) -> None:
    for s in scenarios:
        old = _registry.get(s.name)
        if old is not None and old is not s:
            raise ValueError(f"scenario name {s.name!r} registered twice")
        _registry[s.name] = s


def load_module(name: str) -> None:
    mod = importlib.import_module(name)
    register(*getattr(mod, "SCENARIOS", ()))


def _load_entry_points() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for ep in sorted(entry_points(group="sim.scenarios"), key=lambda e: e.name):
        load_module(ep.value.split(":")[0])


def all_scenarios() -> list[Scenario]:
    _load_entry_points()
    return [_registry[k] for k in sorted(_registry)]


def get(name: str) -> Scenario:
    _load_entry_points()
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise UnknownScenario(f"unknown scenario {name!r} (known: {known})") from None
