"""Scenario registry: scenarios are found by name through the `sim.scenarios` entry point group.

A package (ours: `scenarios.engine_toys`, `models.local.scenarios`,
`models.postgres.scenarios`) exposes a module with a `SCENARIOS` list, optionally
a `MODELS` list describing the model revisions its scenarios run against,
optionally a `REFERENCE` dict (title -> rows of (construct, example, what it does), shown by
`sim list`: e.g. the language its workloads are written in), and
optionally `build(workload, model)`, which makes a scenario for a pair it does
not register (a workload pointed at any revision: `--scenario W --model M`); `--load MODULE` on the command line
adds any other importable module the same way, so users never edit sim/ to add
theirs.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from sim import variants
from sim.scenario import ModelInfo, Scenario

_registry: dict[str, Scenario] = {}
_models: dict[str, ModelInfo] = {}
_aliases: dict[str, str] = {}
_builders: list = []
_references: dict[str, tuple] = {}   # title -> rows (construct, example, what it does)
_variants: dict[str, tuple] = {}   # name asked for -> (the scenario it varies, the variant)
_origins: dict[str, str] = {}   # scenario or workload name -> the `--load` module or file that registered it
_loaded = False


class UnknownScenario(LookupError):
    pass


def register(*scenarios: Scenario) -> None:
    """Make scenarios known by name to the CLI and the pytest plugin (a module's `SCENARIOS` list
    is registered for you by `--load`). A misspelt `expect` or a name used twice is refused.

    Example: `sim.register(sim.Scenario("counter", setup, expect="I-N", invariants=(...)))`."""
    for s in scenarios:
        s.check_expect()
        old = _registry.get(s.name)
        if old is not None and old is not s:
            raise ValueError(f"scenario name {s.name!r} registered twice")
        _registry[s.name] = s


def register_models(*models: ModelInfo) -> None:
    for m in models:
        for name in (m.name, *m.aliases):
            old = _aliases.get(name)
            if old is not None and old != m.name:
                raise ValueError(f"model name {name!r} registered twice")
            _aliases[name] = m.name
        _models[m.name] = m


def register_reference(title: str, rows) -> None:
    rows = tuple(tuple(r) for r in rows)
    old = _references.get(title)
    if old is not None and old != rows:
        raise ValueError(f"reference {title!r} registered twice with other rows")
    _references[title] = rows


def all_references() -> dict[str, tuple]:
    _load_entry_points()
    return dict(_references)


def is_path(spec: str) -> bool:
    """`--load` takes a module name or a file path (`models/mine.py`)."""
    return spec.endswith(".py") or "/" in spec or os.sep in spec


def _import(spec: str):
    if not is_path(spec):
        return importlib.import_module(spec)
    path = os.path.abspath(spec)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file {spec}")
    name = os.path.splitext(os.path.basename(path))[0]
    mod = sys.modules.get(name)
    if mod is not None and getattr(mod, "__file__", None) == path:
        return mod
    folder = os.path.dirname(path)
    if folder not in sys.path:   # so the file imports its neighbours, as `python file.py` would
        sys.path.insert(0, folder)
    found = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(found)
    sys.modules[name] = mod
    try:
        found.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


def load_module(name: str, *, user: bool = True) -> None:
    """Register what module (or file) `name` exposes; `user`: a `--load`, recorded as the origin of its
    scenarios so that their traces name it and replay, shrink and report work from the trace alone."""
    mod = _import(name)
    register_models(*getattr(mod, "MODELS", ()))
    for title, rows in getattr(mod, "REFERENCE", {}).items():
        register_reference(title, rows)
    scenarios = getattr(mod, "SCENARIOS", ())
    register(*scenarios)
    if user:
        for s in scenarios:
            _origins.setdefault(s.name, name)
            _origins.setdefault(s.workload, name)
    build = getattr(mod, "build", None)
    if build is not None and build not in _builders:
        _builders.append(build)


def origin(name: str) -> str | None:
    """The `--load` module or file a scenario (or its variant, or its workload built on another model)
    came from; None for the built-in ones."""
    try:
        base = variants.split(name)[0]
    except variants.VariantError:
        return None
    return _origins.get(base) or _origins.get(base.partition("@")[0])


def loaded_from(spec: str) -> list[Scenario]:
    """The registered scenarios a `--load` brought in."""
    return [s for s in all_scenarios() if _origins.get(s.name) == spec]


def _load_entry_points() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from importlib.metadata import entry_points  # slow to import; `--help` never gets here
    for ep in sorted(entry_points(group="sim.scenarios"), key=lambda e: e.name):
        load_module(ep.value.split(":")[0], user=False)


def is_registered(s: Scenario) -> bool:
    """`s` itself is registered (not merely built from a registered one)."""
    _load_entry_points()
    return _registry.get(s.name) is s


def all_scenarios() -> list[Scenario]:
    _load_entry_points()
    return [_registry[k] for k in sorted(_registry)]


def get(name: str) -> Scenario:
    """A scenario by name: registered, built on demand (`workload@model`), or a variant (`NAME[k=v,...]`)."""
    _load_entry_points()
    try:
        return _registry[name]
    except KeyError:
        if "[" in name or "]" in name:
            return _variant(name)
        workload, _, model = name.partition("@")
        built = [s for s in (b(workload, model) for b in _builders) if s is not None] if model else []
        if built and built[0].name == name:
            return built[0]
        raise UnknownScenario(f"unknown scenario {name!r} ({_suggest(name)})") from None


def _suggest(name: str) -> str:
    """Close names, not all ~200: a one-line error must stay readable."""
    import difflib
    if not _registry:
        return "no scenarios are registered"
    close = difflib.get_close_matches(name, sorted(_registry), n=5, cutoff=0.5)
    hint = f"did you mean: {', '.join(close)}? " if close else ""
    return f"{hint}{len(_registry)} known; `python -m sim list` lists them"


def _variant(name: str) -> Scenario:
    bases = []

    def lookup(base_name: str) -> Scenario:
        bases.append(get(base_name))
        return bases[-1]

    try:
        cached = _variants.get(name)
        if cached is not None and lookup(variants.split(name)[0]) is cached[0]:
            return cached[1]  # built from the scenario registered now: the same object every time
        found = variants.from_name(name, lookup)
    except variants.VariantError as e:
        raise UnknownScenario(f"scenario {name!r}: {e}") from None
    _variants[name] = (bases[-1], found)
    return found


def all_models() -> list[ModelInfo]:
    _load_entry_points()
    return [_models[k] for k in sorted(_models)]


def resolve_model(name: str) -> str:
    """The canonical name of a model (or of one of its aliases); models only named by scenarios count too."""
    _load_entry_points()
    if name in _aliases:
        return _aliases[name]
    if any(s.model == name for s in _registry.values()):
        return name
    known = sorted(set(_aliases) | {s.model for s in _registry.values() if s.model})
    raise UnknownScenario(f"unknown model {name!r} (known: {', '.join(known) or 'none'})")


def select(name: str, model: str | None = None) -> list[Scenario]:
    """Scenarios by name ("all", a full name, or a workload run on several models), optionally on one model."""
    found = all_scenarios()
    if "[" in name or "]" in name:   # a variant names one scenario
        s = get(name)
        if model is not None and s.model != resolve_model(model):
            raise UnknownScenario(f"scenario {name!r} does not run on model {model!r}")
        return [s]
    if model is not None:
        model = resolve_model(model)
        found = [s for s in found if s.model == model]
    if name != "all":
        exact = [s for s in found if s.name == name]
        found = exact or [s for s in found if s.workload == name]
    if not found and model is not None and name != "all":
        # a workload pointed at a model it is not registered for: built on demand, expectation unknown
        built = [s for s in (b(name, model) for b in _builders) if s is not None]
        if built:
            return built[:1]
    if not found:
        if model is not None and name != "all":
            on = sorted(s.model for s in all_scenarios() if s.workload == name)
            raise UnknownScenario(f"no scenario {name!r} for model {model!r}"
                                  + (f" (it runs on: {', '.join(on)})" if on else ""))
        # a full name of a workload on a model it is not registered for is built on demand (expectation
        # unknown); anything else raises the unknown-scenario error listing the known names
        return [get(name)]
    return found
