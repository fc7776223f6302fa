"""Command line: `python -m sim explore | replay | shrink | report | regress | list | bench`.

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

from typing import TYPE_CHECKING

import sim
from sim import engine as engines
from sim import registry
from sim import clivariants, counterexamples
from sim import strategy as strategies
from sim import trace as traces
from sim.clikit import (EXIT_INTERNAL, EXIT_MISMATCH, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION, STEP_LOG_TAIL, Parser,
                        UsageError, save_crash_report,
                        add_load, add_step_timeout, check_engine, positive_float, positive_int, console, load_modules, print_step_log, print_table, say, table)
from sim import backends, parallel
from sim.units import TREES, Spec, default_jobs, prepare
from sim.runtime import SimUsageError
from sim.explore import DEFAULT_BUDGET, confirmed_trace, load_recorded
from sim.keepgoing import EXTRA, PastExpected
from sim.strategy import ModelNondeterminism

if TYPE_CHECKING:  # rich is imported where output is made: `--help` does without it
    from rich.console import Console
    from rich.table import Table

DEFAULT_OUT = os.path.join("reports", "traces")

EXPLORE_EPILOG = f"""\
budget:
  Without --budget or --time, random, pct and portfolio stop after {DEFAULT_BUDGET} executions
  per scenario, or the scenario's own budget where it declares one (`sim list`), and dfs
  and dpor run until they have covered their whole choice tree.
  With several scenarios, one that expects a violation goes on past it ({EXTRA} executions
  more, within the budget) and stops at any other invariant's violation: "expected I-X,
  also found I-Y" is a mismatch.

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
     or a model error (its setup or an invariant raised, a nondeterministic model,
     a step that never reaches a point)
  4  an internal error of sim itself (a crash report is saved; one line names it)
"""

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


# ---- argument parsing ---------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="sim", description="Deterministic concurrency simulator and model checker.")
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
    limit.add_argument("--budget", type=positive_int, metavar="N", help="executions per scenario")
    limit.add_argument("--time", type=positive_float, metavar="S", help="seconds per scenario")
    ex.add_argument("--engine", default="fast", choices=engines.NAMES, help="execution engine (default: fast)")
    ex.add_argument("--preemptions", type=int, metavar="K",
                    help="with --strategy dfs: schedules with 0, then 1, ... then K preemptions (CHESS-style)")
    ex.add_argument("--cache-states", action="store_true",
                    help="with --strategy dfs: cut an execution at a state whose subtree was explored "
                         "(whole-state fingerprints, sim.statehash); one process, fast engine")
    ex.add_argument("--keep-going", action="store_true",
                    help="explore past violations; save one trace per distinct violated invariant")
    ex.add_argument("--check-footprints", action="store_true",
                    help="report a step that touches sim-managed state outside its declared footprint")
    ex.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                    help=f"where failing traces and their reports are written (default: {DEFAULT_OUT})")
    ex.add_argument("--stats", action="store_true",
                    help="also count distinct terminal states and scheduling points covered (a little slower); "
                         "printed as a table and put in the HTML reports")
    ex.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                    help="explore in work units on N worker processes (1: in this process); the result is the "
                         "same for any N. Without --jobs or --cluster each scenario is explored in one process, "
                         "not cut into units, and several scenarios are spread over the machine's cores")
    ex.add_argument("--cluster", metavar="ADDRESS|local",
                    help="run the units on a Dask cluster: a scheduler address, or local for a LocalCluster of "
                         "--jobs workers (default: the machine's cores; needs the dask extra)")
    ex.add_argument("--timelines", action="store_true",
                    help="with several scenarios, print the full account (timeline, step log) of every violation; "
                         "by default an expected one gets two lines (where its report is) and only mismatches "
                         "are printed in full")
    ex.add_argument("--no-shrink", action="store_true",
                    help="save and print a violation as found (default: also shrink it, save the shrunk trace "
                         "and its HTML report, and print its timeline)")
    clivariants.add_options(ex)
    backends.add_option(ex)
    add_load(ex)
    add_step_timeout(ex)
    ex.set_defaults(func=cmd_explore)

    rp = sub.add_parser("replay", help="replay a saved trace and check its verdict",
                        description="Replay a trace against the current model.",
                        epilog=REPLAY_EPILOG, formatter_class=fmt)
    rp.add_argument("trace", metavar="TRACE", help="trace file (JSON) written by explore")
    rp.add_argument("--engine", choices=engines.NAMES, help="engine to replay on (default: the trace's)")
    rp.add_argument("-v", "--verbose", action="store_true",
                    help=f"print every step (default: the last {STEP_LOG_TAIL})")
    backends.add_option(rp, replay=True)
    add_load(rp)
    add_step_timeout(rp)
    rp.set_defaults(func=cmd_replay)

    ls = sub.add_parser("list", help="list registered scenarios", description="List registered scenarios.")
    add_load(ls)
    ls.set_defaults(func=cmd_list)

    counterexamples.add_commands(sub, fmt)

    # no help of its own: `sim bench -h` belongs to the benchmark's parser
    bn = sub.add_parser("bench", add_help=False, help="benchmarks (options are passed to sim_bench.bench)",
                        description="Run sim_bench.bench; all arguments are passed through.")
    bn.set_defaults(func=cmd_bench)
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
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(file=sys.stderr), transient=True)
    with bar:
        task = bar.add_task(escape(f"exploring {name}"), total=total)
        yield lambda n: bar.update(task, completed=n)


def _select(name: str, model: str | None = None, loaded: tuple = ()):
    """The scenarios to explore; with `--load`, "all" means all of the loaded modules' scenarios (a user
    exploring their own model does not want the repository's ~200 mixed in)."""
    if name == "all" and model is None and not registry.all_scenarios():
        raise UsageError("no scenarios are registered (use --load MODULE)")
    try:
        found = registry.select(name, model)
    except registry.UnknownScenario as e:
        raise UsageError(str(e)) from None
    if name == "all" and loaded:
        found = [s for s in found if registry.origin(s.name) in loaded]
        if not found:
            raise UsageError(f"--load {', '.join(loaded)} registered no scenarios"
                             + (f" for model {model}" if model else "") + " (a module lists them in SCENARIOS)")
    return found


def _stem(scenario: str, strategy: str, seed: int, digest: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", scenario)
    return f"{safe}-{strategy}-seed{seed}-{digest[:8]}"


def _budget(scenario, args, exhaustive: bool) -> int | None:
    """--budget, else (without --time) the scenario's own budget or the default; an exhaustive
    strategy without either runs to completion."""
    if args.budget or args.time or exhaustive:
        return args.budget
    return scenario.budget or DEFAULT_BUDGET


def _past(scenario, args, several: bool) -> PastExpected | None:
    """In a run of several scenarios (their verdicts compared with their expectations), one that
    expects a violation goes on past it (sim.keepgoing), unless --keep-going goes on past all."""
    return None if args.keep_going or not several else PastExpected.of(scenario)


def _explore_one(scenario, args, executor=None, show_progress: bool = True, several: bool = False):
    if executor is None and args.jobs is None and args.cluster is None:
        return _explore_sequential(scenario, args, several=several)
    past = _past(scenario, args, several)
    spec = Spec(scenario.name, args.strategy, args.seed, args.engine, args.preemptions, args.check_footprints,
                not args.keep_going, args.stats, tuple(args.load), (os.getcwd(),), past=past.expected if past else ())
    total = _budget(scenario, args, spec.exhaustive)
    if isinstance(executor, parallel.Inline) or executor is None:
        executor = parallel.Inline(scenario)
    try:
        with _progress(scenario.name, total) if show_progress else contextlib.nullcontext() as progress:
            return parallel.explore(scenario, spec, executor=executor, budget=total, time_limit=args.time,
                                    progress=progress)
    except (ModelNondeterminism, SimUsageError) as e:  # the model misuses sim: the user's to fix
        raise UsageError(f"scenario {scenario.name}: {e}") from None


def _explore_sequential(scenario, args, show_progress: bool = True, several: bool = False):
    """Without --jobs or --cluster: one process, each member one stream of executions (not cut into units)."""
    opts = {} if args.preemptions is None else {"preemption_bound": args.preemptions, "iterative": True}
    if args.cache_states:
        opts["cache_states"] = True
    strategy = strategies.make(args.strategy, args.seed, **opts)  # fresh per scenario: results don't depend on order
    total = _budget(scenario, args, strategy.exhaustive)
    try:
        with _progress(scenario.name, total) if show_progress else contextlib.nullcontext() as progress:
            return sim.explore(scenario, strategy, engine=args.engine, budget=total,
                               time_limit=args.time, progress=progress, check_footprints=args.check_footprints,
                               stop_on_violation=not args.keep_going, stats=args.stats,
                               past=_past(scenario, args, several))
    except (ModelNondeterminism, SimUsageError) as e:  # the model misuses sim: the user's to fix
        raise UsageError(f"scenario {scenario.name}: {e}") from None


@dataclasses.dataclass(frozen=True)
class Saved:
    """What explore saved for one violation: for the summary line and reports/index.html."""
    invariant: str
    trace: str | None       # the trace to replay (the shrunk one unless --no-shrink)
    report: str | None      # its HTML report


def _report_violation(out: Console, scenario, described: dict, res, args, brief: bool = False) -> Saved:
    """Save, shrink and report one violation. `brief` (an expected violation in a run of several
    scenarios, without --timelines): the full account goes nowhere and two lines say where it is."""
    v = res.violation
    full = out
    if brief:
        import io

        from rich.console import Console as RichConsole
        full = RichConsole(file=io.StringIO(), width=out.width)
    try:
        trace = confirmed_trace(scenario, res.tape, res.violation, strategy=described, engine=args.engine,
                                execution=res.found_at, check_footprints=res.check_footprints)
    except (ModelNondeterminism, SimUsageError) as e:
        raise UsageError(f"scenario {scenario.name}: {e}") from None
    try:
        path = traces.save(trace, args.out, _stem(scenario.name, args.strategy, args.seed, trace.digest))
    except traces.TraceError as e:   # a full disk or a bad --out: say so, show it, go on with the rest
        say(out, f"{scenario.name}: {v.describe()}", "bold red")
        print_step_log(out, trace)
        say(out, f"  trace NOT saved: {e}", "bold red")
        say(out, "")
        return Saved(v.invariant, None, None)
    say(full, f"{scenario.name}: {v.describe()}", "bold red")
    say(full, f"  found at execution {res.found_at} ({args.strategy}, seed {args.seed}, engine {args.engine}); "
              f"{len(trace.steps)} steps")
    stats = res.stats_text() if args.stats else None
    if not args.no_shrink:
        replay_path, html = counterexamples.shrink_found(full, scenario, trace, path, args.engine,
                                                         counterexamples.DEFAULT_CANDIDATES, stats)
        say(full, "")
    else:
        print_step_log(full, trace)
        html = counterexamples.save_report(trace, path.parent, path.name[:-len(".json")], stats)
        replay_path = path
        say(full, f"  trace:  {path}")
        say(full, f"  report: {html}")
        say(full, f"  replay: python -m sim replay {shlex.quote(str(replay_path))}", "bold")
        say(full, "")
    if brief:
        say(out, f"{scenario.name}: {v.invariant} found at execution {res.found_at}, as expected "
                 f"({len(trace.steps)} steps); report: {html or '-'}")
        say(out, f"  replay: python -m sim replay {shlex.quote(str(replay_path))}")
    return Saved(v.invariant, str(replay_path), None if html is None else str(html))


def _task_result(future, scenario):
    try:
        return future.result()
    except (ModelNondeterminism, SimUsageError) as e:
        raise UsageError(f"scenario {scenario.name}: {e}") from None
    except UsageError:
        raise


def _found(res) -> list[str]:
    """Every invariant found violated, in the order found (the first violation first)."""
    return sorted(res.violations, key=lambda i: res.violations[i].execution) if res.violations else \
        ([] if res.violation is None else [res.violation.invariant])


def _verdict(res) -> str:
    return ", ".join(_found(res)) or "holds"


def _matches(scenario, res) -> bool:
    """Every violation found is one the scenario expects, and one was found unless it expects to hold."""
    found = _found(res)
    return all(scenario.expects(i) for i in found) if found else scenario.expects("hold")


def _mismatch(scenario, res) -> str:
    found = _found(res)
    if not found:
        return (f"{scenario.name}: expected {scenario.expect}, but no violation was found in "
                f"{res.executions} execution(s) ({res.bounds()})")
    want = "to hold" if scenario.expect == "hold" else scenario.expect
    other = [i for i in found if not scenario.expects(i)]
    if len(other) < len(found):   # the expected bug was found, and another invariant broke too
        return (f"{scenario.name}: expected {want}, also found {', '.join(other)} (at execution "
                f"{', '.join(str(res.violations[i].execution) for i in other)})")
    return f"{scenario.name}: expected {want}, found {', '.join(found)}"


def _rate(res) -> str:
    return f"{res.decisions / res.elapsed:,.0f}" if res.elapsed > 0 else "-"


def _summary(rows, with_match: bool, args) -> Table:
    from rich.text import Text
    t = table()
    # in a narrow terminal only the coverage text wraps: names must stay whole to be copied
    names = max(len(s.name) for s, _ in rows)
    invariants = max(max(len(s.expect), len(_verdict(r))) for s, r in rows)
    t.add_column("scenario", no_wrap=True, min_width=names)
    t.add_column("expected", no_wrap=True, min_width=invariants)
    t.add_column("verdict", no_wrap=True, min_width=invariants)
    # a budget column only when a scenario has its own (the others' is the default or --budget)
    own = any(_own_budget(s, args) for s, _ in rows)
    for col in ("executions", "budget", "steps", "decisions/s") if own else ("executions", "steps", "decisions/s"):
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column("coverage", min_width=10, ratio=1)
    t.add_column("found at", justify="right", no_wrap=True)
    if with_match:
        t.add_column("match")
    for scenario, res in rows:
        cells = [Text(scenario.name), scenario.expect, Text(_verdict(res), style="red" if res.violation else "green"),
                 str(res.executions), *([_budget_cell(scenario, args)] if own else []), str(res.steps), _rate(res),
                 res.bounds(),
                 "-" if res.found_at is None else str(res.found_at)]
        if with_match:
            ok = _matches(scenario, res)
            cells.append(Text("yes" if ok else "NO", style="green" if ok else "bold red"))
        t.add_row(*cells)
    return t


def _own_budget(scenario, args) -> bool:
    return bool(scenario.budget) and _budget(scenario, args, args.strategy in TREES) == scenario.budget


def _budget_cell(scenario, args) -> str:
    """The budget explored under; a scenario's own (from measurement) is marked so."""
    total = _budget(scenario, args, args.strategy in TREES)
    return "-" if total is None else f"{total} (own)" if _own_budget(scenario, args) else str(total)


STATS_COLUMNS = ("schedules", "distinct terminal states", "decisions/s", "faults injected",
                 "scheduling points covered")


def _stats_table(rows) -> Table:
    from rich.text import Text
    t = table()
    t.title = "exploration statistics"
    t.add_column("scenario", no_wrap=True)
    for col in STATS_COLUMNS:
        t.add_column(col, justify="right")
    for scenario, res in rows:
        st = res.stats()
        t.add_row(Text(scenario.name), *("n/a" if st[c] is None else f"{st[c]:,}" for c in STATS_COLUMNS))
    return t


def _report_all(out: Console, scenario, res, args, several: bool = False) -> list[Saved]:
    """Report every violation of a scenario (the first of each invariant). In a run of several
    scenarios, one that matched its expectation is told in two lines unless --timelines."""
    brief = several and not args.timelines and _matches(scenario, res)
    return [_report_violation(out, scenario, found.strategy or res.strategy, dataclasses.replace(
                res, violation=found.violation, found_at=found.execution, tape=found.tape), args, brief)
            for found in res.violations.values()]


def _scenario_task(args, name: str, look, several: bool = False):
    """One whole scenario in a worker process: explored there, its violations reported into text that
    the command prints in scenario order (as wide and styled as its own console). Without --jobs and
    --cluster it is explored as in one process (one stream per member), so the output is the same
    as a sequential run's."""
    import io

    from rich.console import Console
    prepare(tuple(args.load), (os.getcwd(),))
    scenario = registry.get(name)  # a variant's name rebuilds it too
    res = _explore_one(scenario, args, show_progress=False, several=several) if args.jobs or args.cluster \
        else _explore_sequential(scenario, args, show_progress=False, several=several)
    buf = io.StringIO()
    width, terminal, colors = look
    saved = _report_all(Console(file=buf, width=width, force_terminal=terminal, color_system=colors), scenario, res,
                        args, several)
    return dataclasses.replace(res, scenario=None), buf.getvalue(), saved


def _executor(args):
    if args.jobs is None and args.cluster is None:
        return None
    jobs = args.jobs or default_jobs()
    try:
        return parallel.backend(jobs, args.cluster, tuple(args.load), (os.getcwd(),))
    except parallel.ClusterError as e:
        raise UsageError(str(e)) from None


def cmd_explore(args, _rest) -> int:
    with backends.using(args.backend), _backend_errors():
        return _cmd_explore(args)


@contextlib.contextmanager
def _backend_errors():
    """A real backend that cannot start or fails: one line, exit 2."""
    try:
        yield
    except Exception as e:
        if type(e).__name__ in ("BackendError", "DriverError"):
            raise UsageError(" ".join(str(e).split())) from None
        raise


def _cmd_explore(args) -> int:
    if args.preemptions is not None and (args.strategy != "dfs" or args.preemptions < 0):
        raise UsageError("--preemptions takes a number >= 0 and goes with --strategy dfs")
    if args.cache_states and (args.strategy != "dfs" or args.jobs is not None or args.cluster is not None
                              or args.engine != "fast"):
        # one cache per process: shared between workers, what is cut would depend on their timing
        raise UsageError("--cache-states goes with --strategy dfs on the fast engine, in one process "
                         "(without --jobs or --cluster)")
    if args.cache_states and args.backend != backends.MODEL:
        # a state's fingerprint is the stores': a real server's open transactions are not in them
        raise UsageError("--cache-states goes with --backend model")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out}: exists and is not a folder (traces are written into a folder)")
    load_modules(args.load)
    check_engine(args.engine)
    scenarios, backend_notes = _use_backend(
        args, clivariants.apply(_select(args.scenario, args.model, tuple(args.load)), args))
    out = console(sys.stdout)
    for line in clivariants.notes(scenarios) + backend_notes:
        say(out, line)
    rows = []
    reports: dict[str, list[Saved]] = {}
    several = len(scenarios) > 1 or args.scenario == "all"
    executor = _executor(args)
    if executor is None and len(scenarios) > 1 and default_jobs() > 1:
        # several scenarios, no --jobs: whole scenarios spread over the cores, each explored as in one
        # process, printed in order (the output is a sequential run's)
        executor = parallel.Pool(default_jobs(), tuple(args.load), (os.getcwd(),))
    try:
        if len(scenarios) > 1 and executor is not None and not isinstance(executor, parallel.Inline):
            # whole scenarios are the units: the cheapest way to fill the workers
            look = (out.width, out.is_terminal, out.color_system)
            futures = [executor.submit(_scenario_task, args, s.name, look, several) for s in scenarios]
            for scenario, f in zip(scenarios, futures):
                res, text, saved = _task_result(f, scenario)
                res.scenario = scenario
                out.file.write(text)
                out.file.flush()
                rows.append((scenario, res))
                reports[scenario.name] = saved
        else:
            for scenario in scenarios:
                res = _explore_one(scenario, args, executor, several=several)
                reports[scenario.name] = _report_all(out, scenario, res, args, several)
                rows.append((scenario, res))
    finally:
        if executor is not None:
            executor.close()
    all_mode = several
    print_table(out, _summary(rows, with_match=all_mode, args=args))
    if args.stats:
        print_table(out, _stats_table(rows))
    if all_mode:
        index = _write_index(rows, reports, args)
        if index is not None:
            say(out, f"reports: {index}")
    if not all_mode:
        return EXIT_OK if rows[0][1].violation is None else EXIT_VIOLATION
    bad = [_mismatch(s, r) for s, r in rows if not _matches(s, r)]
    if not bad:
        say(out, f"all {len(rows)} scenario(s) matched their expectation", "green")
        return EXIT_OK
    say(out, f"{len(bad)} of {len(rows)} scenario(s) did not match their expectation:", "bold red")
    for line in bad:
        say(out, "  " + line)
    return EXIT_VIOLATION


def _write_index(rows, reports: dict, args) -> str | None:
    """One HTML page linking every scenario's verdict to its report and trace: `reports/index.html` for
    the default --out (`reports/traces`), else `index.html` in --out. Never overwrites another page."""
    import html as H
    from pathlib import Path
    out_dir = Path(args.out)
    where = out_dir.parent if os.path.normpath(args.out) == os.path.normpath(DEFAULT_OUT) else out_dir

    def link(p: str | None, text: str) -> str:
        if p is None:
            return "-"
        return f'<a href="{H.escape(os.path.relpath(p, where))}">{H.escape(text)}</a>'

    body = []
    for scenario, res in rows:
        ok = _matches(scenario, res)
        saved = reports.get(scenario.name) or []
        found = "; ".join(f"{link(s.report, s.invariant)} ({link(s.trace, 'trace')})" for s in saved) or "-"
        body.append(f'<tr class="{"ok" if ok else "bad"}"><td>{H.escape(scenario.name)}</td>'
                    f"<td>{H.escape(scenario.expect)}</td><td>{H.escape(_verdict(res))}</td>"
                    f"<td>{'yes' if ok else 'NO'}</td><td>{res.executions}</td><td>{H.escape(res.bounds())}</td>"
                    f"<td>{found}</td></tr>")
    matched = sum(_matches(s, r) for s, r in rows)
    page = ("<!doctype html>\n<meta charset=\"utf-8\"><title>sim: exploration results</title>\n"
            "<style>body{font:14px system-ui,sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}"
            "tr.bad{background:#fdd}tr.ok td:nth-child(4){color:#070}</style>\n"
            f"<h1>sim: {matched} of {len(rows)} scenario(s) matched their expectation</h1>\n"
            f"<p>{H.escape(args.strategy)}, seed {args.seed}, engine {H.escape(args.engine)}</p>\n"
            "<table><tr><th>scenario</th><th>expected</th><th>verdict</th><th>match</th><th>executions</th>"
            "<th>coverage</th><th>report (trace)</th></tr>\n" + "\n".join(body) + "\n</table>\n")
    try:
        return str(traces.save_text(page, where, "index", ".html"))
    except traces.TraceError:
        return None


def _use_backend(args, scenarios: list) -> tuple[list, list[str]]:
    """--backend: select it (for worker processes too) and keep the scenarios it applies to."""
    if args.backend != "model" and getattr(args, "cluster", None) not in (None, "local"):
        # a remote cluster's workers do not share this machine's environment or its temporary directory
        raise UsageError(f"--backend {args.backend} runs on this machine: not with --cluster ADDRESS")
    kept, notes = backends.apply(args.backend, scenarios)
    if not kept:
        raise UsageError(f"--backend {args.backend} applies to world-{backends.BACKENDS[args.backend]} "
                         f"scenarios only, and none is selected")
    return kept, notes


# ---- replay -------------------------------------------------------------------------------

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
        with backends.using(backend), _backend_errors():
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


# ---- list ---------------------------------------------------------------------------------

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
    # names stay whole (to be copied); the description wraps
    t.add_column("name", no_wrap=True, min_width=max((len(s.name) for s in scenarios), default=4))
    for col in ("bug", "expect", "budget", "faults", "revision", "description"):
        t.add_column(col, no_wrap=col == "budget")
    for s in scenarios:
        t.add_row(*map(escape, (s.name, s.bug or "-", s.expect, str(s.budget or DEFAULT_BUDGET), s.faults.describe(),
                                s.revision, s.description)))
    print_table(out, t)
    print_table(out, clivariants.parameters_table(registry.all_scenarios()))
    return EXIT_OK


# ---- bench --------------------------------------------------------------------------------

def cmd_bench(_args, rest) -> int:
    import importlib
    try:  # lazily: the benchmarks are a package of their own (sim_bench), which sim never imports otherwise
        bench = importlib.import_module("sim_bench.bench")
    except ImportError as e:
        raise UsageError(f"the bench command is not available: {e}") from None
    return bench.main(rest)
