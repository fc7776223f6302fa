"""Transitions and their footprints: what partial-order reduction knows about a step.

Every option the scheduler offers is a transition with a stable id and a footprint
(keys read, keys written), taken just before it runs:

- an actor's step: the keys declared at its point, plus a read of its process key;
- crash P: writes P's process key (so it is dependent with every step of P's actors),
  every lock P's actors hold (the crash releases them), every queue with a message
  in flight to P (the crash orphans it), and the crash budget (another crash may
  be the one it disables);
- redeliver m: writes m's queue (dependent with receive, ack and send on that queue)
  and the redelivery budget;
- time passing: global, dependent with everything (any step may read the clock);
- background timers (runtime.sleep(background=True)): whether the clock may jump to one depends on
  what the other actors have done since it last fired and whether they are still active, so every
  step of an actor that has waited on one writes BACKGROUND, and every other transition (actor steps,
  crashes, redeliveries) reads it: their order is explored, and time, being global, with both.

Two transitions are dependent when one writes a key the other reads or writes, or
when both write keys an `always`/`eventually` invariant reads: those invariants see
intermediate states, and two writes to what they read do not commute for them. An
invariant without declared `reads` is taken to read everything.
"""
from __future__ import annotations

from sim import reads, runtime
from sim.store import with_ranges


class Footprint:
    __slots__ = ("tid", "reads", "writes", "glob", "born")

    def __init__(self, tid, reads: frozenset, writes: frozenset, glob: bool = False, born: int = 0):
        self.tid = tid
        self.reads = reads
        self.writes = writes
        self.glob = glob
        self.born = born  # an actor's first step happens after the step that spawned it

    def __repr__(self):
        return f"<{self.tid} r={sorted(map(str, self.reads))} w={sorted(map(str, self.writes))}{' *' if self.glob else ''}>"


TIME_TID = "time"
# Faults of one kind share a budget: taking one can disable the others, so they are dependent.
CRASH_BUDGET = ("faults", "crash")
REDELIVERY_BUDGET = ("faults", "redeliver")
BACKGROUND = ("clock", "background")
_READS_BACKGROUND = frozenset((BACKGROUND,))


def declared(kernel, keys):
    """A point's reads or writes: a collection, or a callable giving them for the current state.

    A callable lets a step declare what it would touch if it ran now (a failed exclusive
    create writes nothing); it must depend only on keys the step reads. It runs with access
    recording suspended: evaluating it is not part of any step. It runs as part of `kernel`'s
    execution, even when asked after that execution has ended (DPOR's race analysis of the final
    state, when exploration goes on past a violation): a callable may read the clock (`now()`)."""
    if not callable(keys):
        return keys
    saved, kernel.touched = kernel.touched, None
    running, runtime._kernel = runtime._kernel, kernel
    try:
        return tuple(keys())
    finally:
        kernel.touched = saved
        runtime._kernel = running


def process_key(p) -> tuple:
    return ("process", p.name)


def of_option(kernel, o) -> Footprint:
    """The footprint of option `o` in the kernel's current state."""
    kind = getattr(o, "kind", None)  # actors have none: crash, redeliver and time options do
    if kind is None:
        writes = declared(kernel, o.writes)
        if kernel.scanning:
            writes = with_ranges(kernel.stores, writes)
        if o.background:
            return Footprint(o.id, frozenset(declared(kernel, o.reads)) | {process_key(o.process)},
                             frozenset(writes) | _READS_BACKGROUND, born=o.born)
        return Footprint(o.id, frozenset(declared(kernel, o.reads)) | {process_key(o.process), BACKGROUND},
                         frozenset(writes), born=o.born)
    if kind == "crash":
        writes = {process_key(o), CRASH_BUDGET}
        writes.update(lock.key for lock in kernel.locks if lock.owner is not None and lock.owner.process is o)
        for q in kernel.queues:
            if q.has_in_flight_to(o):
                writes.add(q.key)
        return Footprint(f"crash:{o.name}", _READS_BACKGROUND, frozenset(writes))
    if kind == "redeliver":
        return Footprint(f"redeliver:{o.id}", _READS_BACKGROUND, frozenset((o.queue.key, REDELIVERY_BUDGET)))
    return Footprint(TIME_TID, frozenset(), frozenset(), glob=True)


class Dependence:
    """The dependence relation of one scenario (it depends on what its invariants read).

    `state` is what setup returned: an invariant's reads may be a callable of it (sim.reads). It
    must give the same keys in every execution (setup is deterministic), since DPOR compares steps
    of different executions."""

    def __init__(self, scenario, state=None):
        monitors = scenario.always + scenario.eventually
        self.monitor_all = any(inv.reads is None for inv in monitors)
        # `monitored.hits(keys)`: does any invariant read one of `keys`; None: no invariant declares reads
        self.monitored = reads.union(reads.resolve(inv.reads, state) for inv in monitors if inv.reads is not None)

    def __call__(self, f: Footprint, g: Footprint) -> bool:
        if f.glob or g.glob:
            return True
        fw, gw = f.writes, g.writes
        if fw and not (fw.isdisjoint(g.reads) and fw.isdisjoint(gw)):
            return True
        if gw and not gw.isdisjoint(f.reads):
            return True
        if fw and gw:
            if self.monitor_all:
                return True
            m = self.monitored
            if m and m.hits(fw) and m.hits(gw):
                return True
        return False


def actual(kernel, fp: Footprint) -> Footprint:
    """An executed actor step's footprint as it happened: sim-managed keys (see sim.store) only if
    the step really touched them, everything else as declared. Faults and time stay as declared."""
    a = kernel.running
    if a is not None and a.background and a.id == fp.tid and BACKGROUND not in fp.writes:
        # its first wait on a background timer ended this step: from now on it is a background actor
        fp = Footprint(fp.tid, fp.reads, fp.writes | _READS_BACKGROUND, born=fp.born)
    stores = kernel.stores
    if not stores or not isinstance(fp.tid, int):
        return fp
    touched_r, touched_w = kernel.touched

    def unmanaged(keys):
        return {k for k in keys if not (isinstance(k, tuple) and k and k[0] in stores)}

    return Footprint(fp.tid, frozenset(unmanaged(fp.reads) | touched_r),
                     frozenset(unmanaged(fp.writes) | touched_w), born=fp.born)
