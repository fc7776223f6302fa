"""One execution: actors, processes, the virtual clock, faults and the decision loop.

The decision loop (`Kernel.steps`) is a generator shared by every engine: it
yields the actor that must run (or be killed) next, and the engine does only that,
by `coro.send` (fast engine) or by releasing a parked trio task (task engine).
Keeping the scheduling logic in one place is what makes the engines' traces
byte-identical for the same tape.

Scheduling model: an actor is parked at a point (`runtime.point` / `runtime.wait`)
that declares the footprint of its next atomic step. At each decision the options
are, in this order (index 0 = no deviation):

    run options   the current actor first if enabled, then the other enabled
                  actors in spawn order;
    time          advance the clock to the next timer while actors can still run
                  (only when some actor sleeps or waits with a timeout; a background
                  timer only while the foreground is active, see _background_time);
                  the jump stops at a visibility timeout of a message a consumer
                  holds (Queue timed_redelivery), which makes it visible again;
    redeliver m   deliver an in-flight message again (at-least-once), if the
                  redelivery budget allows;
    crash P       crash process P, if the crash budget allows.

A choice with a single option is not asked (and not on the tape).
"""
from __future__ import annotations

import inspect
import traceback
from fnmatch import fnmatchcase
from dataclasses import dataclass
from typing import Any, Callable

from sim import footprint, runtime, ulids, watch
from sim.tape import STEP, Divergence
from sim.trace import LogEntry
from sim.tape import ULID as ULID_BITS
from sim.store import covers, with_ranges
from sim.view import View

NEW, DONE = 0, 2
ULID_EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: ULIDs look real, never depend on the wall clock


class Crashed(BaseException):
    """Thrown into every actor of a crashing process (a BaseException so `except Exception` can't swallow it).

    Catch it only to re-raise it (`finally` blocks run; a dead process releases nothing itself).

    Example: `except sim.Crashed: raise`."""


class Actor:
    """A simulated task. Slots, all set in __init__: the step loop reads these every step, and
    a slot read is a specialised fast path where a class-default fallback is a dict miss."""

    __slots__ = ("id", "name", "process", "coro", "state", "label", "reads", "writes", "guard", "deadline",
                 "idle", "timed_out", "crashing", "error", "task", "scope", "born", "fp",
                 "bg", "background", "fired")

    def __init__(self, aid: int, name: str, process: "Process", coro):
        self.id = aid
        self.name = name
        self.process = process
        self.coro = coro
        self.state = NEW
        self.label = "start"  # the next step: its label and footprint, declared at the point
        self.reads = ()
        self.writes = ()
        self.guard = None     # blocked until guard() is true ...
        self.deadline = None  # ... or the clock reaches deadline
        self.idle = False     # blocked waiting for work: not a deadlock
        self.timed_out = False
        self.crashing = False
        self.error = None
        self.task = None      # trio-task engine only
        self.scope = None     # uncontrolled mode only
        self.born = 0         # the step that spawned it (0: setup): its first step happens after that one
        self.fp = None        # the footprint of its next step, once computed (reset at every point)
        self.bg = None        # the deadline of the background timer it waits on (see Kernel._background_time)
        self.background = False  # it has waited on a background timer: its steps re-arm no background timer
        self.fired = -1       # the step whose clock jump last fired its background timer

    def __repr__(self):
        return f"<Actor {self.name}>"


class Process:
    """A simulated OS process: its actors and volatile state die together on a crash.

    `k.process(name, start, restart=True)` in setup makes one; `start(p)` spawns its actors
    and runs again after a crash (restart). `p.volatile` is its memory of this incarnation.

    Example: `k.process("server", lambda p: p.spawn("recover", recover, p))`."""

    kind = "crash"
    # no reference to the kernel: a Kernel<->Process cycle made every execution cyclic garbage (-15% speed)
    __slots__ = ("name", "prefix", "index", "start", "restart", "actors", "_volatile", "incarnation", "alive")

    def __init__(self, name: str, index: int, start, restart: bool):
        self.name = name
        self.prefix = name + "/"   # of its actors' names; "name#k/" after the k-th restart
        self.index = index
        self.start = start
        self.restart = restart
        self.actors: list[Actor] = []
        self._volatile = None
        self.incarnation = 0
        self.alive = True

    @property
    def volatile(self) -> dict:
        """In-memory state of this incarnation (dropped by a crash); created on first use.

        Example: `p.volatile["next_seq"] = 1` (gone after a crash: recovery must rebuild it)."""
        v = self._volatile
        if v is None:
            v = self._volatile = {}
        return v

    def spawn(self, name: str, fn, *args) -> Actor:
        """Start an actor in this process; it runs to its first point when the current step ends."""
        k = runtime._kernel
        if k is None or not self.alive:
            raise runtime.SimUsageError(f"process {self.name} is not running")
        a = Actor(k._next_actor_id, self.prefix + name, self, fn(*args))
        a.born = k.step
        k._next_actor_id += 1
        self.actors.append(a)
        k.pending.append(a)
        return a

    def __repr__(self):
        return f"<Process {self.name}>"


class _Time:
    kind = "time"


TIME = _Time()


@dataclass(frozen=True)
class Violation:
    """An invariant (or a built-in verdict: deadlock, livelock, uncaught-exception, footprint)
    broken at `step`, with the predicate's message.

    Example: `res = sim.explore(scn, sim.DFS()); print(res.violation.invariant, res.violation.message)`."""
    invariant: str
    step: int
    message: str

    def describe(self) -> str:
        from sim.tracemodel import describe_violation
        return describe_violation(self.invariant, self.step, self.message)


class Kernel:
    """State of one execution. Built fresh for every execution (cheap: a few objects)."""

    # What a typical execution never writes stays a class default, and containers most
    # scenarios never use are shared empty tuples until first use: a kernel is built per
    # execution. What the step loop reads every step is set in __init__ (a class-default read
    # is a dict miss on every access).
    fatal: BaseException | None = None   # a strategy error raised inside an actor's step
    crashes = 0
    redeliveries = 0
    timed_redeliveries = 0           # messages a slow consumer held past their visibility timeout
    fg_step = 0                      # the last step of a foreground actor (background timers only)
    state: Any = None
    queues: list | tuple = ()
    locks: list | tuple = ()
    tape_kinds: list | tuple = ()    # record mode only, like the log
    tape_ns: list | tuple = ()
    log: list | tuple = ()           # one LogEntry per step (sim.trace)
    _next_actor_id = 0
    _ulid_counter = 0
    observe = None                   # strategy.before_step / after_step, for strategies that track steps
    observe_after = None
    touched = None                   # (reads, writes) of sim-managed keys in the current step, when wanted
    pruned = False                   # the strategy ended this execution early as redundant
    recorded_reads = None            # --check-footprints: the store keys the invariant being evaluated read
    false_for = None                 # per `eventually` invariant: steps it has been false in a row (path state)
    # True: evaluate every always/eventually invariant after every step, not only after a step that
    # wrote what it declares it reads (sim.watch): the reference the incremental check is tested against
    check_every_step = False
    scanning = False                 # a Store(scans=True) exists: declared writes imply range keys (sim.store)
    targets = None                   # Faults(crashable=, crash_at=): (process names, label patterns), when used

    def __init__(self, scenario, strategy, record: bool = False, check_footprints: bool = False):
        self.scenario = scenario
        self.strategy = strategy
        self.record = record
        self.now = 0
        self.step = 0
        self.current: Actor | None = None     # the actor option 0 keeps running
        self.running: Actor | None = None     # the actor executing right now (also while starting or dying)
        self.violation: Violation | None = None
        self.unawaited: Actor | None = None    # made a point not yet awaited (runtime.point)
        self.actors: list[Actor] = []          # parked or new actors, spawn order
        self.pending: list[Actor] = []         # spawned, not yet run to their first point
        self.processes: list[Process] = []
        self._process_names: dict[str, Process] = {}
        self.options: list = []
        self.tape: list[int] = []
        if record:
            self.tape_kinds = []
            self.tape_ns = []
            self.log = []
        self.check_footprints = check_footprints
        self.stores: dict = {}               # sim-managed stores by name (their keys are (name, k))
        self.background: list[Actor] = []    # actors parked at a background timer (runtime.sleep(background=True))
        # (actor, label) of every actor step go into the strategy's `points` set, if it has one
        self.points = strategy.points
        if strategy.tracks:
            self.observe = strategy.before_step
            self.observe_after = strategy.after_step
        if self.observe is not None or check_footprints or (
                not self.check_every_step and any(i.reads is not None for i in scenario.always + scenario.eventually)):
            self.touched = (set(), set())   # incremental invariant checking reads the step's writes from it
        f = scenario.faults
        self.max_crashes = f.crashes
        self.max_redeliveries = f.redeliveries
        if f.crashes and (f.crashable or f.crash_at):
            self.targets = (frozenset(f.crashable), f.crash_at)

    def add_queue(self, q) -> None:
        if not self.queues:
            self.queues = []
        self.queues.append(q)

    def add_lock(self, lock) -> None:
        if not self.locks:
            self.locks = []
        self.locks.append(lock)

    # ---- building (scenario setup and actors) -------------------------------------------

    def process(self, name: str, start: Callable[[Process], Any] | None = None, restart: bool = True) -> Process:
        if name in self._process_names:
            raise runtime.SimUsageError(f"duplicate process name {name!r}")
        p = Process(name, len(self.processes), start, restart)
        self.processes.append(p)
        self._process_names[name] = p
        if start is not None:
            _start(p)
        return p

    def spawn(self, proc: Process, name: str, fn, args) -> Actor:
        return proc.spawn(name, fn, *args)

    # ---- the actor-facing API (runtime.* dispatch here) --------------------------------

    direct = False  # True: actors park by a bare yield to an engine that resumes them with coro.send

    def park(self, a):
        """Engine-specific: an iterator that `runtime.point` yields from to park `a` until resumed.

        Not called on the fast engine (`direct`), where points yield straight to the loop."""
        raise NotImplementedError

    def choose(self, kind: str, n: int, label) -> int:
        if n <= 1:
            if n == 1:
                return 0
            raise runtime.SimUsageError(f"choose({kind!r}, {n}) needs n >= 1")
        try:
            v = self.strategy.choose(kind, n, label)
        except BaseException as e:
            # A divergence or a nondeterministic model must end the run even if actor code
            # catches it: the engine re-raises `fatal` when the execution stops.
            if isinstance(e, Divergence) and e.step is None:
                e.step = self.step
                e.log = getattr(self, "log", None)
            if self.fatal is None:
                self.fatal = e
            raise
        self.tape.append(v)
        if self.record:
            self.tape_kinds.append(kind)
            self.tape_ns.append(n)
        return v

    def note(self, text: str) -> None:
        if self.log:
            self.log[-1].notes.append(text)

    def ulid(self) -> str:
        hi = self.choose(ULID_BITS, 1 << 16, "ulid order")
        self._ulid_counter += 1
        value = ((ULID_EPOCH_MS + self.now) << 80) | (hi << 64) | self._ulid_counter
        return ulids.text(value)

    # ---- the decision loop ------------------------------------------------------------

    def _retire(self, a: Actor) -> None:
        if a in self.actors:  # not yet there if it finished while being started
            self.actors.remove(a)
        a.process.actors.remove(a)
        if a.error is not None and self.violation is None:
            e = a.error
            self.violation = Violation("uncaught-exception", self.step,
                                       f"{a.name} raised {type(e).__name__}: {e}")

    def steps(self):
        """Generator: yields each actor to resume (or kill, if `actor.crashing`).

        With `self.direct`, actors taking a step are resumed here by `coro.send`
        and only starts and kills are yielded (the fast engine's hot path).
        """
        try:
            yield from self._steps()
            if self.unawaited is not None:   # the last point an actor made was never awaited
                raise runtime.UnawaitedPoint(runtime.unawaited_message(self.unawaited))
        finally:
            self.options.clear()  # an ended execution offers nothing (a strategy's end view must not see stale options)

    # One turn of the loop is one step, in phases:
    #   start       actors spawned by setup or by the last step run to their first point
    #   after       the strategy's record of the last step; its footprint checked (--check-footprints)
    #   check       the invariants of the state it left (_Checks); the step limit
    #   options     enabled actors (current first), then time, redeliveries, crashes
    #   quiescence  no option: a queue timer fires (a step of its own), or the execution ends (_end)
    #   decide      the strategy picks an option (a single one is not asked, nor on the tape)
    #   begin       the step is numbered; what it touches is recorded afresh; the strategy is told
    #   run         an actor's step, a clock jump, a crash or a redelivery
    # This loop is where an exploration spends its time: what runs every step on the fast engine
    # (the options of the actors, the begin phase, resuming the actor) stays inline, as locals; a
    # method costs a call and its attribute reads per step. A phase that runs only sometimes (a
    # start, a fault, quiescence, record mode) or that calls out anyway (invariants, the strategy)
    # is a method.

    def _steps(self):
        state = self._setup()
        checks = _Checks.of(self, state)   # None: no always/eventually invariant
        opts = self.options
        rec = self.record
        max_steps = self.scenario.max_steps
        actors = self.actors
        pending = self.pending
        tape = self.tape
        faults = self.max_crashes > 0 or self.max_redeliveries > 0
        direct = self.direct
        observe = self.observe
        after = self.observe_after is not None or self.check_footprints
        touched = self.touched
        check_footprints = self.check_footprints
        watching = checks.watching if checks is not None else None
        points = self.points
        view = View(self)  # what the strategy sees of this execution (see sim.view)
        declared = None  # (actor, reads, writes, label) of the last actor step, when footprints are checked
        extra = None     # incremental checking: what the last step wrote beyond `touched` (sim.watch)
        background = self.background
        step = 0
        o = None     # the last step's option (read only with background timers)
        i = n_run = 0
        while True:
            # -- start
            if pending:
                yield from self._start_pending()
            # -- after (before any return: a strategy's record of the step must be complete even when
            # the step ended the execution, as an uncaught exception does)
            if after and step:
                self._after_step(view, declared)
            if self.violation is not None:
                return
            # -- check: the initial state too ("always" means every reachable state, and skipping the
            # first would make verdicts depend on stuttering)
            if checks is not None:
                v = checks.violation(step, extra)
                if v is not None:
                    self.violation = v
                    return
                extra = None
            if step >= max_steps:
                self.violation = step_limit_violation(self.scenario, state, step)
                return
            # -- options
            now = self.now
            cur = self.current
            opts.clear()
            next_deadline = None
            for a in actors:
                g = a.guard
                if g is not None and not g():
                    d = a.deadline
                    if d is None:
                        continue
                    if d > now:
                        if next_deadline is None or d < next_deadline:
                            next_deadline = d
                        continue
                if a is cur:
                    opts.insert(0, a)
                else:
                    opts.append(a)
            if background:   # before n_run is renewed: `i < n_run` still says whether o was an actor step
                next_deadline = self._background_time(next_deadline, o if i < n_run else None)
            n_run = view.n_run = len(opts)
            if next_deadline is not None:
                opts.append(TIME)
            if faults:
                self._fault_options(opts)
            n = len(opts)
            # -- quiescence
            if n == 0:
                if self.queues and self._fire_queue_timers():
                    step = self.step
                    extra = watch.ALL
                    o = None
                    continue
                self._end()
                return
            # -- decide
            i = self._decide(n, view) if n > 1 else 0
            o = opts[i]
            # -- begin
            step += 1
            self.step = step
            if touched is not None:
                touched[0].clear()
                touched[1].clear()
                if check_footprints:
                    declared = self._declared(o) if i < n_run else None
            if watching is not None:
                extra = watching.before(self, o, i < n_run)
            if observe is not None:
                observe(view, i, len(tape) - 1 if n > 1 else -1)
            # -- run
            if i < n_run:
                self.current = o
                if points is not None:
                    points.add((o.name, o.label))
                if o.guard is not None:
                    o.timed_out = not o.guard()
                    o.guard = None
                    o.deadline = None
                    o.idle = False
                if rec:
                    self._log_run(o, cur, i, now)
                self.running = o
                if direct:  # fast engine: resume the coroutine here, saving a generator switch per step
                    try:
                        y = o.coro.send(None)
                    except StopIteration:
                        o.state = DONE
                        actors.remove(o)  # _retire, inlined: an actor that ran a step is in both lists
                        o.process.actors.remove(o)
                    except KeyboardInterrupt:
                        raise
                    except BaseException as e:   # SystemExit too: a model never ends sim's process
                        o.state = DONE
                        o.error = e
                        self._retire(o)
                    else:
                        if y is not None:
                            _foreign_await(o)
                else:
                    yield o
                    if o.state == DONE:
                        self._retire(o)
            elif o is TIME:
                self._advance(next_deadline)
            elif o.kind == "crash":
                yield from self._crash(o)
            else:
                self._redeliver(o)

    def _setup(self):
        """The scenario's setup builds the initial state, its processes and their first actors."""
        try:
            self.state = state = self.scenario.setup(self)
        except runtime.SimUsageError:
            raise
        except MODEL_ERRORS as e:
            raise _model_error("setup", e) from e
        if self.targets is not None:
            self._check_targets()
        return state

    def _start_pending(self):
        """Actors spawned by setup or by the last step run to their first point, in spawn order
        (a generator: the task engine runs them, the fast engine here)."""
        pending = self.pending
        while pending:
            a = pending.pop(0)
            self.running = a
            if self.direct:
                try:
                    y = a.coro.send(None)
                except StopIteration:
                    a.state = DONE
                except KeyboardInterrupt:
                    raise
                except BaseException as e:   # SystemExit too: a model never ends sim's process
                    a.state = DONE
                    a.error = e
                else:
                    if y is not None:
                        _foreign_await(a)
            else:
                yield a
            if a.state == DONE:
                self._retire(a)
            else:
                self.actors.append(a)

    def _after_step(self, view, declared) -> None:
        """The strategy records what the last step really touched; under --check-footprints, the step
        must have touched only what it declared."""
        if self.observe_after is not None:
            self.observe_after(view)
        if declared is not None and self.violation is None:
            self._check_footprint(declared)

    def _fault_options(self, opts: list) -> None:
        """Redeliveries and crashes the fault budget still allows, after the other options."""
        if self.redeliveries < self.max_redeliveries:
            for q in self.queues:
                q.redelivery_options(opts)
        if self.crashes < self.max_crashes:
            if self.targets is None:
                for p in self.processes:
                    if p.alive and any(not x.idle for x in p.actors):
                        opts.append(p)
            else:
                self._targeted_crashes(opts)

    def _decide(self, n: int, view) -> int:
        """The strategy's pick among `n` options, put on the tape."""
        try:
            i = self.strategy.choose(STEP, n, view)
        except Divergence as d:
            d.step = self.step + 1  # the step being decided
            d.log = getattr(self, "log", None)   # what ran before it, so replay can name the first differing step
            raise
        self.tape.append(i)
        if self.record:
            self.tape_kinds.append(STEP)
            self.tape_ns.append(n)
        return i

    def _declared(self, o: Actor):
        """What an actor's step declares it touches, to check against what it does (--check-footprints)."""
        return o, footprint.declared(self, o.reads), footprint.declared(self, o.writes), o.label

    def _log_run(self, o: Actor, cur: Actor | None, i: int, now: int) -> None:
        # a reader of the trace must see where the schedule switched away from an actor that could
        # go on: that is where a counterexample's race is
        notes = [f"preempts {cur.name}"] if i and cur is not None and self.options[0] is cur else []
        self.log.append(LogEntry.run(self.step, now, o.name, o.process.name, o.label,
                                     footprint.declared(self, o.reads), footprint.declared(self, o.writes), notes))

    def _redeliver(self, m) -> None:
        """An in-flight message is delivered again (at-least-once), spending the redelivery budget."""
        self.redeliveries += 1
        if self.record:
            c = m.consumer
            self.log.append(LogEntry.redeliver(self.step, self.now, c.name, c.process.name, m.describe(), m.queue.key))
        m.redeliver(self)

    def _targeted_crashes(self, opts: list) -> None:
        """Crash options of a scenario that names which processes may crash, or before which steps."""
        names, labels = self.targets
        for p in self.processes:
            if p.alive and (not names or p.name in names) and any(
                    not x.idle and (not labels or any(fnmatchcase(x.label, pat) for pat in labels))
                    for x in p.actors):
                opts.append(p)

    def _check_targets(self) -> None:
        known = {p.name for p in self.processes}
        unknown = sorted(self.targets[0] - known)
        if unknown:
            raise runtime.SimUsageError(
                f"Faults(crashable=...) names no process of {self.scenario.name}: {', '.join(unknown)} "
                f"(its processes: {', '.join(sorted(known)) or 'none'})")

    def can_crash(self, p: Process) -> bool:
        """May `p` ever crash in this execution (the scenario's `crashable`)?"""
        return self.targets is None or not self.targets[0] or p.name in self.targets[0]

    def _advance(self, deadline: int) -> None:
        """The clock jumps to the next timer: an actor's, or a message's visibility timeout while a
        consumer holds it (sim.primitives.Queue, timed_redelivery), whichever comes first."""
        now = self.now
        for q in self.queues:
            d = q.held_deadline()
            if d is not None and d < deadline:
                deadline = d
        if self.record:
            self.log.append(LogEntry.time(self.step, now, deadline))
        self.now = deadline
        for q in self.queues:
            q.expire_held(self)
        if self.background:
            self._wake_background()

    def _background_time(self, nxt, prev) -> int | None:
        """The next timer the clock may jump to, given background timers (`sleep(t, background=True)`).

        A background timer keeps nothing alive: the clock jumps to it only while the foreground has
        something left to do (a foreground actor can run, waits on a timer, or is blocked in a wait that is
        not idle), and for each background actor at most once between two steps of foreground actors
        (those that never waited on a background timer). That bounds its firings by the foreground's
        steps, so a run whose foreground is done is quiescent. A timer not taken fires late: when the clock
        passes it for another reason. `prev`: the actor that took the last step, if an actor did."""
        if prev is not None and not prev.background:
            self.fg_step = self.step
        bg = self.background
        live = [a for a in bg if a.bg is not None and a.guard is not None and a.state != DONE]
        if len(live) != len(bg):
            bg[:] = live
        fg = self.fg_step
        due = None
        for a in live:
            if a.fired < fg and (due is None or a.bg < due):
                due = a.bg
        if due is None:
            return nxt
        if nxt is not None:
            return min(nxt, due)
        if any(not a.idle and not a.background for a in self.actors):
            return due
        return None

    def _wake_background(self) -> None:
        """Background timers the clock has reached fire: their actors are enabled."""
        now = self.now
        for a in self.background:
            if a.bg is not None and a.bg <= now and a.guard is not None and a.state != DONE:
                a.deadline = a.bg
                a.bg = None
                a.fired = self.step

    def park_background(self, a: Actor) -> None:
        if a not in self.background:
            self.background.append(a)

    def _check_footprint(self, declared) -> None:
        """Every managed key the step touched must be in what its point declared (debug mode)."""
        a, reads, writes, label = declared
        r, w = self.touched
        if self.scanning:
            writes = with_ranges(self.stores, writes)
        reads = set(reads)
        r = r - reads - set(writes)
        if self.scanning:
            r = {k for k in r if not covers(self.stores, reads, k)}
        bad = sorted(map(str, (w - set(writes)) | r))
        if bad:
            self.violation = Violation("footprint", self.step,
                                       f"{a.name} at {label!r} touched {', '.join(bad)} outside its declared "
                                       f"footprint (reads {sorted(map(str, reads))}, writes {sorted(map(str, writes))})")

    def _crash(self, p: Process):
        self.crashes += 1
        if self.record:
            self.log.append(LogEntry.crash(self.step, self.now, p.name))
        dying = list(p.actors)
        for a in dying:
            if a in self.pending:
                self.pending.remove(a)
            a.crashing = True
            self.running = a
            yield a
            a.state = DONE
            a.error = None
            if a in self.actors:
                self.actors.remove(a)
        p.actors.clear()
        for lock in self.locks:
            if lock.owner is not None and lock.owner.process is p:
                lock.owner = None
        for q in self.queues:
            q.on_crash(p, self)
        if self.current is not None and self.current.process is p:
            self.current = None
        p._volatile = None
        p.incarnation += 1
        p.prefix = f"{p.name}#{p.incarnation}/"
        if p.restart and p.start is not None:
            if self.record:
                self.note(f"restart {p.name} as {p.name}#{p.incarnation}")
            _start(p)
        else:
            p.alive = False

    def _fire_queue_timers(self) -> bool:
        """At quiescence, jump the clock to the next queue timer (a visibility timeout)."""
        nxt = None
        for q in self.queues:
            d = q.next_deadline()
            if d is not None and (nxt is None or d < nxt):
                nxt = d
        if nxt is None:
            return False
        self.step += 1
        if self.observe is not None:
            # a forced step at quiescence, not a transition that was pending while others ran
            v = View(self)
            v.options = [TIME]
            self.observe(v, 0, -1)
        if self.record:
            self.log.append(LogEntry.time(self.step, self.now, max(nxt, self.now)))
        self.now = max(nxt, self.now)
        for q in self.queues:
            q.fire(self)
        if self.background:
            self._wake_background()
        return True

    def _end(self) -> None:
        blocked = [a for a in self.actors if not a.idle]
        if blocked:
            what = ", ".join(f"{a.name} at {a.label!r}" for a in blocked)
            self.violation = Violation("deadlock", self.step, f"no actor can run; blocked: {what}")
            return
        state = self.state
        for inv in self.scenario.at_end + self.scenario.eventually:
            try:
                r = inv.fn(state)
            except MODEL_ERRORS as e:
                raise _model_error(f"invariant {inv.name}", e) from e
            if not (r is None or r is True):
                # checked after the last step, not by it: the message says so, and step logs mark it
                # below the last step (sim.trace.step_lines)
                prefix = "never held at quiescence: " if inv.when == "eventually" else "at quiescence: "
                self.violation = Violation(inv.name, self.step, prefix + _message(r))
                return

    def view(self) -> View:
        """A view of this execution for the strategy's `end_execution` (see sim.view)."""
        return View(self)

    def leftovers(self) -> list[Actor]:
        """Actors still alive when the execution ended (to be killed by the engine)."""
        return self.actors + self.pending


class _Checks:
    """The `always` and `eventually` invariants of one execution, checked after every step. With
    declared reads (sim.watch) only those that read what the step wrote are evaluated again; an
    eventually invariant not evaluated keeps its last result."""

    __slots__ = ("state", "always", "eventually", "fns", "n_always", "last", "false_for", "watching", "written")

    @classmethod
    def of(cls, k: "Kernel", state) -> "_Checks | None":
        scenario = k.scenario
        always, eventually = scenario.always, scenario.eventually
        k.false_for = [0] * len(eventually)   # path state (sim.statehash): steps each has been false in a row
        monitors = always + eventually
        if not monitors:
            return None
        c = cls()
        c.state = state
        c.always, c.eventually, c.n_always = always, eventually, len(always)
        c.false_for = k.false_for
        c.last = [None] * len(eventually)
        c.fns = fns = [inv.fn for inv in monitors]
        c.watching = c.written = None
        try:
            if k.check_footprints:
                k.recorded_reads = seen = set()
                for store in k.stores.values():
                    store.record_peeks(seen)
                for j, inv in enumerate(monitors):
                    if inv.reads is not None:
                        fns[j] = watch.recording(k, inv, watch.reads.resolve(inv.reads, state), seen)
            elif k.touched is not None and not k.check_every_step:
                w = watch.Watch(monitors, state, k.stores)
                if w.groups:
                    c.watching, c.written = w, k.touched[1]
        except MODEL_ERRORS as e:   # the scenario's reads callable or keys_where predicate
            raise _model_error("an invariant's reads", e) from e
        return c

    def violation(self, step: int, extra) -> Violation | None:
        """The first invariant the state after `step` breaks (`extra`: what the step wrote beyond what
        the stores recorded, sim.watch), or None."""
        fns = self.fns
        state = self.state
        stale = self.watching.stale(self.written, extra) if self.watching is not None and step else None
        inv = None
        try:
            for j, inv in enumerate(self.always):
                if stale is not None and not stale[j]:
                    continue   # it read nothing the step wrote: it still holds
                r = fns[j](state)
                if r is not None and r is not True:
                    return Violation(inv.name, step, _message(r))
            if self.eventually:
                n_always, last, false_for = self.n_always, self.last, self.false_for
                for j, inv in enumerate(self.eventually):
                    if stale is None or stale[n_always + j]:
                        r = last[j] = fns[n_always + j](state)
                    else:
                        r = last[j]
                    if r is None or r is True:
                        false_for[j] = 0
                    else:
                        false_for[j] += 1
                        if inv.within is not None and false_for[j] > inv.within:
                            return Violation(inv.name, step, f"false for {inv.within} steps in a row: {_message(r)}")
        except watch.ReadsOutside as e:
            return Violation("footprint", step, str(e))
        except MODEL_ERRORS as e:
            raise _model_error(f"invariant {inv.name}", e) from e
        return None


class ForeignAwait(runtime.SimUsageError):
    pass


class ModelError(runtime.SimUsageError):
    """The scenario's own code (setup or an invariant) raised: a bug for its author to fix."""


# What a model's own code (setup, an invariant) may raise that sim reports as the model's bug: every
# exception, and the BaseExceptions that would otherwise end sim's process silently (sys.exit(0) in a
# model used to make `explore` exit 0). KeyboardInterrupt is the user's, and stops sim.
MODEL_ERRORS = (Exception, SystemExit, GeneratorExit)


def _start(p: Process) -> None:
    """Run a process's start function, which spawns its actors; an `async def` one would spawn nothing
    and leave only a 'never awaited' warning, so it is refused."""
    r = p.start(p)
    if inspect.iscoroutine(r):
        r.close()
        raise runtime.SimUsageError(
            f"the start function of process {p.name!r} is a coroutine function: it must be a plain function that "
            f"spawns actors (lambda p: p.spawn('name', actor_fn)), not an actor itself")


def _model_error(what: str, e: Exception) -> ModelError:
    frames = traceback.extract_tb(e.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return ModelError(f"{what} raised {type(e).__name__}: {e}{where}")


def _foreign_await(a: Actor):
    """Our points yield None; anything else came from awaiting another library's primitive."""
    a.coro.close()
    raise ForeignAwait(foreign_await_message(a))


def foreign_await_message(a: Actor) -> str:
    return (f"{a.name} awaited something that is not a sim point (a trio primitive?) "
            f"after {a.label!r}: the fast engine drives coroutines itself; "
            f"use engine='trio' for models that await trio")


def step_limit_violation(scenario, state, step: int) -> Violation:
    """The verdict of an execution cut at the step limit: the first `at_end(..., livelock=True)`
    invariant that does not hold there (a progress property names what never happens), else the
    built-in livelock."""
    for inv in scenario.at_end:
        if inv.livelock:
            try:
                r = inv.fn(state)
            except MODEL_ERRORS as e:
                raise _model_error(f"invariant {inv.name}", e) from e
            if not (r is None or r is True):
                return Violation(inv.name, step, f"no quiescence after {step} steps: {_message(r)}")
    return Violation("livelock", step, f"no quiescence after {step} steps (possible livelock)")


def _message(r) -> str:
    return "predicate is false" if r is False else str(r)

