"""The workflow domain shared by every world (domain doc section 1): events, entities, ids, errors.

Events and entities are plain dicts that are never mutated after they are built:
storage keeps them as the "bytes" of a file or row, and two writes of equal dicts
are writes of identical bytes.
"""
from __future__ import annotations

import hashlib

from sim import Store, choose, current_actor, current_process, now, ulids
from sim.kernel import ULID_EPOCH_MS
from sim.runtime import faults_injected
from sim.tape import RAND, ULID as ULID_BITS

# ---- event types (section 1.3) --------------------------------------------------------------

RUN_CREATED, RUN_STARTED = "run_created", "run_started"
RUN_COMPLETED, RUN_FAILED, RUN_CANCELLED = "run_completed", "run_failed", "run_cancelled"
STEP_CREATED, STEP_STARTED, STEP_COMPLETED = "step_created", "step_started", "step_completed"
STEP_FAILED, STEP_RETRYING = "step_failed", "step_retrying"
HOOK_CREATED, HOOK_RECEIVED, HOOK_DISPOSED, HOOK_CONFLICT = (
    "hook_created", "hook_received", "hook_disposed", "hook_conflict")
WAIT_CREATED, WAIT_COMPLETED = "wait_created", "wait_completed"

TERMINAL_RUN_EVENTS = frozenset({RUN_COMPLETED, RUN_FAILED, RUN_CANCELLED})
TERMINAL_STEP_EVENTS = frozenset({STEP_COMPLETED, STEP_FAILED})
CREATION_EVENTS = frozenset({STEP_CREATED, HOOK_CREATED, WAIT_CREATED})
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
RUN_STATUS_OF = {RUN_COMPLETED: "completed", RUN_FAILED: "failed", RUN_CANCELLED: "cancelled"}


# ---- errors (section 1.5) --------------------------------------------------------------------

class WorldError(Exception):
    """What `events.create` throws. `status` is the HTTP status world-vercel maps it to."""
    status = 500


class WorkflowWorldError(WorldError):
    """Generic failure ("Step not found", ...): NOT swallowed by the runtime; the delivery is retried."""


class EntityConflictError(WorldError):
    """409: the entity already exists or is already terminal. The runtime swallows it."""
    status = 409


class RunExpiredError(WorldError):
    """410: the run is over. The runtime swallows it."""
    status = 410


class TooEarlyError(WorldError):
    """425: step_started while the step's retryAfter is in the future (carries the wait in ms)."""
    status = 425

    def __init__(self, wait_ms: int):
        super().__init__(f"too early: retry in {wait_ms} ms")
        self.wait_ms = wait_ms


class HookNotFoundError(WorldError):
    status = 404


class WorkflowRunNotFoundError(WorldError):
    status = 404


class HookConflictError(Exception):
    """Replay: awaiting a hook whose creation became a hook_conflict (a user-visible failure)."""

    def __init__(self, token: str, conflicting_run: str | None):
        super().__init__(f"hook token {token!r} is held by run {conflicting_run}")
        self.token = token
        self.conflicting_run = conflicting_run


# ---- ids (section 1.1) -----------------------------------------------------------------------

def _ulid_of(ms: int, entropy: bytes) -> str:
    return ulids.text(((ULID_EPOCH_MS + ms) << 80) | int.from_bytes(entropy[:10], "big"))


def run_id(name: str, started_at: int = 0) -> str:
    """A client-supplied runId (start() mints it): deterministic, so a scenario names its runs."""
    return "wrun_" + _ulid_of(started_at, hashlib.sha256(f"run:{name}".encode()).digest())


def correlation_id(prefix: str, run: str, ordinal: int, started_at: int = 0) -> str:
    """The VM's id for its `ordinal`-th awaited operation: a ULID at the run's start time whose
    randomness is the run's seeded sequence, so every replay that makes the same calls mints the same id."""
    return f"{prefix}_" + _ulid_of(started_at, hashlib.sha256(f"{run}:{ordinal}".encode()).digest())


def event_id_at(ms: int, seq: int, prefix: str = "evnt_") -> str:
    """The `seq`-th id of the whole system: ids minted at distinct instants order by mint."""
    return prefix + ulids.text(((ULID_EPOCH_MS + ms) << 80) | seq)


def mint_process_ulid(wall: Store, prefix: str = "evnt_", one_factory: bool = False) -> str:
    """An eventId from the monotonic ULID factory of the calling process (section 1.1), on a wall
    clock every process shares (`wall`, a managed store of the world's durable state: reading the
    clock is what makes two mints depend on each other).

    Real time passes between any two mints, and a millisecond may or may not end between them: each
    mint either starts a new millisecond (the default, tape value 0: its id sorts above every id
    minted before it, as in the plain revisions) or, by a tape choice, falls in the millisecond of the
    mint before it (a storm). Within one millisecond a process's ids increase (the factory increments
    its last id) and the first id of a process that joins a millisecond another process started takes
    its order bits from the tape, so ids of two processes in one millisecond order either way (1.1's
    consequence 1), and only there. The virtual millisecond (`now()`) is the ULID time; the real
    milliseconds inside it are ordered by a counter in the random part, so createdAt stays virtual
    time. A millisecond never spans a sleep (virtual time moved) or a crash or redelivery (a restart
    and a visibility timeout take far more than a millisecond), so those mints sort above every
    earlier id. The factory is volatile: a restarted process starts a fresh one.

    `one_factory`: every simulated process mints from one factory (they run in one OS process), whose
    ids increase whether or not a millisecond ended between two mints: no tape choice, every id sorts
    above every earlier one.

    Random part (80 bits): the real millisecond's ordinal within the virtual one, 16 tape order bits
    (fixed for the process that started the millisecond), the factory's increments, then an
    execution-wide counter (ids never collide, as real ULIDs' 80 random bits practically never do;
    last, so a trace's short ids differ). Every
    id sorts above the ids of events seeded at time 0 (ordinal 0), minted before the exploration."""
    t, faults = now(), faults_injected()
    ms, epoch, seen_faults, count = wall.get("wall") or (-1, 0, 0, 0)
    if ms != t:
        ms, epoch, joined = t, 1, False
    elif one_factory or seen_faults != faults or choose(RAND, 2, "same millisecond as the last mint") == 0:
        epoch, joined = epoch + 1, False
    else:
        joined = True
    if epoch >> 16:
        raise ValueError(f"more than {(1 << 16) - 1} milliseconds of mints at virtual time {t}")
    vol = current_process().volatile
    last = vol.get("ulid")
    count += 1
    if joined and last is not None and last[:2] == (ms, epoch):
        value = last[2] + (1 << 24)
    else:
        bits = choose(ULID_BITS, 1 << 16, "ulid order") if joined else 1 << 15
        value = ((ULID_EPOCH_MS + ms) << 80) | (epoch << 64) | (bits << 48) | count
    wall["wall"] = (ms, epoch, faults, count)
    vol["ulid"] = (ms, epoch, value)
    return prefix + ulids.text(value)


def observe_log(observed: dict | None, run: str, log: list, page: bool = False) -> None:
    """Ghost state for I-LOG2: what the calling actor (a reader) saw of `run`'s log in this read, its
    last event (the reader's frontier) and every id up to it. `page`: a cursor read (the events after
    the reader's cursor), which adds to what the reader saw before. `observed` is None unless the
    workload checks I-LOG2 (`Env(log_prefix=True)`)."""
    if observed is not None and log:
        key = (run, current_actor().name)
        before = observed.get(key, (None, frozenset()))[1] if page else frozenset()
        observed[key] = (log[-1]["eventId"], before | frozenset(e["eventId"] for e in log))


class WriterFrontiers:
    """Ghost state for I-LOG3 (key monotonicity per writer), kept where a workload checks it
    (`Env(log_prefix=True)`), never read by the worlds or the runtime: for each eventId minted, the writer
    (actor) and its frontier of the run's log when it minted the key, the last event of the writer's
    latest read (`observe_log`); and each `Promise.all` write actor's parent handler, whose snapshot the
    write was decided from (the actor reads nothing itself)."""

    def __init__(self):
        self.minted: dict = {}    # eventId -> (writer, frontier eventId)
        self.parent: dict = {}    # write actor's name -> its handler's name

    def inherit(self, child: str) -> None:
        """`child`, spawned now by the calling actor, writes from the caller's snapshot."""
        self.parent[child] = current_actor().name

    def record(self, observed: dict | None, run: str, event_id: str) -> None:
        """The calling actor minted `event_id` for `run` now: note the frontier it had read (if any)."""
        if observed is None:
            return
        writer = current_actor().name
        for reader in (writer, self.parent.get(writer)):
            seen = observed.get((run, reader))
            if seen is not None:
                self.minted[event_id] = (writer, seen[0])
                return


def created_at_of(event_id: str) -> int:
    """The virtual millisecond encoded in an id's ULID (how world-local derives createdAt)."""
    return (ulids.value(event_id.split("_", 1)[1]) >> 80) - ULID_EPOCH_MS


def short(any_id: str) -> str:
    """`evnt_01KA...XYZ` -> `evnt_…XYZ`: enough to tell ids apart in a trace line."""
    head, _, tail = any_id.partition("_")
    return f"{head}_…{tail[-4:]}" if tail else any_id


def stamp_writer(writers: dict, record) -> None:
    """Ghost state for I-ORPHAN: the process incarnation that wrote a durable record, in the step that
    wrote it. Until it publishes the record's event only that writer can; once it has crashed (the
    incarnation moved on) nobody will."""
    p = current_process()
    writers[record] = (p, p.incarnation)


# ---- entity rules both worlds enforce -------------------------------------------------------

def is_terminal(entity) -> bool:
    return entity is not None and entity["status"] in TERMINAL_STATUSES


def check_open_step(step, corr: str, run: str, current_run):
    """E4 for step events, on the step entity each world read its own way: missing -> WWE;
    terminal -> 409; run terminal and the step not running -> 410. Returns the step."""
    if step is None:
        raise WorkflowWorldError(f"Step not found: {corr}")
    if is_terminal(step):
        raise EntityConflictError(f"step {short(corr)} is already {step['status']}")
    if is_terminal(current_run) and step["status"] != "running":
        raise RunExpiredError(f"run {run} is terminal")
    return step


# ---- events ----------------------------------------------------------------------------------

def event(event_id: str, run: str, event_type: str, correlation_id: str | None = None,
          data: dict | None = None, created_at: int | None = None) -> dict:
    return {"eventId": event_id, "runId": run, "eventType": event_type, "correlationId": correlation_id,
            "eventData": dict(data or {}), "createdAt": created_at_of(event_id) if created_at is None else created_at}


def log_order(e: dict) -> tuple:
    """world-local `events.list` order: (createdAt, eventId)."""
    return (e["createdAt"], e["eventId"])


def describe(e: dict) -> str:
    corr = f" {short(e['correlationId'])}" if e.get("correlationId") else ""
    return f"{e['eventType']}{corr} {short(e['eventId'])}"
