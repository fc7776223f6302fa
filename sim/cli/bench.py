"""`sim bench`: the benchmarks (sim_bench.bench), imported only when this command runs."""
from __future__ import annotations

import importlib

from sim.cli.common import UsageError


def add_parser(sub, fmt) -> None:
    # no help of its own: `sim bench -h` belongs to the benchmark's parser
    bn = sub.add_parser("bench", add_help=False, help="benchmarks (options are passed to sim_bench.bench)",
                        description="Run sim_bench.bench; all arguments are passed through.")
    bn.set_defaults(func=cmd_bench)


def cmd_bench(_args, rest) -> int:
    try:  # lazily: the benchmarks are a package of their own (sim_bench), which sim never imports otherwise
        bench = importlib.import_module("sim_bench.bench")
    except ImportError as e:
        raise UsageError(f"the bench command is not available: {e}") from None
    return bench.main(rest)
