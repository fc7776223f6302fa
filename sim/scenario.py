"""Scenarios (a system to explore plus what must hold) and the invariants they check."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from sim.reads import declare

Predicate = Callable[[Any], Any]  # returns None/True when it holds, False or a message when not


@dataclass(frozen=True)
class Invariant:
    """A named predicate and when it is checked; made by `always`, `at_end` or `eventually`.

    The predicate gets the state `setup` returned and returns None/True (holds),
    False or a message (violated).

    Example: `sim.at_end("I-TOTAL", lambda bank: bank.total() == 200 or f"total {bank.total()}")`.
    """
    name: str
    fn: Predicate
    when: str            # "always" | "at_end" | "eventually"
    within: int | None = None
    reads: Any = None   # what the predicate reads (None: all): keys, a callable of the state, or keys_where (sim.reads)
    livelock: bool = False   # at_end only: also checked at the step limit, naming a livelock (see at_end)


def always(name: str, fn: Predicate, reads=None) -> Invariant:
    """Checked after every step. `reads`: the footprint keys the predicate looks at (see sim.reads):
    a collection of keys, a callable giving them from the state setup returned, or `keys_where(pred)`.

    Declaring them lets DPOR treat writes to other keys as invisible to this
    invariant, and the kernel re-evaluate it only after a step that wrote one of
    them; without it every write is assumed visible (sound, less reduction).

    Example: `sim.always("I-FENCE", tokens_never_go_down, reads=(("storage", "accepted"),))`."""
    return Invariant(name, fn, "always", reads=declare(reads))


def at_end(name: str, fn: Predicate, livelock: bool = False) -> Invariant:
    """Checked once, at quiescence (nothing can run and no timer is pending).

    `livelock=True` makes it a progress property: it is also checked when an execution reaches the
    step limit without quiescence (the bounded stand-in for a run that goes on forever), and a violation
    there is named by this invariant ("no quiescence after N steps: ...") instead of the built-in
    `livelock`, which stays the verdict when every such invariant holds at the limit. Use it for "every
    request is eventually answered": a retry loop that never ends then names the request it starves.

    Example: `sim.at_end("I-DURABLE", lambda st: st["table"].peek("x") == 1 or "x lost")`."""
    return Invariant(name, fn, "at_end", livelock=livelock)


def eventually(name: str, fn: Predicate, within: int | None = None, reads=None) -> Invariant:
    """Must hold at quiescence; with `within=N`, may also never stay false for more than N steps in a row.
    `reads` as for `always`.

    Example: `sim.eventually("I-SETTLED", lambda st: not st["pending"] or f"{st['pending']}", within=50)`."""
    return Invariant(name, fn, "eventually", within, declare(reads))


@dataclass(frozen=True)
class Faults:
    """The fault budget of one execution: at most `crashes` process crashes and `redeliveries`
    redelivery faults (an in-flight message delivered again while its consumer still runs).

    `crashable`: the names of the processes that may crash (empty: every process); `crash_at`:
    shell-style patterns (fnmatch) of step labels a crash may come just before (empty: any step),
    so a crash of P is offered only while one of P's actors is parked at a matching point.

    Example: `sim.Scenario("wal", setup, faults=sim.Faults(crashes=1))`."""
    crashes: int = 0
    redeliveries: int = 0
    crashable: tuple = ()
    crash_at: tuple = ()

    def __post_init__(self):
        for name in ("crashable", "crash_at"):
            v = getattr(self, name)
            if isinstance(v, str) or not all(isinstance(x, str) for x in v):
                raise ValueError(f"Faults({name}=...) takes a tuple of strings, got {v!r}")
            object.__setattr__(self, name, tuple(v))

    def describe(self) -> str:
        out = f"{self.crashes} crash(es), {self.redeliveries} redelivery(ies)"
        if self.crashable:
            out += f" of {', '.join(self.crashable)}"
        if self.crash_at:
            out += f" at {', '.join(self.crash_at)}"
        return out

    def recorded(self) -> dict:
        """As a trace records it: the targeting only when used, so other traces keep their digests."""
        out = {"crashes": self.crashes, "redeliveries": self.redeliveries}
        if self.crashable:
            out["crashable"] = list(self.crashable)
        if self.crash_at:
            out["crash_at"] = list(self.crash_at)
        return out


# what `expect` may name besides the scenario's invariants: the kernel's own verdicts
BUILTIN_VERDICTS = frozenset({"hold", "deadlock", "livelock", "uncaught-exception", "footprint"})


@dataclass(frozen=True)
class Scenario:
    """A system (built by `setup(k)`, `k` the kernel of the execution, which returns the state invariants inspect) and its invariants.

    `expect` documents the verdict: "hold", or the name of the invariant a
    known bug breaks, or several names joined by "|" when the workload reaches
    more than one known bug and the schedule decides which shows first; `bug`
    names the bug(s) (ids of the user's catalogue).
    `factory`, if given, rebuilds the scenario with other parameters:
    `factory(**params)` returns a Scenario; its keyword parameters are the
    scenario's parameters, and `params` holds the values this one was built with
    (see sim.variants: `--param`, names like `NAME[k=v]`).
    `model` names the model the workload runs against (`world:revision`), and
    `revision` the version of the model's code: a trace recorded from another
    revision is reported as such when its replay diverges.

    `budget`, if given, is how many executions the main job (`explore` without
    --budget or --time) spends on this scenario instead of the default: set from
    measurement (benchmarks/seed_matrix.py) where a known bug is found late for some
    seeds, so that every seed finds it.

    An invariant may have an `always` and an `at_end` part under one name (a
    bound in every state, an exact count at quiescence).

    Example (a module loaded with `--load`; `SCENARIOS` is what it registers):

    ```python
    def setup(k):                                       # k: the kernel of this execution
        st = {"n": 0}

        async def inc():
            await sim.point("read n", reads=("n",))
            v = st["n"]
            await sim.point("write n", writes=("n",))
            st["n"] = v + 1

        for i in range(2):
            k.process(f"w{i}", lambda p: p.spawn("inc", inc))
        return st                                       # what invariants get

    SCENARIOS = [sim.Scenario("counter", setup, expect="I-N",
                              invariants=(sim.at_end("I-N", lambda st: st["n"] == 2),))]
    ```
    """
    name: str
    setup: Callable[[Any], Any]
    invariants: tuple[Invariant, ...] = ()
    faults: Faults = Faults()
    max_steps: int = 2_000
    revision: str = "1"
    expect: str = "hold"
    description: str = ""
    params: dict = field(default_factory=dict)
    model: str = ""
    bug: str = ""
    budget: int | None = None
    factory: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    always: tuple[Invariant, ...] = field(init=False, repr=False)
    at_end: tuple[Invariant, ...] = field(init=False, repr=False)
    eventually: tuple[Invariant, ...] = field(init=False, repr=False)

    def __post_init__(self):
        invs = tuple(self.invariants)
        object.__setattr__(self, "invariants", invs)
        object.__setattr__(self, "always", tuple(i for i in invs if i.when == "always"))
        object.__setattr__(self, "at_end", tuple(i for i in invs if i.when == "at_end"))
        object.__setattr__(self, "eventually", tuple(i for i in invs if i.when == "eventually"))
        if self.budget is not None and (not isinstance(self.budget, int) or self.budget < 1):
            raise ValueError(f"scenario {self.name}: budget must be a whole number >= 1, got {self.budget!r}")
        names = [(i.name, i.when) for i in invs]
        if len(set(names)) != len(names):
            dup = sorted({n for n, w in names if names.count((n, w)) > 1})
            raise ValueError(f"scenario {self.name}: invariant(s) {', '.join(dup)} declared twice for the same check")

    def check_expect(self) -> None:
        """ValueError unless every verdict `expect` names is "hold", a built-in verdict or one of the
        scenario's invariants: a misspelt expectation would make every run a mismatch, or hide one.
        Checked when a scenario is registered (a copy made with `dataclasses.replace` to count
        schedules without invariants need not be consistent)."""
        known = {i.name for i in self.invariants} | BUILTIN_VERDICTS
        wrong = [v for v in self.expect.split("|") if v not in known]
        if wrong:
            raise ValueError(f"scenario {self.name}: expect={self.expect!r}: {', '.join(map(repr, wrong))} is neither "
                             f"'hold', a built-in verdict, nor one of its invariants "
                             f"({', '.join(sorted({i.name for i in self.invariants})) or 'none'})")

    def expects(self, verdict: str) -> bool:
        """Is `verdict` ("hold" or the violated invariant's name) what this scenario expects?"""
        return verdict in self.expect.split("|")

    @property
    def workload(self) -> str:
        """The name without its model or variant: `hook-pairs@local:B3[pairs=1]` -> `hook-pairs`."""
        return self.name.split("[", 1)[0].split("@", 1)[0]


@dataclass(frozen=True)
class ModelInfo:
    """A model revision a module offers, for `sim list`: `name` like `local:B3`, the bugs its code has.

    Example: `sim.ModelInfo("kv:no-replay", "recovery trusts the table", bugs=("KV1",))`."""
    name: str
    summary: str
    bugs: tuple = ()
    parent: str = ""
    aliases: tuple = ()
