"""The API an actor calls: scheduling points, blocking waits, time, choices.

Every function acts on the execution that is running now (there is exactly one
per thread at a time, like trio's run-local state). Models and scenarios use only
these functions and the primitives built on them, so the same actor code runs
under every engine.
"""
from __future__ import annotations

import types
from typing import Any, Awaitable, Callable, Hashable, Iterable

_kernel = None  # the Kernel of the running execution, set by the engine


class SimUsageError(RuntimeError):
    """A sim function was called outside a running execution or with bad arguments.

    Example: `sim.now()` outside an execution raises it; so does `Store("s")` twice in one setup.
    """


def _k():
    k = _kernel
    if k is None:
        raise SimUsageError("no simulated execution is running here")
    return k


class UnawaitedPoint(SimUsageError):
    """An actor called `point` (or `wait`, `sleep`) without awaiting it: the step boundary it marks
    would silently disappear, so the run is refused instead.

    Example: `sim.point("write")` on its own line raises it (at the actor's next point, or when the
    execution ends); `await sim.point("write")` is what was meant.
    """


def unawaited_message(a) -> str:
    return (f"{a.name}: the point {a.label!r} was never awaited (write `await` before point(), wait() "
            f"and sleep()): the step boundary it marks would silently disappear")


def _refuse_unawaited(k) -> None:
    """A point is being made while the one made before it (`k.unawaited`, cleared when a point is
    awaited) was never awaited."""
    e = UnawaitedPoint(unawaited_message(k.unawaited))
    if k.fatal is None:   # the engine re-raises it even if the actor catches it
        k.fatal = e
    raise e


@types.coroutine
def _direct(k):
    k.unawaited = None   # awaited: the point is taken
    yield


@types.coroutine
def _parked(k, a):
    k.unawaited = None
    yield from k.park(a)


def point(label: str, reads: Iterable[Hashable] = (), writes: Iterable[Hashable] = ()) -> Awaitable[None]:
    """Park until the scheduler lets this actor run its next atomic step.

    `reads`/`writes` are the keys that step (the code up to the next point)
    touches: its footprint, which partial-order reduction relies on. Either may
    be a callable returning the keys the step would touch if it ran now (see
    sim.footprint.declared); it must depend only on keys in `reads`.

    It must be awaited: a point that is made and never awaited is refused with
    `UnawaitedPoint` (at the actor's next point or wait, or when the execution
    ends), since its step boundary would silently disappear.

    Example:

    ```python
    await sim.point("read balance", reads=(accounts.key("A"),))
    a = accounts["A"]                      # the step: up to the next point
    await sim.point("write balance", writes=(accounts.key("A"),))
    accounts["A"] = a - 10
    ```
    """
    k = _kernel
    if k is None:
        raise SimUsageError("no simulated execution is running here")
    a = k.running
    if k.unawaited is not None:
        _refuse_unawaited(k)
    k.unawaited = a
    a.label = label
    a.reads = reads
    a.writes = writes
    a.fp = None
    if k.direct:  # the fast engine: the awaited generator only yields to the loop (the hottest path a model has)
        return _direct(k)
    return _parked(k, a)


def wait(label: str, ready: Callable[[], bool], *, timeout: int | None = None,
         reads: Iterable[Hashable] = (), writes: Iterable[Hashable] = (), idle: bool = False,
         background: bool = False) -> Awaitable[bool]:
    """Park until `ready()` is true (then run the next step) or `timeout` ticks pass.

    Returns True if it woke because `ready()` held, False on timeout. While
    blocked the actor is not enabled. `idle=True` marks a wait that may last
    forever without it being a deadlock (a consumer waiting for work).
    `background=True` (with a timeout; implies idle) makes the timeout a
    background timer: it keeps nothing alive, so a run whose other actors are
    done or idle is quiescent, and it fires at most once between two steps of
    the other actors (see Kernel._background_time).

    Example:

    ```python
    got = await sim.wait("lease free", lambda: lease.peek("holder") is None, timeout=100,
                         reads=(lease.key("holder"),))
    ```
    """
    k = _kernel
    if k is None:
        raise SimUsageError("no simulated execution is running here")
    a = k.running
    if k.unawaited is not None:
        _refuse_unawaited(k)
    a.label = label
    a.reads = reads
    a.writes = writes
    a.fp = None
    a.guard = ready
    if background:
        if timeout is None:
            raise SimUsageError(f"{a.name}: a background wait needs a timeout (at {label!r})")
        a.deadline = None
        a.bg = k.now + timeout
        a.idle = a.background = True
        k.park_background(a)
    else:
        a.deadline = None if timeout is None else k.now + timeout
        a.idle = idle
        a.bg = None
    k.unawaited = a
    return _waited(k, a) if k.direct else _waited_parked(k, a)


@types.coroutine
def _waited(k, a):
    k.unawaited = None
    yield
    return not a.timed_out


@types.coroutine
def _waited_parked(k, a):
    k.unawaited = None
    yield from k.park(a)
    return not a.timed_out


def sleep(ticks: int, label: str | None = None, *, background: bool = False) -> Awaitable[bool]:
    """Virtual sleep: the actor is enabled again once the clock reaches now+ticks.

    Time passes only when the scheduler lets it (an option that depends on every step).
    `background=True`: the sleep of a periodic actor (heartbeat, snapshotter, lease renewal) that
    must not keep the run alive: see `wait`.

    Example: `await sim.sleep(11, "wake from a GC pause")`.
    """
    if ticks < 0:
        raise SimUsageError(f"sleep ticks must be >= 0, got {ticks}")
    return wait(label or f"wake after sleep({ticks})", _never, timeout=ticks, background=background)


def _never() -> bool:
    return False


def now() -> int:
    """Virtual time in ticks (milliseconds by convention).

    Example: `lease["expires"] = sim.now() + TTL`.
    """
    return _k().now


def choose(kind: str, n: int, label: str = "") -> int:
    """A nondeterministic choice in [0, n), answered by the tape. 0 = the default.

    Strategies enumerate or sample it like any scheduling decision, and a trace replays it.
    Never draw from `random` or the clock in a model: ask `choose`.

    Example: `if sim.choose("pause", 2, "c1 stalls"): await sim.sleep(11)`.
    """
    return _k().choose(kind, n, label)


def note(text: str) -> None:
    """Attach a human-readable effect to the current step of the trace log.

    Example: `sim.note(f"{me} holds the lease with token {token}")`.
    """
    k = _kernel
    if k is not None and k.record:
        k.note(text)


def touch(key, write: bool = False) -> None:
    """Record that the running step read (or wrote) `key` of sim-managed state (see sim.store).

    For state a model manages itself but wants DPOR and `--check-footprints` to see as a `Store`'s.

    Example: `sim.touch(("cache", "x"), write=True)`.
    """
    k = _kernel
    if k is not None and k.touched is not None and k.running is not None:
        k.touched[1 if write else 0].add(key)


def current_process():
    """The `Process` of the running actor: its `volatile` state, its name.

    Example: `seq = sim.current_process().volatile.setdefault("next_seq", 1)`.
    """
    return _k().running.process


def current_actor():
    """The running actor (named `process/actor`, e.g. `c1/client`).

    Example: `sim.note(f"{sim.current_actor().name} retries")`.
    """
    return _k().running


def faults_injected() -> int:
    """Crashes and redeliveries (injected, or by a visibility timeout) so far in this execution (ghost state: a model's invariant may
    excuse what only a fault can cause, e.g. two executions of one step body at once)."""
    k = _k()
    return k.crashes + k.redeliveries + k.timed_redeliveries


def spawn(name: str, fn: Callable[..., Awaitable[Any]], *args: Any):
    """Start an actor in the current actor's process (it runs once this step ends).

    Example: `sim.spawn("flush", flusher, wal)`: a concurrent actor that dies with this process.
    """
    k = _k()
    return k.spawn(k.running.process, name, fn, args)


def ulid() -> str:
    """A ULID whose timestamp is virtual time and whose randomness comes from the tape.

    The 16 high random bits are a tape choice (so the order of ULIDs minted in
    the same millisecond by different processes is explored); the low 64 bits
    are a per-execution counter, so two ULIDs never collide by accident.

    Example: `event_id = sim.ulid()`.
    """
    return _k().ulid()
