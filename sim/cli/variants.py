"""`explore`'s variant options: --param NAME=VALUE, --crashes N, --redeliveries N, --max-steps N."""
from __future__ import annotations

import argparse

from sim import registry, variants
from sim.cli import options
from sim.cli.common import UsageError, table


# the options that ask for a variant (defined in sim.cli.options)
OPTIONS = (options.PARAM, options.CRASHES, options.REDELIVERIES, options.MAX_STEPS)


def add_options(p: argparse.ArgumentParser) -> None:
    for option in OPTIONS:
        option.add(p)


def apply(scenarios: list, args) -> list:
    """The selected scenarios as the variants the options ask for (unchanged without options)."""
    if not (args.param or args.crashes is not None or args.redeliveries is not None or args.max_steps is not None):
        return scenarios
    try:
        params = variants.parse_assignments(args.param)
        return [variants.vary(s, params, crashes=args.crashes, redeliveries=args.redeliveries,
                              max_steps=args.max_steps, lookup=registry.get) for s in scenarios]
    except variants.VariantError as e:
        raise UsageError(str(e)) from None


def notes(scenarios: list) -> list[str]:
    """One line per variant: what it varies, and that its expectation is not known."""
    from sim import registry
    out = []
    for s in scenarios:
        base, spec = variants.split(s.name)
        if spec and registry.is_registered(s):   # a registered variant has its own expectation
            continue
        if spec:
            out.append(f"{s.name}: a variant of {base}; its expectation is unknown, so it is checked as \"hold\"")
    return out


def parameters_table(scenarios: list):
    """Each workload's parameters with the values its scenarios were built with (`sim list`)."""
    t = table()
    t.title = "workload parameters (explore --param NAME=VALUE)"
    t.add_column("workload", no_wrap=True)
    t.add_column("parameters")
    seen: dict[str, list[str]] = {}
    for s in scenarios:
        values = variants.describe(variants.parameters(s))
        if values and values not in seen.setdefault(s.workload, []):
            seen[s.workload].append(values)
    for workload, values in seen.items():
        t.add_row(workload, " | ".join(values) if values else "-")
    return t
