"""Hypothesis-driven schedules: every choice of an execution is a Hypothesis draw, so Hypothesis's
generator, shrinker and example database work on schedules.

Encodings (a schedule as Hypothesis draws; every draw is `st.integers(0, hi)` with hi < 100):

``"choices"``: one draw per choice, the tape value itself. Random generation is a random walk:
    uniform over the enabled actors and, where time or a fault could also be picked, those about
    1 in RARE times (the draw range is widened and the extra values fold onto the actors, like
    RandomWalk's fault rate; uniform draws put a crash in the first few steps of almost every
    execution: hook-1665-crash@postgres:P3 then needed 580-1310 examples instead of 66-210).
    It finds bugs fastest (the feasibility study, section 4, measured the same for one
    `st.data()` draw per step), but Hypothesis shrinks it badly. Hypothesis's order is shortlex
    on the draws, *fewer draws first*, and here the number of draws is the number of choices,
    i.e. the length of the execution: it keeps deviations that shorten the run
    (step-dup@postgres:P1: 5-10 preemptions kept in 28-32 choices where a 1-preemption
    counterexample exists; hook-pairs@local:B3: 4-6 where 1 suffices). And lowering one value
    changes every later question, so every later draw now answers a different one.

``"marks"``: only the deviations are drawn. The draws are the index of the first deviating
    choice (two base-100 digits; 0 = none), then for each deviating choice its value (as above)
    and the index of the next one (an index not after the current one ends the deviations).
    The number of draws is now 3 per deviation, so Hypothesis's shortlex order becomes ours,
    fewer deviations first; deleting a deviation (3 adjacent draws, which Hypothesis's
    node-deletion passes try) or moving one leaves every other deviation where it was.
    An earlier variant encoded relative gaps between deviations; deleting one then shifted all
    later ones and it shrank worse (hook-1665@local:B1: 6-9 preemptions left, marks 3).
    Random generation is hopeless with marks (a uniform first index is almost always past
    the end of the execution, so nearly every example is the default schedule: 1000 examples
    found neither claim-publish nor step-2331@postgres:P2, seeds 1-3).

So `hunt` uses each for what it is good at: it generates with "choices" (the generate phase,
which stops at the first failure), then re-encodes that execution's tape as marks and lets
Hypothesis shrink it (reuse + shrink phases). `schedules(scenario)` (for `@given`) is a single
Hypothesis run, so it takes one encoding: "choices" by default (marks would rarely fail).

Starting Hypothesis from a known tape (`shrink_with_hypothesis`, and hunt's second half):
Hypothesis has no public "start from this input" API; the robust door is its example database.
Since 6.1xx it stores choice sequences serialized by `hypothesis.database.choices_to_bytes`
(importable and used by Hypothesis's own tooling, though not in the documented `__all__`). We
offer the tape's draws as the *secondary* corpus of a namespacing database view (as a primary
entry that still fails, it would take Hypothesis's "already shrunk, don't shrink again" fast
path), and check that Hypothesis's first execution is exactly that tape: if a future Hypothesis
changes the format, HypothesisSeedError says so instead of shrinking something else.

The database: `hunt(database=...)` namespaces Hypothesis's keys by encoding, scenario, model
revision and invariant (not by the digest of our internal test function's source, which would
put all scenarios under one key); the next hunt with the same database first replays what was
saved and, if that still fails, returns it at execution 1 without generating or shrinking.
The database gets what Hypothesis itself saves: the shrunk failure as the primary entry, the
failures it improved on as secondary ones.

Determinism: `@hypothesis.seed(seed)` (derandomize would force database=None), the "hypothesis"
backend, no deadline, quiet output. Every draw range stays below 100 because Hypothesis mixes
integer literals >= 100 found in the *loaded* local source modules into generation: wider ranges
would make a seed's result depend on which modules the process had imported. A wider choice
(a ULID's 16 bits) is drawn as base-100 digits. Shrinking is bounded by `max_shrinks`
executions (our deterministic stop: an exception Hypothesis does not catch), besides
Hypothesis's own limits (500 improvements; 5 minutes of wall time, which would not be
deterministic but is far beyond what these models need).

Against sim.shrink from the same found tapes (benchmarks/shrink_compare.py, 2026-11-22, 9 x 5
seeds): as simple in 32 of 45 cases, less simple in 13, simpler in none. Hypothesis's order
cannot tell a crash or a preemption from any other deviation (each is 3 draws), and it prefers
deviations at earlier choices to shorter executions; ours drops faults first, then preemptions.

Costs: Hypothesis spends more time per execution than our shrinker (its engine, its tree of
seen choice sequences, `data.draw`), and, like any Hypothesis test, it caches the constants
of local modules under `.hypothesis/` in the working directory.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import ExampleDatabase, InMemoryExampleDatabase

from sim import engine as engines
from sim.scenario import Scenario
from sim.shrink import Guided, Shape, shape_of
from sim.strategy.base import Strategy
from sim.tape import STEP

WIDE = 100    # every draw is below this (see the module docstring: Hypothesis's local constants)
RARE = 16     # in generation, a step choice picks time or a fault about 1 in RARE times
MARKS = WIDE * WIDE - 1   # the marks encoding reaches this many choices
ENCODINGS = ("choices", "marks")
BUILTIN = ("deadlock", "livelock", "uncaught-exception", "footprint")
KEY_VERSION = b"sim.hypo/1"

_ints: dict = {}


def _integers(hi: int):
    s = _ints.get(hi)
    if s is None:
        s = _ints[hi] = st.integers(0, hi)
    return s


def _digits(n: int) -> int:
    d, span = 1, WIDE
    while span < n:
        d += 1
        span *= WIDE
    return d


def _step_range(n: int, nr: int) -> int:
    """Draw range of a step choice with `nr` actors among `n` options. Values past `n` fold onto
    the actors, so uniform draws pick one of the n - nr other options about 1 in RARE times."""
    nf = n - nr
    k = max(0, -(-(RARE * nf - n) // nr))  # extra copies of each actor
    return min(n + k * nr, n + ((WIDE - n) // nr) * nr)


class Drawn(Strategy):
    """Answers every choice with Hypothesis draws (`draw` is `data.draw` of `st.data()`, or the
    `draw` of an `st.composite`). Records the draws it made in `draws`."""
    name = "hypothesis"

    def __init__(self, draw, encoding: str = "choices"):
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r} (choose from {', '.join(ENCODINGS)})")
        self._draw = draw
        self.encoding = encoding
        self.draws: list[int] = []
        self._at = None     # marks: index of the next drawn choice; -1: none left
        self._i = 0         # marks: index of the current choice
        self._used = False

    def next_execution(self) -> bool:
        if self._used:
            return False
        self._used = True
        return True

    def draw(self, hi: int) -> int:
        v = self._draw(_integers(hi))
        self.draws.append(v)
        return v

    def choose(self, kind, n, label):
        if self.encoding == "choices":
            return self.value(kind, n, label)
        i = self._i
        self._i = i + 1
        at = self._at
        if at is None:
            at = self._at = self._mark()
        if at != i:
            return 0
        v = self.value(kind, n, label)
        at = self._mark()
        self._at = at if at > i else -1   # a mark not after this choice ends the deviations
        return v

    def _mark(self) -> int:
        """The index of the next deviating choice (two base-100 digits, 0 = none), or -1."""
        hi = self.draw(WIDE - 1)
        return hi * WIDE + self.draw(WIDE - 1) - 1

    def value(self, kind, n, label) -> int:
        if n > WIDE:
            w = 0
            for _ in range(_digits(n)):
                w = w * WIDE + self.draw(WIDE - 1)
            return w % n
        if kind is STEP:
            nr = label.n_run
            if 0 < nr < n:
                v = self.draw(_step_range(n, nr) - 1)
                return v if v < n else (v - n) % nr
        return self.draw(n - 1)

    def describe(self):
        return {"name": self.name, "encoding": self.encoding}


def encode(choices, encoding: str = "marks") -> list[int]:
    """The simplest draws that make `Drawn` answer the recorded `choices` [(kind, n, value), ...]."""
    def value(n, v):
        if n <= WIDE:
            return [v]
        out = []
        for _ in range(_digits(n)):
            out.append(v % WIDE)
            v //= WIDE
        return out[::-1]

    if encoding == "choices":
        return [d for _, n, v in choices for d in value(n, v)]
    if encoding != "marks":
        raise ValueError(f"unknown encoding {encoding!r} (choose from {', '.join(ENCODINGS)})")
    out: list[int] = []
    for i, (_, n, v) in enumerate(choices):
        if v:
            if i >= MARKS:
                raise ValueError(f"a deviation at choice {i}: the marks encoding reaches {MARKS} choices")
            out += [(i + 1) // WIDE, (i + 1) % WIDE, *value(n, v)]
    return out + [0, 0]


# ---- measuring a tape ------------------------------------------------------------------

Profile = Shape  # what a reader pays for a counterexample: sim.shrink's measures


def _run_lenient(scenario, tape, engine: str):
    """Run `tape` as sim.shrink does (0 past its end or where a value does not fit), recorded."""
    eng = engines.make(engine)
    g = Guided(list(tape))
    g.next_execution()
    k = eng.host(lambda: eng.execute(scenario, g, True, False))
    return k, shape_of(k, g)


def profile(scenario: Scenario, tape, engine: str = "fast") -> Profile:
    """The profile of the execution `tape` makes (values past its end are 0)."""
    return _run_lenient(scenario, tape, engine)[1]


# ---- running Hypothesis -----------------------------------------------------------------

class HypothesisSeedError(RuntimeError):
    """The installed Hypothesis did not start from the example we wrote into its database."""


class _Violated(Exception):
    """The failure Hypothesis sees (one exception type and raise site: one 'bug' to shrink)."""


class _Budget(BaseException):
    """Stops Hypothesis's shrinker (Hypothesis catches Exception, not this)."""


class _Keyed(ExampleDatabase):
    """Maps Hypothesis's keys (digest of our test function [+ .secondary/.pareto]) to
    `prefix` [+ the same suffix] in `inner`; with `seed`, the run sees only that example,
    as its secondary corpus."""

    def __init__(self, inner: ExampleDatabase, prefix: bytes, seed: bytes | None = None):
        super().__init__()
        self.inner = inner
        self.prefix = prefix
        self.seed = seed
        self.frozen = False   # set while aborting: Hypothesis saves the interrupted example

    def _key(self, key: bytes) -> bytes:
        for sub in (b".secondary", b".pareto"):
            if key.endswith(sub):
                return self.prefix + sub
        return self.prefix

    def fetch(self, key):
        if self.seed is not None:
            return [self.seed] if key.endswith(b".secondary") else []
        return self.inner.fetch(self._key(key))

    def save(self, key, value):
        if not self.frozen:
            self.inner.save(self._key(key), value)

    def delete(self, key, value):
        if not self.frozen:
            self.inner.delete(self._key(key), value)

    def move(self, src, dest, value):
        if not self.frozen:
            self.inner.move(self._key(src), self._key(dest), value)

    def _start_listening(self):  # nobody listens to this view
        pass

    def _stop_listening(self):
        pass


@dataclass
class _Run:
    """What one Hypothesis run saw."""
    target: str | None
    calls: int = 0
    found_at: int | None = None
    best: tuple | None = None    # (len(draws), draws, tape, message) of the simplest failure
    aborted: bool = False
    first_tape: list | None = None


def _hypothesis(scenario, *, encoding, engine, seed, max_examples, phases, database, target,
                max_shrinks=None) -> _Run:
    eng = engines.make(engine)
    run = _Run(target)

    @settings(max_examples=max_examples, database=database, derandomize=False, deadline=None,
              suppress_health_check=list(HealthCheck), phases=phases, report_multiple_bugs=False,
              verbosity=Verbosity.quiet, print_blob=False, backend="hypothesis")
    @hypothesis_seed(seed)
    @given(st.data())
    def test(data):
        run.calls += 1
        d = Drawn(data.draw, encoding)
        k = eng.execute(scenario, d, False, False)
        if max_shrinks is not None and run.found_at is not None and run.calls - run.found_at > max_shrinks:
            # after the draws: ending a test case with fewer draws than an earlier one with the
            # same prefix is what Hypothesis reports as flaky data generation
            run.aborted = True
            if database is not None:
                database.frozen = True
            raise _Budget
        if run.calls == 1:
            run.first_tape = list(k.tape)
        v = k.violation
        if v is None or (run.target is not None and v.invariant != run.target):
            return
        run.target = v.invariant  # the first failure fixes what the shrinker must keep failing
        if run.found_at is None:
            run.found_at = run.calls
        key = (len(d.draws), d.draws)
        if run.best is None or key < run.best[:2]:
            run.best = (len(d.draws), d.draws, list(k.tape), v.message)
        raise _Violated(v.invariant)

    try:
        eng.host(test)
    except (_Violated, _Budget):
        pass
    return run


def _check_invariant(scenario: Scenario, invariant: str | None) -> None:
    if invariant is None:
        return
    names = sorted({i.name for i in scenario.invariants})
    if invariant not in names and invariant not in BUILTIN:
        raise ValueError(f"scenario {scenario.name} has no invariant {invariant!r} "
                         f"(it has: {', '.join(names + list(BUILTIN))})")


def _prefix(scenario: Scenario, invariant: str | None, encoding: str) -> bytes:
    return b"|".join((KEY_VERSION, encoding.encode(), scenario.name.encode(),
                      str(scenario.revision).encode(), (invariant or "*").encode()))


@dataclass
class HuntResult:
    """What `hunt` / `shrink_with_hypothesis` return; `tape` is None when nothing failed."""
    scenario: str
    tape: list | None = None          # the shrunk failing tape (replays with sim.strategy.Replay)
    invariant: str | None = None
    message: str = ""
    executions: int = 0               # every execution Hypothesis ran (generation, shrinking, replays)
    found_at: int | None = None       # 1-based execution that first failed
    shrink_examples: int = 0          # executions spent shrinking
    elapsed: float = 0.0
    replayed: bool = False            # found by replaying the example database
    before: Profile | None = None     # of the first failing execution
    after: Profile | None = None      # of `tape`
    notes: list = field(default_factory=list)   # e.g. that shrinking hit max_shrinks

    @property
    def found(self) -> bool:
        return self.tape is not None


def hunt(scenario: Scenario, *, invariant: str | None = None, max_examples: int = 1000, seed: int = 0,
         database: ExampleDatabase | None = None, engine: str = "fast", max_shrinks: int | None = 3_000) -> HuntResult:
    """Find a violation of `scenario` (of `invariant`, or of any: the first found) with Hypothesis,
    and shrink it with Hypothesis. Generation uses the "choices" encoding, shrinking the "marks"
    one (see the module docstring). With `database`, the next hunt replays the saved failure
    first. `max_examples` bounds generation, `max_shrinks` the executions spent shrinking.
    The same arguments give the same result in any process (and any PYTHONHASHSEED)."""
    _check_invariant(scenario, invariant)
    t0 = time.perf_counter()
    res = HuntResult(scenario.name, invariant=invariant)
    saved = _Keyed(database, _prefix(scenario, invariant, "marks")) if database is not None else None
    if saved is not None and any(True for _ in saved.fetch(b"")):
        again = _hypothesis(scenario, encoding="marks", engine=engine, seed=seed, max_examples=max_examples,
                            phases=(Phase.reuse,), target=invariant, database=saved)
        res.executions = again.calls
        if again.best is not None:
            res.found_at, res.replayed = again.found_at, True
            return _finish(scenario, res, again.target, again.best[2], again.best[3], again.best[2], engine, t0)
    found = _hypothesis(scenario, encoding="choices", engine=engine, seed=seed, max_examples=max_examples,
                        phases=(Phase.generate,), database=None, target=invariant)
    base = res.executions
    res.executions += found.calls
    if found.best is None:
        res.elapsed = time.perf_counter() - t0
        return res
    res.found_at = base + found.found_at
    first = found.best[2]
    shrunk = _shrink(scenario, first, found.target, seed=seed, engine=engine, database=database,
                     key=_prefix(scenario, invariant, "marks"), max_shrinks=max_shrinks)
    res.executions += shrunk.calls
    res.shrink_examples = res.executions - res.found_at
    _note_budget(res, shrunk, max_shrinks)
    tape, message = (shrunk.best[2], shrunk.best[3]) if shrunk.best is not None else (first, found.best[3])
    return _finish(scenario, res, found.target, tape, message, first, engine, t0)


def _shrink(scenario, tape, target, *, seed, engine, database, key, max_shrinks) -> _Run:
    """Hypothesis's shrinker, started from `tape` (a failing tape, as the kernel recorded it)."""
    from hypothesis.database import choices_to_bytes

    k, _ = _run_lenient(scenario, tape, engine)
    draws = encode(list(zip(k.tape_kinds, k.tape_ns, k.tape)), "marks")
    db = _Keyed(database if database is not None else InMemoryExampleDatabase(), key,
                seed=choices_to_bytes(draws))
    run = _hypothesis(scenario, encoding="marks", engine=engine, seed=seed, max_examples=1,
                      phases=(Phase.reuse, Phase.shrink), database=db, target=target, max_shrinks=max_shrinks)
    if run.first_tape != list(k.tape):
        raise HypothesisSeedError(
            "the installed Hypothesis did not start from the example written into its database "
            "(its database format may have changed); use hunt() to find and shrink from scratch")
    return run


def _note_budget(res: HuntResult, run: _Run, max_shrinks) -> None:
    if run.aborted:
        res.notes.append(f"shrinking stopped after max_shrinks={max_shrinks} executions; "
                         f"the tape is the simplest failure found by then")


def _finish(scenario, res: HuntResult, target, tape, message, first, engine, t0) -> HuntResult:
    k, prof = _run_lenient(scenario, tape, engine)
    if k.violation is None or k.violation.invariant != target or list(k.tape) != list(tape):
        raise RuntimeError(f"internal error: the shrunk tape of {scenario.name} does not replay to {target}")
    res.tape, res.invariant, res.message, res.after = list(tape), target, message, prof
    res.before = profile(scenario, first, engine)
    res.elapsed = time.perf_counter() - t0
    return res


def shrink_with_hypothesis(scenario: Scenario, tape, invariant: str | None = None, *, max_shrinks: int = 3_000,
                           seed: int = 0, engine: str = "fast") -> HuntResult:
    """Let Hypothesis's shrinker minimize a KNOWN failing `tape` (of `invariant`, if given).

    Same contract as sim.shrink.shrink: ValueError when the tape does not fail (or fails another
    invariant); the result's tape replays exactly. HypothesisSeedError when the installed
    Hypothesis cannot be started from a given example (see the module docstring)."""
    _check_invariant(scenario, invariant)
    t0 = time.perf_counter()
    k, _ = _run_lenient(scenario, tape, engine)
    if k.violation is None:
        raise ValueError(f"the tape does not fail {scenario.name}: nothing to shrink")
    target = invariant or k.violation.invariant
    if k.violation.invariant != target:
        raise ValueError(f"the tape fails {k.violation.invariant}, not {target}")
    first = list(k.tape)
    run = _shrink(scenario, first, target, seed=seed, engine=engine, database=None,
                  key=_prefix(scenario, target, "marks"), max_shrinks=max_shrinks)
    res = HuntResult(scenario.name, invariant=target, executions=run.calls, found_at=1,
                     shrink_examples=run.calls - 1)
    _note_budget(res, run, max_shrinks)
    best = run.best if run.best is not None else (0, (), first, k.violation.message)
    return _finish(scenario, res, target, best[2], best[3], first, engine, t0)


# ---- for @given ---------------------------------------------------------------------------

@dataclass
class Execution:
    """One execution drawn by `schedules`."""
    scenario: str
    tape: list
    steps: int
    violation: object   # sim.kernel.Violation or None

    def describe(self) -> str:
        if self.violation is None:
            return f"{self.scenario}: holds ({self.steps} steps)"
        v = self.violation
        return f"{self.scenario}: {v.describe()} (tape {self.tape})"


def schedules(scenario: Scenario, *, encoding: str = "choices", engine: str = "fast"):
    """A Hypothesis strategy of executions of `scenario`: `@given(schedules(sc))` gets an
    `Execution`; Hypothesis then generates and shrinks the schedule, and its database keeps it."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r} (choose from {', '.join(ENCODINGS)})")
    eng = engines.make(engine)

    @st.composite
    def executions(draw):
        d = Drawn(draw, encoding)
        k = eng.execute(scenario, d, False, False)
        return Execution(scenario.name, list(k.tape), k.step, k.violation)

    return executions()
