"""Command line: `python -m sim explore | replay | shrink | report | regress | list | bench`.

One module per command group: `explore`, `replay`, `counterexamples` (shrink, report, regress),
`listing` (list), `bench`. The options they and the pytest plugin share are defined once in
`sim.cli.options`; what every command shares (one-line errors, consoles, tables, --load) is
`sim.cli.common`.

Every user error (bad option, unknown scenario, unreadable trace, a --load
module that does not import) is one `sim: error: ...` line on stderr and exit
status 2; only a genuine bug inside sim may still end in a stack trace.
"""
from __future__ import annotations

import argparse
import os
import sys

from sim.cli.common import (EXIT_INTERNAL, EXIT_USAGE, STEP_LOG_TAIL, Parser, UsageError,  # noqa: F401
                            _progress_enabled, print_step_log, save_crash_report)
from sim.runtime import SimUsageError
from sim.strategy import ModelNondeterminism


def build_parser() -> argparse.ArgumentParser:
    # the commands are imported here, not above: the pytest plugin imports sim.cli.options in every
    # pytest run of the environment, and needs none of them
    from sim.cli import bench, counterexamples, explore, listing, replay
    parser = Parser(prog="sim", description="Deterministic concurrency simulator and model checker.")
    sub = parser.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter
    explore.add_parser(sub, fmt)
    replay.add_parser(sub, fmt)
    listing.add_parser(sub, fmt)
    counterexamples.add_commands(sub, fmt)
    bench.add_parser(sub, fmt)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args, rest = parser.parse_known_args(argv)
        if args.command != "bench" and rest:
            raise UsageError(f"unrecognized arguments: {' '.join(rest)}")
        if getattr(args, "step_timeout", None) is not None:   # the environment reaches --jobs workers too
            os.environ["SIM_STEP_TIMEOUT"] = repr(args.step_timeout)
        return args.func(args, rest)
    except UsageError as e:
        print("sim: error: " + " ".join(str(e).split()), file=sys.stderr)
        return EXIT_USAGE
    except (ModelNondeterminism, SimUsageError) as e:  # the model's own error, from any command
        print("sim: error: " + " ".join(str(e).split()), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("sim: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # --help, or a delegate calling sys.exit; keep main() returning an int
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
    except Exception as e:  # a bug of sim itself: one line and a saved report, never a traceback
        where = save_crash_report(argv, e)
        print(f"sim: internal error: {type(e).__name__}: {' '.join(str(e).split())[:300]} "
              f"(a bug in sim; crash report: {where})", file=sys.stderr)
        return EXIT_INTERNAL
