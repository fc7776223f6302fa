"""pytest plugin: explore scenarios from tests, and replay saved traces as regression tests.

- Options `--sim-seed`, `--sim-budget`, `--sim-strategy`, `--sim-engine`, `--sim-trace-dir`,
  `--sim-no-shrink`: the command line's definitions (sim.cli.options), named for pytest.
  `--sim-strategy` defaults to random, not the command line's portfolio (why: below).
- Fixture `sim_explore(scenario, ...) -> Outcome`; `Outcome.assert_holds()` /
  `assert_violates(name)` fail with the invariant, the step log of the
  counterexample, the saved trace and the command that replays it, then the
  counterexample shrunk (sim.shrink) as a timeline, saved beside it.
- `regressions/*.json` files are collected: each replays its trace and passes
  iff the verdict is the recorded one.

What runs explorations is imported lazily: the plugin is loaded into every pytest run of
the environment, and most of them never touch a scenario (its options need only `sim`'s
names of strategies and engines).
"""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from sim.cli import options

# The plugin's --sim-strategy default differs from `python -m sim explore`'s (portfolio), on purpose:
# a test's budget is a number chosen for one strategy (the scenario tests' budgets were measured with
# the random walk), and the portfolio would spend only a fifth of it on the random walk (the rest on
# PCT at three depths and DPOR), so a pinned budget could stop finding its bug. A test that wants
# the portfolio names it: strategy="portfolio", or --sim-strategy portfolio.
DEFAULT_STRATEGY = "random"
STRATEGIES = options.STRATEGY.choices   # sim.strategy.NAMES
ENGINES = options.ENGINE.choices        # sim.engine.NAMES
DEFAULT_TRACE_DIR = options.DEFAULT_OUT
UNSET = object()  # sim_explore's budget: take --sim-budget (None there means sim's own default)

# the command line's definitions, as pytest options --sim-NAME; where the plugin's meaning differs, it says so
OPTIONS = (
    options.SEED,
    # an int here: the range is checked in pytest_configure, with the plugin's own message
    options.BUDGET.but(type=int),
    options.STRATEGY.but(
        default=DEFAULT_STRATEGY,
        help=f"strategy sim_explore uses when a test does not name one (default: {DEFAULT_STRATEGY}, where "
             f"`python -m sim explore` defaults to {options.STRATEGY.default}: a test's budget is chosen for one "
             f"strategy, and the portfolio would spend a fifth of it on the random walk; see README)"),
    options.ENGINE.but(default=None, help="engine for explorations (default fast) and for regression replays "
                                          "(default: the engine the trace was recorded with)"),
    options.NO_SHRINK.but(help="show a failing exploration's counterexample as found, without shrinking it"),
    options.OUT.but(default=None, help=f"where failing explorations save their traces "
                                       f"(default <rootdir>/{options.DEFAULT_OUT})"),
)


# ---- options ------------------------------------------------------------------------------

def pytest_addoption(parser):
    g = parser.getgroup("sim", "sim: deterministic concurrency exploration")
    for option in OPTIONS:
        option.addoption(g)


def pytest_configure(config):
    seed = config.getoption("sim_seed")
    budget = config.getoption("sim_budget")
    if seed < 0:
        raise pytest.UsageError(f"--sim-seed must be >= 0, got {seed}")
    if budget is not None and budget < 1:
        raise pytest.UsageError(f"--sim-budget must be >= 1, got {budget}")
    engine = config.getoption("sim_engine")
    if engine is not None:
        _check_engine(engine)


def _check_engine(name: str) -> None:
    from sim import engine as engines
    try:
        engines.make(name)
    except ImportError as e:
        raise pytest.UsageError(f"--sim-engine {name}: this engine is not available ({e})") from None


def pytest_report_header(config):
    budget = config.getoption("sim_budget")
    return (f"sim: strategy={config.getoption('sim_strategy')} seed={config.getoption('sim_seed')} "
            f"budget={'default' if budget is None else budget} engine={config.getoption('sim_engine') or 'fast'}")


# ---- exploring from a test ----------------------------------------------------------------

class Outcome:
    """The result of one `sim_explore` call: an `Exploration` plus ways to assert on it.

    Attributes of the exploration (executions, violation, found_at, tape,
    complete, bounds(), ...) are available directly on the outcome.
    """

    def __init__(self, exploration, scenario, *, seed, trace_dir: Path, rerun: str, shrink: bool = True):
        self.exploration = exploration
        self.scenario = scenario
        self.seed = seed
        self._trace_dir = trace_dir
        self._rerun = rerun
        self._shrink = shrink
        self._trace = None
        self._path = None

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.exploration, name)

    def __repr__(self):
        e = self.exploration
        what = "ok" if e.violation is None else f"{e.violation.invariant} at execution {e.found_at}"
        return f"<Outcome {self.scenario.name}: {what}, {e.executions} execution(s), {e.bounds()}>"

    @property
    def trace(self):
        """The counterexample as a sealed `sim.trace.Trace` (None when nothing was violated)."""
        if self._trace is None and self.exploration.tape is not None:
            import sim
            e = self.exploration
            self._trace = sim.make_trace(self.scenario, e.tape, strategy=e.strategy, engine=e.engine,
                                         execution=e.found_at, check_footprints=e.check_footprints)
        return self._trace

    def save(self, directory=None) -> Path | None:
        """Save the counterexample trace (once); returns its path, or None when nothing was violated."""
        if self.trace is None:
            return None
        if self._path is None or directory is not None:
            from sim import trace as traces
            self._path = traces.save(self.trace, directory or self._trace_dir, self._stem())
        return self._path

    def _stem(self) -> str:
        s = self.exploration.strategy
        how = s["name"] + (f"-seed{s['seed']}" if "seed" in s else "")
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.scenario.name)  # a scenario name is not a path
        return f"{safe}-{how}-{self.trace.digest[:8]}"

    # -- assertions
    def assert_holds(self) -> "Outcome":
        e = self.exploration
        if e.violation is not None:
            pytest.fail(self._report(f"scenario {self.scenario.name}: {_violation(e.violation)}"), pytrace=False)
        return self

    def assert_violates(self, invariant: str) -> "Outcome":
        e = self.exploration
        if e.violation is None:
            pytest.fail(
                f"scenario {self.scenario.name}: expected {invariant} to be violated, but no violation was found "
                f"in {e.executions} execution(s), {e.steps} step(s) by {_describe_strategy(e.strategy)} "
                f"({e.engine} engine; {e.bounds()})\nrerun: {self._rerun}", pytrace=False)
        if e.violation.invariant != invariant:
            pytest.fail(self._report(f"scenario {self.scenario.name}: expected {invariant} to be violated, "
                                     f"got {_violation(e.violation)}"), pytrace=False)
        return self

    def _report(self, headline: str) -> str:
        e = self.exploration
        tr = self.trace
        path = self.save()
        lines = [headline,
                 f"found by {_describe_strategy(e.strategy)} at execution {e.found_at} "
                 f"({e.engine} engine; {e.bounds()})",
                 f"step log ({len(tr.steps)} steps, {len(tr.tape)} choices):"]
        lines += ["  " + line for line in format_steps(tr)]
        lines.append(f"trace:  {_show(path)}")
        lines.append(f"replay: {replay_command(path)}")
        same = (tr.verdict.invariant, tr.verdict.step) == (e.violation.invariant, e.violation.step)
        if not same:
            lines.append(f"note:   re-running this tape gave {tr.verdict.describe()}: the model depends on "
                         f"something outside the tape (wall clock, unseeded randomness, set order?)")
        elif self._shrink:
            lines += self._shrunk(tr, path)
        warning = _replay_warning(tr, self.scenario)
        if warning:
            lines.append(f"note:   {warning}")
        lines.append(f"rerun:  {self._rerun}")
        return "\n".join(lines)


    def _shrunk(self, tr, path: Path) -> list[str]:
        """The counterexample shrunk (sim.shrink), saved beside the trace as found, as a timeline."""
        from sim import report
        from sim.cli.counterexamples import describe_shrink, shrink_and_save
        try:
            r, small, small_path = shrink_and_save(self.scenario, tr, path.parent, path.stem, tr.engine)
        except ValueError as err:  # the tape stopped failing: a model outside the tape, said above
            return [f"note:   not shrunk: {err}"]
        lines = describe_shrink(r)
        lines += ["  " + line for line in report.swimlane(small).splitlines()]
        lines.append(f"shrunk trace: {_show(small_path)} ({replay_command(small_path)})")
        return lines


def _violation(v) -> str:
    return v.describe()


def _describe_strategy(s: dict) -> str:
    opts = ", ".join(f"{k}={v}" for k, v in s.items() if k != "name")
    return f"{s['name']}({opts})" if opts else s["name"]


def format_steps(trace) -> list[str]:
    """The step log, one line per step, exactly as `python -m sim replay` prints it."""
    from sim.trace import step_lines
    return [line for line, _ in step_lines(trace)]


def _show(path: Path) -> str:
    """The path as a person would type it: relative to the working directory when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(Path(path).resolve())


def replay_command(path: Path) -> str:
    return f"python -m sim replay {shlex.quote(_show(path))}"


def _replay_warning(trace, scenario) -> str | None:
    """Say so when `python -m sim replay` would not reproduce this trace (it looks scenarios up by name)."""
    import sim
    from sim import registry
    try:
        registered = registry.get(scenario.name)
    except registry.UnknownScenario:
        return (f"scenario {scenario.name!r} is not registered, so the replay command cannot find it; "
                f"list it in a module's SCENARIOS (sim.scenarios entry point or --load MODULE)")
    if registered is scenario:
        return None
    try:
        ok = sim.replay(trace).same
    except sim.TraceError as err:
        return f"the registered scenario {scenario.name!r} differs from the one explored here: {err}"
    if not ok:
        return (f"the registered scenario {scenario.name!r} differs from the one explored here: "
                f"its replay gives another verdict or step log")
    return None


@pytest.fixture
def sim_explore(request):
    """`sim_explore(scenario, *, strategy=None, seed=None, budget=<unset>, engine=None, **strategy_opts) -> Outcome`.

    Arguments left unset (or None) come from --sim-strategy, --sim-seed and --sim-engine.
    `budget` left unset comes from --sim-budget; `budget=None` explicitly means sim's
    default (an exhaustive strategy runs to completion), for tests that must cover everything.
    """
    config = request.config
    trace_dir = _trace_dir(config)

    def run(scenario, *, strategy: str | None = None, seed: int | None = None, budget=UNSET,
            engine: str | None = None, **strategy_opts) -> Outcome:
        import sim
        from sim import strategy as strategies
        name = strategy or config.getoption("sim_strategy")
        seed = config.getoption("sim_seed") if seed is None else seed
        budget = config.getoption("sim_budget") if budget is UNSET else budget
        engine = engine or config.getoption("sim_engine") or "fast"
        strat = strategies.make(name, seed=seed, **strategy_opts)
        res = sim.explore(scenario, strat, engine=engine, budget=budget)
        rerun = _rerun_command(request.node.nodeid, name, seed, budget, engine)
        return Outcome(res, scenario, seed=seed, trace_dir=trace_dir, rerun=rerun,
                       shrink=not config.getoption("sim_no_shrink"))

    return run


def _trace_dir(config) -> Path:
    d = config.getoption("sim_trace_dir")
    return Path(d) if d else Path(config.rootpath) / DEFAULT_TRACE_DIR


def _rerun_command(nodeid: str, strategy: str, seed: int, budget: int | None, engine: str) -> str:
    parts = ["pytest", shlex.quote(nodeid), "--sim-strategy", strategy, "--sim-seed", str(seed)]
    if budget is not None:
        parts += ["--sim-budget", str(budget)]
    if engine != "fast":
        parts += ["--sim-engine", engine]
    return " ".join(parts)


# ---- the regression corpus ----------------------------------------------------------------

def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".json" and file_path.parent.name == "regressions":
        return RegressionFile.from_parent(parent, path=file_path)
    return None


class RegressionFile(pytest.File):
    def collect(self):
        yield RegressionItem.from_parent(self, name=self.path.stem)


class RegressionFailed(Exception):
    """A saved trace no longer replays to its recorded verdict; the message is one line."""


class RegressionItem(pytest.Item):
    """Replays one saved trace; passes iff the replay reaches the recorded verdict."""

    def __init__(self, **kw):
        super().__init__(**kw)
        from sim.trace import TraceError, load
        try:
            self.trace = load(self.path)
            self.load_error = None
        except TraceError as e:  # reported by this item when it runs, never at collection
            self.trace = None
            self.load_error = str(e)

    def recorded(self) -> str:
        if self.trace is None:
            return "unreadable trace"
        return f"recorded {self.trace.verdict.describe()}"

    def runtest(self):
        import sim
        from sim.explore import load_recorded
        if self.load_error is not None:
            raise RegressionFailed(self.load_error)
        engine = self.config.getoption("sim_engine")
        try:
            load_recorded(self.trace, near=self.path)
            res = sim.replay(self.trace, engine=engine)
        except sim.TraceError as e:
            raise RegressionFailed(f"{self.path.name}: {e}") from None
        if not res.same:
            raise RegressionFailed(f"{self.path.name}: {res.describe_mismatch()}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, RegressionFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.name}: {self.recorded()}"
