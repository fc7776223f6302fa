"""Variants: a registered scenario rebuilt with other parameters or another fault budget.

A scenario declares its parameters by carrying a `factory`: a callable taking
keyword arguments and returning the scenario built with them. Its parameters
are the factory's keyword parameters; the values the scenario was built with
are its `params` entries of the same names (else the factory's defaults).

A variant has a canonical name that says everything that differs from the
scenario it varies, so `registry.get(name)`, and with it replay, shrink and
regress, rebuilds exactly the same scenario from a saved trace:

    hook-pairs@local:L1[pairs=1,crashes=1,redeliveries=0]

Parameters come first in name order, then the budgets `crashes`,
`redeliveries`, `max_steps`. An entry equal to the base's value is left out, so
a "variant" that changes nothing is the registered scenario itself. A variant's
expectation is unknown: it is checked as "hold", like a workload pointed at a
model it is not registered for.
"""
from __future__ import annotations

import dataclasses
import inspect
import re

from sim.scenario import Scenario

BUDGETS = ("crashes", "redeliveries", "max_steps")
_SPEC = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<spec>[^\[\]]*)\]$")
_INT = re.compile(r"^-?[0-9]+$")
_BOOLS = {"true": True, "false": False}
_UNSAFE = re.compile(r"[\[\],=\s]")   # what a string value may not contain: it would not parse back


class VariantError(ValueError):
    """A variant that cannot be built; the message is one line meant for the user."""


def split(name: str) -> tuple[str, dict[str, str]]:
    """`base[k=v,...]` -> (base, {k: raw v}); a name without brackets -> (name, {})."""
    if "[" not in name and "]" not in name:
        return name, {}
    m = _SPEC.match(name)
    if m is None:
        raise VariantError(f"malformed scenario name {name!r} (a variant is NAME[key=value,...])")
    return m["base"], parse_assignments(m["spec"].split(",") if m["spec"] else [], name)


def parse_assignments(items, where: str = "--param") -> dict[str, str]:
    """["k=v", ...] -> {k: raw v}; a key given twice or a missing "=" is an error."""
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise VariantError(f"{where}: expected NAME=VALUE, got {item!r}")
        if key in out:
            raise VariantError(f"{where}: {key} given twice")
        out[key] = value.strip()
    return out


def parameters(scenario: Scenario) -> dict:
    """The scenario's parameters and the values it was built with ({} without a factory)."""
    factory = scenario.factory
    if factory is None:
        return {}
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return {}
    out = {}
    for p in sig.parameters.values():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        if p.name in scenario.params:
            out[p.name] = scenario.params[p.name]
        elif p.default is not p.empty:
            out[p.name] = p.default
    return out


def convert(name: str, raw, like):
    """A raw value as the type of `like` (the parameter's current value): int, bool or str.
    Without a typed current value: true/false -> bool, digits -> int, else str."""
    if not isinstance(raw, str):
        return raw
    if isinstance(like, bool) or (like is None and raw in _BOOLS):
        if raw not in _BOOLS:
            raise VariantError(f"{name} takes true or false, got {raw!r}")
        return _BOOLS[raw]
    if isinstance(like, int) or (like is None and _INT.match(raw)):
        if not _INT.match(raw):
            raise VariantError(f"{name} takes an integer, got {raw!r}")
        return int(raw)
    if not raw or _UNSAFE.search(raw):
        raise VariantError(f"{name}: value {raw!r} must be non-empty, without spaces, brackets, ',' or '='")
    return raw


def show(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def describe(values: dict, sep: str = ", ") -> str:
    """`pairs=1, complete=false`: parameters as they appear in names and on the command line."""
    return sep.join(f"{k}={show(v)}" for k, v in values.items())


def is_variant(scenario: Scenario) -> bool:
    return split(scenario.name)[1] != {}


def from_name(name: str, lookup) -> Scenario:
    """The scenario a (variant) name denotes; `lookup(base_name)` finds the scenario it varies."""
    base, spec = split(name)
    budget = {k: spec.pop(k) for k in BUDGETS if k in spec}
    return vary(lookup(base), spec, **budget)


def vary(scenario: Scenario, params: dict | None = None, *, crashes=None, redeliveries=None, max_steps=None,
         lookup=None) -> Scenario:
    """`scenario` rebuilt with `params` (raw strings or typed values) and a fault budget / step limit.

    When `scenario` is itself a variant, `lookup(base_name)` must find the scenario its
    name varies; its entries are kept unless overridden. Raises VariantError."""
    name, spec = split(scenario.name)
    base = scenario
    if spec:
        if lookup is None:
            raise VariantError(f"{scenario.name}: the scenario it varies is needed to vary it again")
        base = lookup(name)
    wanted = {k: v for k, v in spec.items() if k not in BUDGETS}
    wanted.update(params or {})
    budget = {k: v for k, v in spec.items() if k in BUDGETS}
    budget.update({k: v for k, v in (("crashes", crashes), ("redeliveries", redeliveries),
                                     ("max_steps", max_steps)) if v is not None})
    current = parameters(base)
    clash = sorted(set(current) & set(BUDGETS))
    if clash:
        raise VariantError(f"scenario {name}: parameter name(s) {', '.join(clash)} are reserved for the fault budget")
    for k in wanted:
        if k not in current:
            if k in BUDGETS:
                raise VariantError(f"{k} is a fault budget or step limit, not a parameter: use --{k.replace('_', '-')} N")
            takes = f"its parameters: {describe(current)}" if current else "it takes no parameters"
            raise VariantError(f"scenario {name} has no parameter {k!r} ({takes})")
    try:
        typed = {k: convert(k, v, current[k]) for k, v in wanted.items()}
        limits = {k: convert(k, v, 0) for k, v in budget.items()}
        for k, v in limits.items():
            if v < (1 if k == "max_steps" else 0):
                raise VariantError(f"{k} must be {'>= 1' if k == 'max_steps' else '>= 0'}, got {v}")
    except VariantError as e:
        raise VariantError(f"scenario {name}: {e}") from None
    changed = {k: typed[k] for k in sorted(typed) if typed[k] != current[k]}
    f = base.faults
    now = {"crashes": f.crashes, "redeliveries": f.redeliveries, "max_steps": base.max_steps}
    moved = {k: limits[k] for k in BUDGETS if k in limits and limits[k] != now[k]}
    if not changed and not moved:
        return base
    built = base
    if changed:
        try:
            built = base.factory(**{**current, **changed})
        except (TypeError, ValueError) as e:
            raise VariantError(f"scenario {name}: {describe(changed)}: {e}") from None
        if not isinstance(built, Scenario):
            raise VariantError(f"scenario {name}: its factory returned {type(built).__name__}, not a Scenario")
    now.update(moved)
    entries = {**changed, **moved}
    return dataclasses.replace(
        built, name=f"{name}[{','.join(f'{k}={show(v)}' for k, v in entries.items())}]",
        faults=dataclasses.replace(base.faults, crashes=now["crashes"], redeliveries=now["redeliveries"]), max_steps=now["max_steps"], expect="hold", bug="",
        budget=None,
        params={**built.params, **current, **changed}, factory=base.factory)


def recorded_mismatch(trace, scenario: Scenario) -> str | None:
    """What a trace recorded about its scenario (parameters, fault budget, step limit) that the
    scenario now built under its name does not have, in one line; None when all agree."""
    f = scenario.faults
    now = {"params": _plain(dict(scenario.params)), "faults": f.recorded(),
           "max_steps": scenario.max_steps}
    was = {"params": _plain(trace.params), "faults": dict(trace.faults), "max_steps": trace.max_steps}
    diff = [k for k in now if now[k] != was[k]]
    if not diff:
        return None
    return "; ".join(f"the trace was recorded with {k} {was[k]}, {scenario.name} now has {now[k]}" for k in diff)


def _plain(d: dict) -> dict:
    # what a trace file holds: JSON values (tuples become lists)
    import json
    return json.loads(json.dumps(d, sort_keys=True, default=str))
