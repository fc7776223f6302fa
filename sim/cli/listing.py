"""`sim list`: the registered models, references, scenarios and workload parameters."""
from __future__ import annotations

import sys

from sim import registry
from sim.cli import options, variants
from sim.cli.common import EXIT_OK, console, load_modules, print_table, table
from sim.explore import DEFAULT_BUDGET


def add_parser(sub, fmt) -> None:
    ls = sub.add_parser("list", help="list registered scenarios", description="List registered scenarios.")
    options.LOAD.add(ls)
    ls.set_defaults(func=cmd_list)


def cmd_list(args, _rest) -> int:
    load_modules(args.load)
    out = console(sys.stdout)
    from rich.markup import escape  # names and text are data: `name[k=v]` and `[a, b]` are not markup
    models = registry.all_models()
    if models:
        t = table()
        t.title = "models"
        for col in ("model", "aliases", "after", "bugs", "what changed"):
            t.add_column(col)
        for m in models:
            t.add_row(*map(escape, (m.name, ", ".join(m.aliases), m.parent or "", ", ".join(m.bugs) or "-",
                                    m.summary)))
        print_table(out, t)
    for title, rows in registry.all_references().items():
        t = table()
        t.title = title
        for col in ("construct", "example", "what it does"):
            t.add_column(col)
        for row in rows:
            t.add_row(*map(escape, row))
        print_table(out, t)
    t = table()
    t.title = "scenarios"
    scenarios = registry.all_scenarios()
    # names and expectations stay whole (to be copied: an "I-X|I-Y" has no space to wrap at); the description wraps
    for col, whole in (("name", True), ("bug", False), ("expect", True), ("budget", True), ("faults", True),
                       ("revision", False), ("description", False)):
        width = max((len(getattr(s, col)) for s in scenarios), default=4) if col in ("name", "expect") else None
        t.add_column(col, no_wrap=whole, min_width=width)
    for s in scenarios:
        t.add_row(*map(escape, (s.name, s.bug or "-", s.expect, str(s.budget or DEFAULT_BUDGET), s.faults.describe(),
                                s.revision, s.description)))
    print_table(out, t)
    print_table(out, variants.parameters_table(registry.all_scenarios()))
    return EXIT_OK
