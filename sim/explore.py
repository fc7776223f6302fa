"""Exploration: run executions of a scenario under a strategy; turn a violation into a trace; replay traces."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from sim import engine as engines
from sim import backends, registry, variants
from sim.kernel import Violation
from sim.keepgoing import PastExpected
from sim.scenario import Scenario
from sim.stats import Observed
from sim.strategy import Replay, Strategy
from sim.tape import Divergence
from sim.watchdog import Watchdog
from sim.trace import (CROSS_BACKEND_FIELDS, SCHEMA_VERSION, STEP_FIELDS, TraceError, first_difference, format_step,
                       steps_of, verdict_of)

DEFAULT_BUDGET = 1000

_version: list = []


def sim_version() -> str:
    """The installed package's version (importlib.metadata is slow to import: only when a trace is made)."""
    if not _version:
        from importlib.metadata import PackageNotFoundError, version
        try:
            _version.append(version("sim"))
        except PackageNotFoundError:  # running from a source tree
            _version.append("0+unknown")
    return _version[0]


@dataclass(frozen=True)
class Found:
    execution: int        # 1-based index of the execution
    tape: list
    violation: Violation
    strategy: dict | None = None  # how it was found, when that differs from the exploration's (sim.units)


@dataclass
class Exploration:
    """What `explore` did: executions, steps, the first violation (`violation`, `tape`, `found_at`),
    every distinct one with `stop_on_violation=False` (`violations`), and how much was covered
    (`complete`, `bounds()`: "exhaustive within ..." only when the whole space was run).

    Example: `res = sim.explore(scn, sim.DFS()); print(res.ok, res.executions, res.bounds())`.
    """
    scenario: Scenario
    strategy: dict
    engine: str
    executions: int = 0
    steps: int = 0
    decisions: int = 0
    crashes: int = 0
    redeliveries: int = 0
    elapsed: float = 0.0
    pruned: int = 0                 # executions a reduction strategy cut short as redundant
    complete: bool = False          # an exhaustive strategy covered its whole space
    truncated: bool = False         # ... but explored wide data choices only at their extremes
    violation: Violation | None = None
    found_at: int | None = None     # 1-based execution index of the first violation
    tape: list[int] | None = None   # its tape
    violations: dict = field(default_factory=dict)  # invariant -> Found: the first of each (keep-going)
    went_on: int | None = None      # sim.keepgoing: went on past the expected violation found here
    check_footprints: bool = False
    notes: list[str] = field(default_factory=list)
    points: int | None = None           # with stats: distinct scheduling points actors stepped from
    terminal_states: int | None = None  # with stats: distinct final store contents (None: no sim.Store)

    def stats(self) -> dict:
        """Exploration statistics, in the order a reader wants them."""
        rate = self.decisions / self.elapsed if self.elapsed > 0 else None
        return {"schedules": self.executions, "distinct terminal states": self.terminal_states,
                "steps": self.steps, "decisions": self.decisions,
                "decisions/s": None if rate is None else round(rate),
                "faults injected": self.crashes + self.redeliveries, "crashes": self.crashes,
                "redeliveries": self.redeliveries, "scheduling points covered": self.points,
                "coverage": self.bounds()}

    def stats_text(self) -> str:
        def cell(v):
            return "n/a" if v is None else f"{v:,}" if isinstance(v, int) else str(v)
        return "\n".join(f"{k}: {cell(v)}" for k, v in self.stats().items())

    @property
    def ok(self) -> bool:
        return self.violation is None

    def bounds(self) -> str:
        f = self.scenario.faults
        what = f"{f.describe()}, {self.scenario.max_steps} steps"
        params = variants.parameters(self.scenario)
        if params:  # the workload's size is a bound too
            what = f"{variants.describe(params)}, {what}"
        pb = self.strategy.get("preemption_bound")
        if pb is not None:
            what = f"{pb} preemption(s), {what}"
        if self.strategy.get("cache_states"):
            what = f"{what}, states cached by fingerprint"
        fb = self.strategy.get("fault_bound")
        if fb is not None and fb < f.crashes + f.redeliveries:
            what = f"at most {fb} fault(s) in all of {what}"
        if self.violation is not None and not self.complete:
            cov = "stopped at the first violation" if len(self.violations) <= 1 and self.went_on is None \
                else "sampled"
        elif self.complete:
            cov = "exhaustive" + (" (wide data choices at their extremes)" if self.truncated else "")
        else:
            cov = "sampled"
        return f"{cov} within {what}"


def explore(scenario: Scenario, strategy: Strategy, *, engine: str = "fast", budget: int | None = None,
            time_limit: float | None = None, progress=None, check_footprints: bool = False,
            stop_on_violation: bool = True, stats: bool = False, past: PastExpected | None = None) -> Exploration:
    """Run executions until a violation, the budget, the time limit, or an exhausted strategy.

    With `stop_on_violation=False` it goes on past violations and keeps the first
    execution of each distinct violated invariant in `violations`.

    `budget` counts executions. With neither budget nor time limit, an
    exhaustive strategy runs to completion and any other stops at the scenario's
    own budget, or DEFAULT_BUDGET.
    `time_limit` only bounds how much is explored: what is found replays exactly.
    `check_footprints`: a step touching a sim-managed key (sim.store) outside its
    declared footprint is a "footprint" violation (DPOR is only as sound as those).
    `stats`: also count distinct terminal states and scheduling points (sim.stats; a
    fingerprint per execution costs a little speed).
    `past` (sim.keepgoing, with `stop_on_violation`): go on past a violation it expects, up to
    its bound, and stop at the first violation of any other invariant.

    Example:

    ```python
    res = sim.explore(scenario, sim.DFS(), stop_on_violation=False)
    assert res.complete and not res.violations
    ```
    """
    eng = engines.make(engine)
    if budget is None and time_limit is None and not strategy.exhaustive:
        budget = scenario.budget or DEFAULT_BUDGET
    if budget is not None and budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    res = Exploration(scenario, strategy.describe(), engine, check_footprints=check_footprints)
    observed = Observed(strategy) if stats else None
    driver = observed or strategy

    def loop():
        t0 = time.perf_counter()
        deadline = None if time_limit is None else t0 + time_limit
        execute = eng.execute
        # most strategies don't override end_execution: skip a call per execution. (Looked up anew
        # each time otherwise: a wrapper may rebind it between executions.)
        ends = getattr(driver.end_execution, "__func__", None) is not Strategy.end_execution
        n = steps = decisions = crashes = redeliveries = pruned = 0
        limit = budget
        while limit is None or n < limit:
            if not driver.next_execution():  # out of work is not a proof: only `complete` claims one
                break
            k = execute(scenario, driver, False, check_footprints)
            if ends:
                driver.end_execution(k.view())
            n += 1
            steps += k.step
            decisions += len(k.tape)
            crashes += k.crashes
            redeliveries += k.redeliveries
            if k.pruned:
                pruned += 1
            if k.violation is not None:
                if res.violation is None:
                    res.violation, res.found_at, res.tape = k.violation, n, k.tape
                if k.violation.invariant not in res.violations:
                    # how it was found, now: going on, a portfolio moves to other members, and the trace
                    # must name the one that found it (and be the same file a run stopping here writes)
                    res.violations[k.violation.invariant] = Found(n, k.tape, k.violation, strategy.describe())
                if stop_on_violation:
                    if past is None or past.stops(k.violation.invariant):
                        break
                    if res.went_on is None:
                        res.went_on = n
                        limit = past.limit(n, limit)
            if progress is not None and n % 256 == 0:
                progress(n)
            if deadline is not None and (n & 63) == 0 and time.perf_counter() > deadline:
                break
        res.complete = bool(strategy.complete)
        res.executions, res.steps, res.decisions = n, steps, decisions
        res.crashes, res.redeliveries, res.pruned = crashes, redeliveries, pruned
        res.elapsed = time.perf_counter() - t0

    with Watchdog():
        eng.host(loop)
    res.truncated = bool(strategy.truncated)
    if observed is not None:
        res.points, res.terminal_states = observed.distinct_points(), observed.distinct_states()
    res.strategy = strategy.describe()  # at the end: the bound reached, the portfolio member that found it
    return res


def run_tape(scenario: Scenario, strategy: Strategy, engine: str = "fast", check_footprints: bool = False):
    """One recorded execution (step log on) under `strategy`; returns the kernel."""
    eng = engines.make(engine)

    def once():
        if not strategy.next_execution():
            raise RuntimeError("strategy has no execution to run")
        k = eng.execute(scenario, strategy, record=True, check_footprints=check_footprints)
        strategy.end_execution(k.view())
        return k

    with Watchdog():
        return eng.host(once)


def make_trace(scenario: Scenario, tape: list[int], *, strategy: dict, engine: str = "fast",
               execution: int | None = None, check_footprints: bool = False) -> Trace:
    """Re-execute `tape` with recording on and package it as a sealed trace.

    Example: `trace = sim.make_trace(scn, res.tape, strategy={"name": "dfs"})`."""
    k = run_tape(scenario, Replay(tape), engine, check_footprints)
    return trace_of(scenario, k, strategy=strategy, engine=engine, execution=execution)


def confirmed_trace(scenario: Scenario, tape: list[int], violation: Violation | None, *, strategy: dict,
                    engine: str = "fast", execution: int | None = None, check_footprints: bool = False) -> Trace:
    """`make_trace` for a counterexample just found, run twice: both runs must take the same steps and
    end in the violation the search saw, else the model is nondeterministic (it reads the wall clock,
    `random`, set order...) and ModelNondeterminism names the first step where the runs differ."""
    from sim.strategy import ModelNondeterminism
    runs = []
    for _ in range(2):
        try:
            runs.append(make_trace(scenario, tape, strategy=strategy, engine=engine, execution=execution,
                                   check_footprints=check_footprints))
        except Divergence as d:
            raise ModelNondeterminism(f"the model is nondeterministic: re-running the tape the search "
                                      f"found asked other questions ({d})") from None
    first, second = runs
    differs = first_difference(first.steps, second.steps, names=("the first run has", "the second"))
    if differs is not None:
        raise ModelNondeterminism(f"the model is nondeterministic: two runs of the same tape differ at {differs}")
    found = verdict_of(violation)
    if first.verdict != second.verdict or first.verdict.invariant != found.invariant:
        raise ModelNondeterminism(
            f"the model is nondeterministic: the search saw {found.describe()}, re-running its tape gives "
            f"{first.verdict.describe()}" + ("" if first.verdict == second.verdict else
                                             f" and then {second.verdict.describe()}"))
    return first


def trace_of(scenario: Scenario, k, *, strategy: dict, engine: str, execution: int | None = None) -> Trace:
    from sim.tracemodel import Trace  # pydantic: imported once a trace is wanted
    return Trace(
        schema_version=SCHEMA_VERSION, sim_version=sim_version(), scenario=scenario.name,
        revision=scenario.revision, params=dict(scenario.params),
        faults=scenario.faults.recorded(),
        max_steps=scenario.max_steps, strategy=strategy, engine=engine, execution=execution,
        check_footprints=k.check_footprints, load=[o] if (o := registry.origin(scenario.name)) else [],
        backend=backends.current(),
        tape=list(zip(k.tape_kinds, k.tape_ns, k.tape)), steps=steps_of(k.log),
        verdict=verdict_of(k.violation),
    ).sealed()


@dataclass
class ReplayResult:
    trace: Trace
    replayed: Trace
    same_verdict: bool
    step_difference: str | None = None   # the first step whose behaviour differs (None: the same log)

    @property
    def same(self) -> bool:
        """Reproduced: the same verdict AND the same step log (actors, labels, footprints, notes)."""
        return self.same_verdict and self.step_difference is None

    def describe_mismatch(self) -> str:
        if not self.same_verdict:
            return (f"verdict changed: the trace recorded {self.trace.verdict.describe()}; "
                    f"replay gives {self.replayed.verdict.describe()}"
                    + (f" (first difference: {self.step_difference})" if self.step_difference else ""))
        return f"behaviour changed: {self.step_difference}"


def load_recorded(trace: Trace, near=None) -> None:
    """Load the `--load` module or file the trace's scenario came from, unless it is registered already:
    a trace is enough to replay, shrink or report a user's own model. A relative file path is tried
    from the current folder, then (given `near`, the trace file's path) from the trace's folder and
    each folder above it, so a trace saved under the project still finds its model from elsewhere."""
    import os
    from pathlib import Path
    for spec in trace.load:
        if registry.origin(trace.scenario) is not None:
            return
        candidates = [spec]
        if near is not None and registry.is_path(spec) and not os.path.isabs(spec) and not os.path.exists(spec):
            candidates += [str(d / spec) for d in Path(near).resolve().parents if (d / spec).is_file()][:1]
        try:
            registry.load_module(candidates[-1])
        except Exception as e:
            raise TraceError(f"the trace's scenario {trace.scenario!r} comes from --load {spec}, which cannot be "
                             f"loaded here: {type(e).__name__}: {e}") from None


def replay(trace: Trace, engine: str | None = None, scenario: Scenario | None = None) -> ReplayResult:
    """Replay a trace against the current model. Raises TraceError on divergence or unknown scenario.

    The result's `same` is true when the verdict and the whole step log are as recorded.

    Example: `assert sim.replay(sim.Trace.model_validate_json(text)).same`."""
    if scenario is None:
        try:
            load_recorded(trace)
            scenario = registry.get(trace.scenario)
        except registry.UnknownScenario as e:
            raise TraceError(str(e)) from None
    differs = variants.recorded_mismatch(trace, scenario)
    if differs:
        raise TraceError(differs)
    eng = engine or trace.engine
    try:
        k = run_tape(scenario, Replay.from_choices(trace.tape), eng, trace.check_footprints)
    except Divergence as d:
        rev = ""
        if trace.revision != scenario.revision:
            rev = f" (trace from model revision {trace.revision}, model is now revision {scenario.revision})"
        earlier = first_difference(trace.steps, steps_of(d.log), prefix=True) if d.log is not None else None
        if earlier is not None:
            # the tape ran out of step with the model later than the behaviour changed: name the change
            raise TraceError(f"behaviour changed at {earlier}; then {d}{rev}") from None
        was = next((s for s in trace.steps if s.i == d.step), None)
        what = f"; the trace's step {d.step} was {format_step(was)}" if was is not None else ""
        raise TraceError(f"{d}{rev}{what}") from None
    replayed = trace_of(scenario, k, strategy=trace.strategy, engine=trace.engine, execution=trace.execution)
    # on another backend than the trace's, footprints and notes are the backend's own: not compared
    fields = STEP_FIELDS if backends.current() == trace.backend else CROSS_BACKEND_FIELDS
    return ReplayResult(trace, replayed, replayed.verdict == trace.verdict,
                        first_difference(trace.steps, replayed.steps, fields=fields))
