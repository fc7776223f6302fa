"""`sim replay TRACE`: replay a saved trace against the current model and check its verdict and step log."""
from __future__ import annotations

import sys

import sim
from sim import backends
from sim import trace as traces
from sim.cli import options
from sim.cli.common import (EXIT_MISMATCH, EXIT_OK, EXIT_VIOLATION, STEP_LOG_TAIL, UsageError, backend_errors,
                            check_engine, console, load_modules, print_step_log, say)
from sim.explore import load_recorded

REPLAY_EPILOG = """\
exit status:
  0  the replay gives the recorded verdict, and it is "ok"
  1  the replay reproduces the recorded violation
  2  the trace cannot be used: missing, not JSON, wrong schema version, tampered,
     unknown scenario, or the replay diverged from the tape (the model changed)
  3  the replay ran to the end but gives a different verdict or step log than the
     recorded one (the first differing step is named)
  4  an internal error of sim itself (a crash report is saved; one line names it)
"""

def add_parser(sub, fmt) -> None:
    rp = sub.add_parser("replay", help="replay a saved trace and check its verdict",
                        description="Replay a trace against the current model.",
                        epilog=REPLAY_EPILOG, formatter_class=fmt)
    rp.add_argument("trace", metavar="TRACE", help="trace file (JSON) written by explore")
    options.ENGINE.add(rp, default=None, help="engine to replay on (default: the trace's)")
    rp.add_argument("-v", "--verbose", action="store_true",
                    help=f"print every step (default: the last {STEP_LOG_TAIL})")
    options.BACKEND.add(rp, default=None, help="backend to replay on (default: the trace's)")
    options.LOAD.add(rp)
    options.STEP_TIMEOUT.add(rp)
    rp.set_defaults(func=cmd_replay)


def _describe_strategy(d: dict) -> str:
    opts = ", ".join(f"{k} {v}" for k, v in d.items() if k != "name")
    return str(d.get("name", "?")) + (f" ({opts})" if opts else "")


def cmd_replay(args, _rest) -> int:
    load_modules(args.load)
    try:
        trace = traces.load(args.trace)
    except traces.TraceError as e:
        raise UsageError(str(e)) from None
    engine = args.engine or trace.engine
    check_engine(engine)
    backend = args.backend or trace.backend
    try:
        load_recorded(trace, near=args.trace)
    except traces.TraceError as e:
        raise UsageError(f"{args.trace}: {e}") from None
    if backend not in backends.NAMES:
        raise UsageError(f"{args.trace}: recorded on backend {backend!r}, which this sim does not have")
    try:
        with backends.using(backend), backend_errors():
            result = sim.replay(trace, engine=engine)
    except traces.TraceError as e:
        raise UsageError(f"{args.trace}: {e}") from None
    out = console(sys.stdout)
    if not result.same:
        say(out, result.describe_mismatch())
        return EXIT_MISMATCH
    v = result.replayed.verdict
    say(out, f"{trace.scenario} (revision {trace.revision}), found by {_describe_strategy(trace.strategy)}"
              + (f" at execution {trace.execution}" if trace.execution else "") + f"; replayed on {engine}"
              + ("" if backend == backends.MODEL else f", backend {backend}"))
    if v.status == "violation":
        say(out, f"reproduced: {v.describe()}", "bold red")
    else:
        say(out, f"same verdict: {v.describe()}", "green")
    print_step_log(out, result.replayed, None if args.verbose else STEP_LOG_TAIL)
    return EXIT_VIOLATION if v.status == "violation" else EXIT_OK
