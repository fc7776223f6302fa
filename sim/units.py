"""Work units: an exploration cut into pieces that any process can run, in a canonical order.

A unit is a pure function of (scenario, `Spec`, `Unit`) to a `UnitResult`, so it gives
the same result wherever and whenever it runs; sim.parallel runs units in-process or on
a pool and merges their results in key order. The cut never depends on the number of
jobs:

- Sampling members (random, PCT): a unit is a chunk of `Spec.chunk` executions with a
  seed derived from (seed, member, chunk index).
- DFS and DPOR: a unit is a subtree, given by the search state of its path (the
  strategy's `unit_state()`). After `Spec.split` executions a unit stops and hands
  over the rest: the untried options at the shallowest choice that has any become
  units of their own, and the unit's own remainder continues as one more unit. That
  choice is frozen in all of them (all its options not asleep are explored, a superset
  of what DPOR would backtrack to, so races reversed above a unit's subtree are
  covered), and a handed-over option starts with the options before it in its sleep
  set (sleep sets are sound whatever order siblings run in). Whether a unit splits
  depends only on its own executions, so the set of units is the same for any jobs.

Keys order units: a unit's continuation and hand-overs follow it (its key extended by
0, 1, 2...), so for DFS key order is plain DFS order. In the portfolio a key is
(round, member, path): round r holds one chunk of each sampling member, then the DPOR
units whose path has length plus sum r.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass, field

from sim import engine as engines
from sim import registry
from sim import strategy as strategies
from sim.strategy import portfolio
from sim.stats import Observed, fingerprint

CHUNK = 64   # executions per sampling unit
SPLIT = 64   # executions a subtree unit runs before it hands over the rest
TREES = ("dfs", "dpor")


@dataclass(frozen=True)
class Spec:
    """What every unit of one exploration shares (plain data: it travels to worker processes)."""
    scenario: str
    strategy: str
    seed: int = 1
    engine: str = "fast"
    preemptions: int | None = None   # dfs: iterative preemption bounding up to this bound
    check_footprints: bool = False
    stop_on_violation: bool = True
    stats: bool = False
    load: tuple = ()                 # --load modules, imported by workers too
    path: tuple = ()                 # sys.path entries workers need for them
    chunk: int = CHUNK
    split: int = SPLIT
    past: tuple = ()                 # with stop_on_violation: invariants to go on past (sim.keepgoing)

    def members(self) -> list:
        if self.strategy == "portfolio":
            return list(portfolio.MEMBERS)
        if self.strategy == "dfs" and self.preemptions is not None:
            return [("dfs", {"preemption_bound": self.preemptions, "iterative": True})]
        strategies.make(self.strategy)  # unknown names fail here
        return [(self.strategy, {})]

    @property
    def exhaustive(self) -> bool:
        return self.strategy in TREES


@dataclass(frozen=True)
class Unit:
    key: tuple
    member: int       # index into spec.members()
    chunk: int = -1   # sampling: the chunk index
    state: tuple = () # subtree: the strategy's unit_state() to resume from
    path: tuple = ()  # subtree: its place in the tree of hand-overs (root ())

    @property
    def tree(self) -> bool:
        return self.chunk < 0


@dataclass
class UnitResult:
    key: tuple
    describe: dict                  # the strategy as a trace records it
    rows: list                      # per execution: (steps, decisions, crashes, redeliveries, pruned)
    found: list                     # (1-based execution in the unit, violation, tape): the first of each invariant
    complete: bool = False          # ran out: its chunk or its whole subtree
    truncated: bool = False
    children: list = field(default_factory=list)   # units it handed over (subtrees)
    prints: list = field(default_factory=list)     # with stats: terminal state fingerprint per execution
    seen: list = field(default_factory=list)       # with stats: points known after each execution
    points: list = field(default_factory=list)     # with stats: points in the order first stepped from
    elapsed: float = 0.0


def seed_of(seed: int, member: int, chunk: int) -> int:
    """A chunk's seed: independent streams per (seed, member, chunk), the same in any process."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{member}/{chunk}".encode()).digest()[:8], "big")


def first_units(spec: Spec) -> list[Unit]:
    """The subtree roots: one per tree member (the samplers' chunks are made on demand)."""
    out = []
    for m, (name, _) in enumerate(spec.members()):
        if name in TREES:
            out.append(Unit(_key(spec, m, ()), m, path=()))
    return out


def samplers(spec: Spec) -> list[int]:
    return [m for m, (name, _) in enumerate(spec.members()) if name not in TREES]


def chunk_unit(spec: Spec, member: int, chunk: int) -> Unit:
    key = (chunk, member, ()) if spec.strategy == "portfolio" else (chunk,)
    return Unit(key, member, chunk)


def _key(spec: Spec, member: int, path: tuple) -> tuple:
    # portfolio: a hand-over waits a round more per sibling before it, so that DPOR's units per round grow
    # slowly and the samplers keep about their share of a budget, as when members took turns
    return (len(path) + sum(path), member, path) if spec.strategy == "portfolio" else path


_prepared: set = set()


def prepare(load=(), path=()) -> None:
    """Make a worker process able to rebuild scenarios by name: sys.path and --load modules."""
    for p in path:
        if p not in sys.path:
            sys.path.insert(0, p)
    for name in load:
        if name not in _prepared:
            registry.all_scenarios()
            registry.load_module(name)
            _prepared.add(name)


def _build(spec: Spec, unit: Unit):
    name, opts = spec.members()[unit.member]
    if unit.tree:
        resume = [tuple(s) for s in unit.state] or None
        strat = strategies.make(name, **opts, resume=resume)
        d = strat.describe()
    else:
        seed = seed_of(spec.seed, unit.member, unit.chunk)
        strat = strategies.make(name, seed, **opts)
        d = {**strat.describe(), "chunk": unit.chunk}
        if spec.strategy != "portfolio":
            d = {**d, "seed": spec.seed, "chunk_seed": seed}
    if spec.strategy == "portfolio":
        d = {"name": "portfolio", "seed": spec.seed, "member": d}
    return strat, d


class _PerExecution(Observed):
    """Observed, kept per execution, so that a result cut short by the budget counts exactly."""

    def __init__(self, inner):
        super().__init__(inner)
        self.points = _Ordered()
        self.prints: list = []
        self.seen: list = []

    def end_execution(self, view) -> None:
        self.inner.end_execution(view)
        self.prints.append(fingerprint(view))
        self.seen.append(len(self.points))


class _Ordered(dict):
    """A set that remembers insertion order (the kernel calls `add`)."""
    add = dict.setdefault


def run_unit(spec: Spec, unit: Unit, scenario=None, on_execution=None) -> UnitResult:
    """Run one unit. `scenario`: the object itself (in-process); else rebuilt from its name.
    `on_execution(kernel)` sees every execution (in-process only; tests)."""
    if scenario is None:
        prepare(spec.load, spec.path)
        scenario = registry.get(spec.scenario)
    strat, described = _build(spec, unit)
    driver = _PerExecution(strat) if spec.stats else strat
    limit = spec.split if unit.tree else spec.chunk
    if unit.tree and spec.preemptions is not None:
        limit = None  # iterative bounding restarts from the root each round: it cannot be split
    eng = engines.make(spec.engine)
    rows, found, seen_inv = [], [], set()
    check, stop, past = spec.check_footprints, spec.stop_on_violation, spec.past
    out = UnitResult(unit.key, described, rows, found)
    stopped = False

    def loop():
        t0 = time.perf_counter()
        execute = eng.execute
        ends = getattr(driver.end_execution, "__func__", None) is not strategies.Strategy.end_execution
        append = rows.append
        while limit is None or len(rows) < limit:
            if not driver.next_execution():
                out.complete = True
                break
            k = execute(scenario, driver, False, check)
            if ends:
                driver.end_execution(k.view())
            append((k.step, len(k.tape), k.crashes, k.redeliveries, k.pruned))
            if on_execution is not None:
                on_execution(k)
            v = k.violation
            if v is not None and v.invariant not in seen_inv:
                seen_inv.add(v.invariant)
                found.append((len(rows), v, k.tape))
                if stop and v.invariant not in past:  # the fold bounds how far past an expected one
                    stopped = True
                    break
        out.elapsed = time.perf_counter() - t0

    eng.host(loop)
    out.complete = out.complete or (not unit.tree and len(rows) == limit) or strat.complete
    out.truncated = bool(strat.truncated)
    if unit.tree and not out.complete and not stopped:
        out.children = _split(spec, unit, strat.unit_state())
    if spec.stats:
        out.prints, out.seen, out.points = driver.prints, driver.seen, list(driver.points)
    return out


# ---- handing over the rest of a subtree -------------------------------------------------------

def _split(spec: Spec, unit: Unit, state: list) -> list[Unit]:
    """The rest of a subtree as units: its own continuation first, then the untried options at its
    shallowest open choice, each a subtree of its own; that choice is frozen in all of them."""
    cut = _open_choice(state)
    if cut is None:  # nothing open but the path being continued (cannot happen with a next path)
        return [Unit(_key(spec, unit.member, unit.path + (0,)), unit.member, state=tuple(state),
                     path=unit.path + (0,))]
    p, untried = cut
    prefix = [_frozen(s) for s in state[:p]]
    states = [prefix + [_frozen(state[p])] + state[p + 1:]]
    states += [prefix + [_handed(state[p], j, untried[:i])] for i, j in enumerate(untried)]
    out = []
    for i, st in enumerate(states):
        path = unit.path + (i,)
        out.append(Unit(_key(spec, unit.member, path), unit.member, state=tuple(st), path=path))
    return out


def _open_choice(state: list):
    """(position, untried options) of the shallowest unfrozen choice that has untried options."""
    for p, s in enumerate(state):
        if s[0] == "s":   # DPOR step: options not done, not taken, not asleep
            _, n, chosen, done, _, asleep, frozen = s
            untried = [] if frozen else [i for i in range(n) if i != chosen and i not in done and i not in asleep]
        elif s[0] == "d":  # DPOR data choice: values after the current one
            _, n, value, two, frozen = s
            untried = [] if frozen else ([n - 1] if two and value == 0 else [] if two else list(range(value + 1, n)))
        else:              # DFS: (n, values, index)
            _, vals, k = s
            untried = list(vals[k + 1:])
        if untried:
            return p, untried
    return None


def _frozen(s):
    if s[0] == "s":
        return s[:6] + (True,)
    if s[0] == "d":
        return s[:4] + (True,)
    n, vals, k = s
    return (n, (vals[k],), 0)


def _handed(s, j, before):
    """Choice `s` taking untried option (DFS: value) j; in DPOR the options explored or handed over
    before it count as done, so they sleep in j's subtree while independent of it."""
    if s[0] == "s":
        _, n, chosen, done, _, asleep, _ = s
        return ("s", n, j, tuple(sorted({*done, chosen, *before})), (), asleep, True)
    if s[0] == "d":
        return ("d", s[1], j, s[3], True)
    return (s[0], (j,), 0)


def default_jobs() -> int:
    return os.cpu_count() or 1
