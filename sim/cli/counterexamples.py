"""Commands that turn a failing trace into something a person reads and keeps:
`shrink`, `report`, `regress`, and the shrink-and-report step of `explore`."""
from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import sim
from sim import registry, report
from sim import trace as traces
from sim.cli import options
from sim.cli.common import (EXIT_MISMATCH, EXIT_OK, EXIT_VIOLATION, UsageError, check_engine, console, load_modules,
                            load_trace, print_step_log, say, visible)
from sim.report.text import DEFAULT_WIDTH as SWIMLANE_MAX
from sim.explore import load_recorded
from sim.shrink import Shrunk, shrink

DEFAULT_CANDIDATES = 3_000
REGRESSIONS = Path("scenarios") / "regressions"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def shrink_and_save(scenario, original: traces.Trace, directory, stem: str, engine: str,
                    candidates: int = DEFAULT_CANDIDATES):
    """Shrink a saved violation; save the result as `directory/stem-shrunk.json`, a sealed trace that
    says what it was shrunk from. (Shrunk, shrunk trace, its path); ValueError when the tape does
    not fail as recorded (a model reading outside the tape)."""
    r = shrink(scenario, [v for _, _, v in original.tape], original.verdict.invariant,
               max_candidates=candidates, engine=engine, check_footprints=original.check_footprints)
    strategy = {"name": "shrink", "candidates": r.executions, "from": original.strategy,
                "from_digest": original.digest[:16]}
    small = sim.make_trace(scenario, r.tape, strategy=strategy, engine=engine, execution=original.execution,
                           check_footprints=original.check_footprints)
    return r, small, traces.save(small, directory, stem + "-shrunk")


def describe_shrink(r: Shrunk) -> list[str]:
    lines = [f"shrunk: {r.before.describe()} -> {r.after.describe()} ({r.executions} candidates, "
             f"{r.elapsed:.2f} s{', budget spent' if r.exhausted else ''})"]
    lines += [f"  {p}" for p in r.proofs]
    return lines


def save_report(trace: traces.Trace, directory, stem: str, stats: str | None = None) -> Path:
    return traces.save_text(report.html(trace, stats=stats), directory, stem, ".html")


def print_timeline(out, trace: traces.Trace) -> None:
    width = min(out.width, SWIMLANE_MAX)   # a narrow terminal gets narrower lanes
    for line in report.swimlane(trace, width=width).splitlines():
        say(out, "  " + line)


def shrink_found(out, scenario, original: traces.Trace, path: Path, engine: str, candidates: int,
                 stats: str | None = None) -> tuple[Path, Path | None]:
    """explore's default: shrink a violation, save the shrunk trace and its HTML report beside the
    original, and print the shrunk timeline. Returns (the trace to replay, its report or None)."""
    try:
        r, small, small_path = shrink_and_save(scenario, original, path.parent, path.stem, engine, candidates)
    except ValueError as e:  # re-running the tape did not fail the same way: the model reads outside it
        say(out, f"  not shrunk: {e}", "bold")
        print_step_log(out, original)
        say(out, f"  trace:  {path}")
        return path, None
    except traces.TraceError as e:   # e.g. the disk filled up after the found trace was saved
        print_step_log(out, original)
        say(out, f"  trace:  {path}")
        say(out, f"  shrunk trace NOT saved: {e}", "bold red")
        return path, None
    html = None
    try:
        html = save_report(small, path.parent, small_path.name[:-len(".json")], stats)
    except traces.TraceError as e:
        say(out, f"  report NOT saved: {e}", "bold red")
    for line in describe_shrink(r):
        say(out, "  " + line)
    print_timeline(out, small)
    say(out, f"  trace:  {path} (as found)")
    say(out, f"  shrunk: {small_path}")
    if html is not None:
        say(out, f"  report: {html}")
    say(out, f"  replay: python -m sim replay {shlex.quote(str(small_path))}", "bold")
    return small_path, html


# ---- shrink -------------------------------------------------------------------------------

def _reproduce(path: str, trace: traces.Trace, engine: str):
    """Replay `trace` on the current model: (scenario, result); a trace that no longer replays is the
    user's to see, in one line, before anything is built on it."""
    check_engine(engine)
    try:
        load_recorded(trace, near=path)
        scenario = registry.get(trace.scenario)
    except (registry.UnknownScenario, traces.TraceError) as e:
        raise UsageError(f"{path}: {e}") from None
    try:
        res = sim.replay(trace, engine=engine, scenario=scenario)
    except traces.TraceError as e:
        raise UsageError(f"{path}: {e}") from None
    return scenario, res


def cmd_shrink(args, _rest) -> int:
    load_modules(args.load)
    trace = load_trace(args.trace)
    engine = args.engine or trace.engine
    scenario, res = _reproduce(args.trace, trace, engine)
    out = console(sys.stdout)
    if not res.same:
        say(out, f"{args.trace}: {res.describe_mismatch()}; not shrunk")
        return EXIT_MISMATCH
    if trace.verdict.status != "violation":
        raise UsageError(f"{args.trace}: the trace violates nothing ({trace.verdict.describe()}): nothing to shrink")
    src = Path(args.trace)
    stem = src.name[:-len(".json")] if src.name.endswith(".json") else src.name
    r, small, path = shrink_and_save(scenario, trace, Path(args.out) if args.out else src.parent, stem, engine,
                                     args.max_candidates)
    say(out, f"{scenario.name}: {small.verdict.describe()}", "bold red")
    for line in describe_shrink(r):
        say(out, "  " + line)
    print_timeline(out, small)
    say(out, f"  shrunk: {path}")
    say(out, f"  replay: python -m sim replay {shlex.quote(str(path))}", "bold")
    return EXIT_VIOLATION


# ---- report -------------------------------------------------------------------------------

def cmd_report(args, _rest) -> int:
    trace = load_trace(args.trace)
    text = report.render(trace, args.format)
    if args.output is None:
        if args.format != "html":
            text = visible(text)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return EXIT_OK
    dest = Path(args.output)
    if dest.exists() and dest.read_text(encoding="utf-8", errors="replace") != text:
        raise UsageError(f"{dest} exists: not overwritten (choose another name or remove it)")
    written = traces.save_text(text, dest.parent, dest.stem, dest.suffix)
    print(f"wrote {written}")
    return EXIT_OK


# ---- regress ------------------------------------------------------------------------------

def _verdict_name(trace: traces.Trace) -> str:
    return "hold" if trace.verdict.status == "ok" else trace.verdict.invariant


def cmd_regress(args, _rest) -> int:
    """Save a trace into the regression corpus, which pytest replays on every run."""
    load_modules(args.load)
    if not _NAME.fullmatch(args.name):
        raise UsageError(f"--name {args.name!r}: use letters, digits, '.', '_' and '-' (it becomes a file name)")
    trace = load_trace(args.trace)
    scenario, res = _reproduce(args.trace, trace, trace.engine)
    if not res.same:
        raise UsageError(f"{args.trace}: {res.describe_mismatch()}; a regression must replay as recorded")
    got = _verdict_name(trace)
    if args.expect is not None and args.expect != got:
        raise UsageError(f"{args.trace}: expected verdict {args.expect}, but the trace gives {got} "
                         f"({trace.verdict.describe()})")
    directory = Path(args.dir)
    dest = directory / f"{args.name}.json"
    text = trace.to_json()
    if dest.exists():
        if dest.read_text(encoding="utf-8", errors="replace") != text:
            raise UsageError(f"{dest} exists and holds another trace: not overwritten (choose another --name)")
    else:
        traces.save(trace, directory, args.name)
    out = console(sys.stdout)
    say(out, f"saved {dest}: {scenario.name} (revision {trace.revision}), expected verdict {got}")
    say(out, f"  pytest replays it on every run: pytest {shlex.quote(str(dest))}")
    return EXIT_OK


def add_commands(sub, fmt) -> None:
    sh = sub.add_parser("shrink", help="shrink a failing trace to a counterexample a person can read",
                        description="Shrink a failing trace: fewer faults, then fewer preemptions, then fewer "
                                    "deviations and steps; the result fails the same invariant and replays "
                                    "exactly. Saved beside the trace as NAME-shrunk.json.",
                        epilog="exit status: 1 shrunk (the trace still fails), 2 unusable trace, "
                               "3 the trace no longer gives its recorded verdict", formatter_class=fmt)
    sh.add_argument("trace", metavar="TRACE", help="trace file (JSON) that ends in a violation")
    sh.add_argument("--max-candidates", type=options.positive_int, default=DEFAULT_CANDIDATES, metavar="N",
                    help=f"executions the shrinker may try (default {DEFAULT_CANDIDATES}; bounds time "
                         f"and keeps the result the same on every machine)")
    options.ENGINE.add(sh, default=None, help="engine (default: the trace's)")
    options.OUT.add(sh, default=None, help="where the shrunk trace goes (default: beside TRACE)")
    options.LOAD.add(sh)
    options.STEP_TIMEOUT.add(sh)
    sh.set_defaults(func=cmd_shrink)

    rp = sub.add_parser("report", help="render a trace: text swimlane, Markdown + Mermaid, HTML, or DOT",
                        description="Render a saved trace for a person (no replay: works on any trace).")
    rp.add_argument("trace", metavar="TRACE", help="trace file (JSON)")
    rp.add_argument("--format", choices=report.FORMATS, default="text",
                    help="text swimlane (default), md (Markdown with a Mermaid sequence diagram), html "
                         "(one self-contained page), dot (happens-before graph)")
    rp.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout (never overwritten)")
    rp.set_defaults(func=cmd_report)

    rg = sub.add_parser("regress", help="save a trace into the regression corpus that pytest replays",
                        description="Save TRACE as DIR/NAME.json after checking it replays as recorded; "
                                    "pytest then replays it on every run and fails, naming the step, if "
                                    "the model's behaviour changes.")
    rg.add_argument("trace", metavar="TRACE", help="trace file (JSON)")
    rg.add_argument("--name", required=True, help="file name in the corpus (without .json)")
    rg.add_argument("--expect", metavar="VERDICT",
                    help="the verdict the trace must give: an invariant name, or hold (checked, default: "
                         "whatever it gives)")
    rg.add_argument("--dir", default=str(REGRESSIONS), metavar="DIR",
                    help=f"the corpus directory (default: {REGRESSIONS})")
    options.LOAD.add(rg)
    options.STEP_TIMEOUT.add(rg)
    rg.set_defaults(func=cmd_regress)
