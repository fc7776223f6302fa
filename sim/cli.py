"""Command line: `python -m sim explore | replay | list | bench`.

Every user error (bad option, unknown scenario, unreadable trace, a --load
module that does not import) is one `sim: error: ...` line on stderr and exit
status 2; only a genuine bug inside sim may still end in a stack trace.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import shlex
import sys

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

import sim
from sim import engine as engines
from sim import registry
from sim import strategy as strategies
from sim import trace as traces
from sim.trace import format_step
from sim.explore import DEFAULT_BUDGET
from sim.runtime import SimUsageError
from sim.strategy import ModelNondeterminism

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_MISMATCH = 0, 1, 2, 3
STEP_LOG_TAIL = 40            # a failing trace is for a person: show its end, where the bug is
DEFAULT_OUT = os.path.join("reports", "traces")
LOG_WIDTH = 200               # pipes and CI logs: long lines rather than tables wrapped at 80 columns

EXPLORE_EPILOG = f"""\
budget:
  Without --budget or --time, random and pct stop after {DEFAULT_BUDGET} executions per
  scenario and dfs runs until it has covered its whole choice tree.

exit status:
  one scenario (--scenario NAME):
    0  no invariant was violated within the budget
    1  a violation was found (the trace is saved and the replay command printed)
  all scenarios (--scenario all, the default):
    each scenario's verdict is compared with its declared expectation
    ("hold", or the invariant its known bug breaks):
    0  every scenario matched: "hold" scenarios held, and every known bug was
       found, as the invariant it is expected to break
    1  at least one mismatch: a known bug not found within the budget, a
       violation in a "hold" scenario, or a different invariant than expected
       (the mismatches are listed after the summary)
  2  usage error (bad option, unknown scenario, --load module that fails to import)
"""

REPLAY_EPILOG = """\
exit status:
  0  the replay gives the recorded verdict, and it is "ok"
  1  the replay reproduces the recorded violation
  2  the trace cannot be used: missing, not JSON, wrong schema version, tampered,
     unknown scenario, or the replay diverged from the tape (the model changed)
  3  the replay ran to the end but gives a different verdict than the recorded one
"""


class UsageError(Exception):
    """A user error; main prints it as one line and exits 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse would print the usage block too; users get one line, like every other error
        raise UsageError(message)


# ---- argument parsing ---------------------------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {v}")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return v


def _add_load(p: argparse.ArgumentParser) -> None:
    p.add_argument("--load", action="append", default=[], metavar="MODULE",
                   help="import MODULE and register its SCENARIOS list (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sim", description="Deterministic concurrency simulator and model checker.")
    sub = parser.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    ex = sub.add_parser("explore", help="explore interleavings and faults of scenarios, save failing traces",
                        description="Explore scenarios; save a replayable trace for every violation found.",
                        epilog=EXPLORE_EPILOG, formatter_class=fmt)
    ex.add_argument("--scenario", default="all", metavar="NAME|all",
                    help="scenario to explore: a full name, a workload run on several models, or all "
                         "(default: all registered scenarios, sorted by name)")
    ex.add_argument("--model", metavar="WORLD:REV",
                    help="only scenarios on this model revision, e.g. local:B3 (see `sim list`)")
    ex.add_argument("--strategy", default="portfolio", choices=strategies.NAMES,
                    help="how choices are made (default: portfolio: random, PCT d=1..3 and DPOR taking turns)")
    ex.add_argument("--seed", type=int, default=1, help="strategy seed (default: 1)")
    limit = ex.add_mutually_exclusive_group()
    limit.add_argument("--budget", type=_positive_int, metavar="N", help="executions per scenario")
    limit.add_argument("--time", type=_positive_float, metavar="S", help="seconds per scenario")
    ex.add_argument("--engine", default="fast", choices=engines.NAMES, help="execution engine (default: fast)")
    ex.add_argument("--preemptions", type=int, metavar="K",
                    help="with --strategy dfs: schedules with 0, then 1, ... then K preemptions (CHESS-style)")
    ex.add_argument("--keep-going", action="store_true",
                    help="explore past violations; save one trace per distinct violated invariant")
    ex.add_argument("--check-footprints", action="store_true",
                    help="report a step that touches sim-managed state outside its declared footprint")
    ex.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                    help=f"where failing traces are written (default: {DEFAULT_OUT})")
    _add_load(ex)
    ex.set_defaults(func=cmd_explore)

    rp = sub.add_parser("replay", help="replay a saved trace and check its verdict",
                        description="Replay a trace against the current model.",
                        epilog=REPLAY_EPILOG, formatter_class=fmt)
    rp.add_argument("trace", metavar="TRACE", help="trace file (JSON) written by explore")
    rp.add_argument("--engine", choices=engines.NAMES, help="engine to replay on (default: the trace's)")
    rp.add_argument("-v", "--verbose", action="store_true",
                    help=f"print every step (default: the last {STEP_LOG_TAIL})")
    _add_load(rp)
    rp.set_defaults(func=cmd_replay)

    ls = sub.add_parser("list", help="list registered scenarios", description="List registered scenarios.")
    _add_load(ls)
    ls.set_defaults(func=cmd_list)

    # no help of its own: `sim bench -h` belongs to the benchmark's parser
    bn = sub.add_parser("bench", add_help=False, help="benchmarks (options are passed to sim.bench)",
                        description="Run sim.bench; all arguments are passed through.")
    bn.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args, rest = parser.parse_known_args(argv)
        if args.command != "bench" and rest:
            raise UsageError(f"unrecognized arguments: {' '.join(rest)}")
        return args.func(args, rest)
    except UsageError as e:
        print("sim: error: " + " ".join(str(e).split()), file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:  # --help, or a delegate calling sys.exit; keep main() returning an int
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)


# ---- shared helpers -----------------------------------------------------------------------

def _console(stream) -> Console:
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(file=stream, width=None if tty else LOG_WIDTH)


def _say(out: Console, text: str, style: str | None = None) -> None:
    # Text, not str: labels like "[r: x]" must not be read as rich markup
    out.print(Text(text, style=style or ""), soft_wrap=True)


def _table() -> Table:
    # rules only under the header: copy-pasteable rows, and narrower than a boxed table
    return Table(box=box.SIMPLE_HEAD, show_edge=False)


def _print_table(out: Console, table: Table) -> None:
    # rich silently drops columns that do not fit; a terminal wrapping long lines loses nothing
    need = out.measure(table, options=out.options.update_width(10_000)).minimum
    out.print(table, width=max(out.width, need))


def _load_modules(names: list[str]) -> None:
    if not names:
        return
    registry.all_scenarios()  # built-in scenarios first, so a clashing name is reported for the user's module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the `sim` script finds modules in the cwd, like `python -m sim`
    for name in names:
        try:
            registry.load_module(name)
        except Exception as e:  # whatever a user module raises is the user's problem, told in one line
            raise UsageError(f"--load {name}: {type(e).__name__}: {e}") from None


def _check_engine(name: str) -> None:
    try:
        engines.make(name)
    except ImportError as e:
        raise UsageError(f"engine {name!r} is not available: {e}") from None
    except ValueError as e:
        raise UsageError(str(e)) from None


def print_step_log(out: Console, trace: traces.Trace, limit: int | None = STEP_LOG_TAIL) -> None:
    steps = trace.steps
    shown = steps if limit is None or len(steps) <= limit else steps[-limit:]
    if len(shown) < len(steps):
        _say(out, f"  ... {len(steps) - len(shown)} earlier step(s) not shown "
                  f"(`python -m sim replay -v` prints all {len(steps)})", "dim")
    v = trace.verdict
    for s in shown:
        hit = v.status == "violation" and s.i == v.step
        _say(out, "  " + format_step(s, f"  <== {v.invariant}" if hit else ""), "bold" if hit else None)


# ---- explore ------------------------------------------------------------------------------

def _progress_enabled() -> bool:
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return False
    return sys.stderr.isatty()


@contextlib.contextmanager
def _progress(name: str, total: int | None):
    """Yields the explore() progress callback: a transient bar on stderr, or None in logs."""
    if not _progress_enabled():
        yield None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(file=sys.stderr), transient=True)
    with bar:
        task = bar.add_task(f"exploring {name}", total=total)
        yield lambda n: bar.update(task, completed=n)


def _select(name: str, model: str | None = None):
    if name == "all" and model is None and not registry.all_scenarios():
        raise UsageError("no scenarios are registered (use --load MODULE)")
    try:
        return registry.select(name, model)
    except registry.UnknownScenario as e:
        raise UsageError(str(e)) from None


def _stem(scenario: str, strategy: str, seed: int, digest: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", scenario)
    return f"{safe}-{strategy}-seed{seed}-{digest[:8]}"


def _explore_one(scenario, args):
    opts = {} if args.preemptions is None else {"preemption_bound": args.preemptions, "iterative": True}
    strategy = strategies.make(args.strategy, args.seed, **opts)  # fresh per scenario: results don't depend on order
    total = args.budget or (None if args.time or strategy.exhaustive else DEFAULT_BUDGET)
    try:
        with _progress(scenario.name, total) as progress:
            res = sim.explore(scenario, strategy, engine=args.engine, budget=args.budget,
                              time_limit=args.time, progress=progress, check_footprints=args.check_footprints,
                              stop_on_violation=not args.keep_going)
    except (ModelNondeterminism, SimUsageError) as e:  # the model misuses sim: the user's to fix
        raise UsageError(f"scenario {scenario.name}: {e}") from None
    return strategy, res


def _report_violation(out: Console, scenario, strategy, res, args):
    trace = sim.make_trace(scenario, res.tape, strategy=strategy.describe(), engine=args.engine,
                           execution=res.found_at, check_footprints=res.check_footprints)
    path = traces.save(trace, args.out, _stem(scenario.name, args.strategy, args.seed, trace.digest))
    v = res.violation
    _say(out, f"{scenario.name}: {v.invariant} violated at step {v.step}: {v.message}", "bold red")
    _say(out, f"  found at execution {res.found_at} ({args.strategy}, seed {args.seed}, engine {args.engine}); "
              f"{len(trace.steps)} steps:")
    print_step_log(out, trace)
    _say(out, f"  trace:  {path}")
    _say(out, f"  replay: python -m sim replay {shlex.quote(str(path))}", "bold")
    _say(out, "")
    return path


def _verdict(res) -> str:
    return "holds" if res.violation is None else res.violation.invariant


def _matches(scenario, res) -> bool:
    return scenario.expects("hold" if res.violation is None else res.violation.invariant)


def _mismatch(scenario, res) -> str:
    if res.violation is None:
        return (f"{scenario.name}: expected {scenario.expect}, but no violation was found in "
                f"{res.executions} execution(s) ({res.bounds()})")
    want = "to hold" if scenario.expect == "hold" else scenario.expect
    return f"{scenario.name}: expected {want}, found {res.violation.invariant}"


def _rate(res) -> str:
    return f"{res.decisions / res.elapsed:,.0f}" if res.elapsed > 0 else "-"


def _summary(rows, with_match: bool) -> Table:
    t = _table()
    # in a narrow terminal only the coverage text wraps: names must stay whole to be copied
    names = max(len(s.name) for s, _ in rows)
    invariants = max(max(len(s.expect), len(_verdict(r))) for s, r in rows)
    t.add_column("scenario", no_wrap=True, min_width=names)
    t.add_column("expected", no_wrap=True, min_width=invariants)
    t.add_column("verdict", no_wrap=True, min_width=invariants)
    for col in ("executions", "steps", "decisions/s"):
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column("coverage", min_width=10, ratio=1)
    t.add_column("found at", justify="right", no_wrap=True)
    if with_match:
        t.add_column("match")
    for scenario, res in rows:
        cells = [scenario.name, scenario.expect, Text(_verdict(res), style="red" if res.violation else "green"),
                 str(res.executions), str(res.steps), _rate(res), res.bounds(),
                 "-" if res.found_at is None else str(res.found_at)]
        if with_match:
            ok = _matches(scenario, res)
            cells.append(Text("yes" if ok else "NO", style="green" if ok else "bold red"))
        t.add_row(*cells)
    return t


def cmd_explore(args, _rest) -> int:
    if args.preemptions is not None and (args.strategy != "dfs" or args.preemptions < 0):
        raise UsageError("--preemptions takes a number >= 0 and goes with --strategy dfs")
    _load_modules(args.load)
    _check_engine(args.engine)
    scenarios = _select(args.scenario, args.model)
    out = _console(sys.stdout)
    rows = []
    for scenario in scenarios:
        strategy, res = _explore_one(scenario, args)
        for found in res.violations.values():  # the first of each violated invariant
            _report_violation(out, scenario, strategy, dataclasses.replace(
                res, violation=found.violation, found_at=found.execution, tape=found.tape), args)
        rows.append((scenario, res))
    all_mode = len(scenarios) > 1 or args.scenario == "all"
    _print_table(out, _summary(rows, with_match=all_mode))
    if not all_mode:
        return EXIT_OK if rows[0][1].violation is None else EXIT_VIOLATION
    bad = [_mismatch(s, r) for s, r in rows if not _matches(s, r)]
    if not bad:
        _say(out, f"all {len(rows)} scenario(s) matched their expectation", "green")
        return EXIT_OK
    _say(out, f"{len(bad)} of {len(rows)} scenario(s) did not match their expectation:", "bold red")
    for line in bad:
        _say(out, "  " + line)
    return EXIT_VIOLATION


# ---- replay -------------------------------------------------------------------------------

def _describe_strategy(d: dict) -> str:
    opts = ", ".join(f"{k} {v}" for k, v in d.items() if k != "name")
    return str(d.get("name", "?")) + (f" ({opts})" if opts else "")


def cmd_replay(args, _rest) -> int:
    _load_modules(args.load)
    try:
        trace = traces.load(args.trace)
    except traces.TraceError as e:
        raise UsageError(str(e)) from None
    engine = args.engine or trace.engine
    _check_engine(engine)
    try:
        result = sim.replay(trace, engine=engine)
    except traces.TraceError as e:
        raise UsageError(f"{args.trace}: {e}") from None
    out = _console(sys.stdout)
    if not result.same_verdict:
        _say(out, result.describe_mismatch())
        return EXIT_MISMATCH
    v = result.replayed.verdict
    _say(out, f"{trace.scenario} (revision {trace.revision}), found by {_describe_strategy(trace.strategy)}"
              + (f" at execution {trace.execution}" if trace.execution else "") + f"; replayed on {engine}")
    if v.status == "violation":
        _say(out, f"reproduced: {v.describe()}", "bold red")
    else:
        _say(out, f"same verdict: {v.describe()}", "green")
    print_step_log(out, result.replayed, None if args.verbose else STEP_LOG_TAIL)
    return EXIT_VIOLATION if v.status == "violation" else EXIT_OK


# ---- list ---------------------------------------------------------------------------------

def cmd_list(args, _rest) -> int:
    _load_modules(args.load)
    out = _console(sys.stdout)
    models = registry.all_models()
    if models:
        t = _table()
        t.title = "models"
        for col in ("model", "aliases", "after", "bugs", "what changed"):
            t.add_column(col)
        for m in models:
            t.add_row(m.name, ", ".join(m.aliases), m.parent, ", ".join(m.bugs) or "-", m.summary)
        _print_table(out, t)
    t = _table()
    t.title = "scenarios"
    for col in ("name", "bug", "expect", "faults", "revision", "description"):
        t.add_column(col)
    for s in registry.all_scenarios():
        t.add_row(s.name, s.bug or "-", s.expect, s.faults.describe(), s.revision, s.description)
    _print_table(out, t)
    return EXIT_OK


# ---- bench --------------------------------------------------------------------------------

def cmd_bench(_args, rest) -> int:
    try:  # lazily: a missing or broken bench module only breaks this command
        from sim import bench
    except ImportError as e:
        raise UsageError(f"the bench command is not available: {e}") from None
    return bench.main(rest)
