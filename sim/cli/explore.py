"""`sim explore`: explore interleavings and faults of scenarios; save, shrink and report every violation;
with several scenarios, compare each verdict with the scenario's expectation."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import sys

from typing import TYPE_CHECKING

import sim
from sim import backends, parallel, registry
from sim import strategy as strategies
from sim import trace as traces
from sim.cli import counterexamples, options, variants
from sim.cli.common import (EXIT_OK, EXIT_VIOLATION, UsageError, backend_errors, check_engine, console, load_modules,
                            print_step_log, print_table, progress_bar, say, table)
from sim.cli.options import DEFAULT_OUT
from sim.units import TREES, Spec, default_jobs, prepare
from sim.runtime import SimUsageError
from sim.explore import DEFAULT_BUDGET, confirmed_trace
from sim.keepgoing import EXTRA, PastExpected
from sim.strategy import ModelNondeterminism

if TYPE_CHECKING:  # rich is imported where output is made: `--help` does without it
    from rich.console import Console
    from rich.table import Table

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

def add_parser(sub, fmt) -> None:
    ex = sub.add_parser("explore", help="explore interleavings and faults of scenarios, save failing traces",
                        description="Explore scenarios; save a replayable trace for every violation found.",
                        epilog=EXPLORE_EPILOG, formatter_class=fmt)
    ex.add_argument("--scenario", default="all", metavar="NAME|all",
                    help="scenario to explore: a full name, a workload run on several models, or all "
                         "(default: all registered scenarios, sorted by name)")
    ex.add_argument("--model", metavar="WORLD:REV",
                    help="only scenarios on this model revision, e.g. local:B3 (see `sim list`)")
    options.STRATEGY.add(ex)
    options.SEED.add(ex)
    limit = ex.add_mutually_exclusive_group()
    options.BUDGET.add(limit)
    options.TIME.add(limit)
    options.ENGINE.add(ex)
    options.PREEMPTIONS.add(ex)
    ex.add_argument("--cache-states", action="store_true",
                    help="with --strategy dfs: cut an execution at a state whose subtree was explored "
                         "(whole-state fingerprints, sim.statehash); one process, fast engine")
    ex.add_argument("--keep-going", action="store_true",
                    help="explore past violations; save one trace per distinct violated invariant")
    ex.add_argument("--check-footprints", action="store_true",
                    help="report a step that touches sim-managed state outside its declared footprint")
    options.OUT.add(ex)
    ex.add_argument("--stats", action="store_true",
                    help="also count distinct terminal states and scheduling points covered (a little slower); "
                         "printed as a table and put in the HTML reports")
    ex.add_argument("--jobs", type=options.positive_int, default=None, metavar="N",
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
    options.NO_SHRINK.add(ex)
    variants.add_options(ex)
    options.BACKEND.add(ex)
    options.LOAD.add(ex)
    options.STEP_TIMEOUT.add(ex)
    ex.set_defaults(func=cmd_explore)


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
        with progress_bar(scenario.name, total) if show_progress else contextlib.nullcontext() as progress:
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
        with progress_bar(scenario.name, total) if show_progress else contextlib.nullcontext() as progress:
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
    with backends.using(args.backend), backend_errors():
        return _cmd_explore(args)




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
        args, variants.apply(_select(args.scenario, args.model, tuple(args.load)), args))
    out = console(sys.stdout)
    for line in variants.notes(scenarios) + backend_notes:
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
