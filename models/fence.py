"""#2113's optimistic-concurrency fence (domain doc 3.5, B23) as an option on the existing worlds.

The fence is world-vercel's server side (workflow-server #447): the server materializes the run's last
event id and makes every event write a conditional update of it. A fenced write carries
`lastKnownEventId` (the tail of its writer's loaded log) and is refused unless that is still the run's
last event; an unfenced write advances the value without a check (so `hook_received`, which #2113
leaves unfenced on purpose, still moves the fence under a fenced writer).

Why an option on `local` and `postgres` rather than a third world: the server's storage is not in the
sources, and whether a fence is sound depends on one thing only, how the world's log order relates to
its commit order. The two existing worlds already model that order as their code has it (world-local:
an id minted before the write's checks, published later; world-postgres: an id drawn inside the
transaction). `fenced(world)` keeps that order and adds the compare-and-set, so a verdict says what the
fence buys on that log order.

The compare-and-set here: a per-run server lock (cross-process; a crash releases it) held around the
whole `events.create` of every write of the run, fenced or not, with the check first: the run's log
tail (in the world's own log order) must be `lastKnownEventId`. A refused write has no side effect and
raises `FenceConflictError`, a 409 whose message says "fence conflict" (the runtime tells it from other
409s by that text, as #2113 does).

Where the id is minted is the option that decides the verdict (issue 14): by default (`L1F`, `P4F`) the
lock covers the mint too (world-local's E2, postgres's id inside the transaction), so a run's ids are
minted in commit order and a check made when a write commits sees every event that will ever sort below
it. `mint_early` (`L1Fm`, `P4Fm`) is a server that mints the event's id when the request arrives, before
it takes the run lock and does the conditional write (a ULID taken at receipt, as a request handler
would): an id minted before a reader's snapshot can commit after that reader's fenced write, below it
(B25), where no check at commit time can see it. Both are hypotheses about workflow-server, whose code
is not public; the PR says only that the server "materializes run.lastKnownEventId and gates event
writes on it".

`contention` (`L1Fc`, `P4Fc`) is the hypothesis #2113's stress run implies for its follow-up hang ("the
broadened treat-any-non-fence-409-as-already-completed branch eats a genuine conflict that should be
retried"): a fenced write that finds another write of the run holding the materialized value (the run
lock taken) is answered a 409 without "fence conflict" (`ContentionError`, ledger "409-contention")
instead of waiting for it. Unfenced writes wait as before (the PR: they "atomically advance the
materialized value ... but they don't reject on contention").

`lost_update` (`L1Fp`, `P4Fp`) is a hypothesis, not the server's known behaviour: a later fenced-write helper of
the Workflow DevKit names the server's "patch-then-PUT non-atomicity". Modelled as: every write of a run reads
the run document (a step; a fenced write is checked against the tail it read there, so the check and the write
are not atomic), writes its event as the base world does (under the run lock, which keeps the base world's own
steps whole), then PUTs the document (a step). The PUT writes back what its write read plus its own event: an
event another write PUT after that read is lost from the log, though its writer was answered success with it.
So of two overlapping writes (one reads while the other is between its read and its PUT) only the last PUT's
event is kept. Only events are lost: the entities (a wait's record) keep what the base world wrote. Between its
write and its PUT an event is already in the log (readers may see an event that is lost afterwards).

`asOfTimestamp` is not modelled: #2113 plumbs it but no caller sends it (resumeHook stays unfenced).
"""
from __future__ import annotations

from models.events import EntityConflictError, short
from sim import Lock, current_actor, note, point


class FenceConflictError(EntityConflictError):
    """409 from the compare-and-set: the log moved past the writer's `lastKnownEventId`. The ledger
    records it as "409-fence": it does not claim the entity exists (I-409-SOUND does not apply)."""
    ledger_status = "409-fence"


class ContentionError(EntityConflictError):
    """409 to a fenced write that met another write of its run in progress (the `contention` hypothesis):
    no side effect, and its message does not say "fence conflict", so #2113 tells it from a fence conflict
    only as "some other 409". The ledger records it as "409-contention" (I-409-SOUND does not apply)."""
    ledger_status = "409-contention"


def fence_lock(storage, run: str) -> Lock:
    """The run's server lock, one per run in the shared storage (created on first use)."""
    locks = storage.__dict__.setdefault("_fence_locks", {})
    lock = locks.get(run)
    if lock is None:
        lock = locks[run] = Lock(f"fence[{run}]")
    return lock


def fenced(base: type, revision: str, mint_early: bool = False, contention: bool = False,
           lost_update: bool = False) -> type:
    """`base` with the compare-and-set on `lastKnownEventId`, named `revision`; `mint_early`: the event's
    id is minted before the run lock (`MintEarly`); `contention`: a fenced write that finds the run lock
    taken is answered `ContentionError`; `lost_update`: the check reads the run document and a later PUT
    of it loses the events PUT since (`PatchThenPut`)."""

    class Fenced(base):
        fence = True

        async def events_create(self, run: str, req: dict) -> dict:
            lock = fence_lock(getattr(self, "fs", None) or self.db, run)
            if lost_update:
                return await PatchThenPut(self, run).write(req, lock, super().events_create)
            if contention and req.get("lastKnownEventId") is not None:
                await point(f"is the run lock of {short(run)} free?", reads=(lock.key,))
                if lock.owner is not None:
                    note(f"contention: {lock.owner.name} is writing run {short(run)}")
                    raise ContentionError(f"conflict: run {short(run)} was written concurrently")
            async with lock:
                known = req.get("lastKnownEventId")
                if known is not None:
                    log = await self.events_list(run)
                    tail = log[-1]["eventId"] if log else None
                    if tail != known:
                        note(f"fence conflict: tail {short(tail or '-')} is not {short(known)}")
                        raise FenceConflictError(f"fence conflict: the log moved past {short(known)}")
                return await super().events_create(run, req)

    cls = type(f"{base.__name__}FencedMintEarly", (MintEarly, Fenced), {}) if mint_early else Fenced
    cls.revision = revision
    cls.__name__ = cls.__qualname__ = f"{base.__name__}Fenced{'MintEarly' if mint_early else ''}"
    cls.__doc__ = f"{base.__doc__ or base.__name__}\n\nWith #2113's fence (models.fence)" + \
        (", the id minted before the run lock." if mint_early else ".")
    return cls


class PatchThenPut:
    """One write of `run` on the `lost_update` hypothesis (module docstring): read the run document, check
    the fence against the tail read, write the event (`create`, under the run lock), PUT the document.

    The document is ghost state in the shared storage: how many PUTs it has had, and for each event written
    through it the PUT that wrote it. A PUT loses every event PUT after its write's read (those are not in
    what it read); seeded events were never PUT and stay."""

    def __init__(self, world, run: str):
        self.world, self.run = world, run
        self.local = hasattr(world, "fs")
        storage = world.fs if self.local else world.db
        self.view = type(world).view(storage)
        self.doc = storage.__dict__.setdefault("_run_documents", {}).setdefault(run, {"puts": 0, "put_at": {}})

    async def write(self, req: dict, lock: Lock, create) -> dict:
        run = self.run
        log_key = self.view.log_key(run)
        await point(f"read the run document of {short(run)}", reads=(log_key,))
        read_at = self.doc["puts"]
        known = req.get("lastKnownEventId")
        if known is not None:
            log = self.view.log(run)
            tail = log[-1]["eventId"] if log else None
            if tail != known:
                note(f"fence conflict: tail {short(tail or '-')} is not {short(known)}")
                raise FenceConflictError(f"fence conflict: the log moved past {short(known)}")
        async with lock:
            res = await create(run, req)
        lost = lambda: [eid for eid, at in self.doc["put_at"].items() if at > read_at]   # noqa: E731
        await point(f"PUT the run document of {short(run)}", reads=(log_key,),
                    writes=lambda: (log_key,) + tuple(self._event_key(eid) for eid in lost()))
        for eid in lost():
            note(f"lost update: {short(eid)} is not in the document this PUT read")
            self._lose(eid)
        self.doc["puts"] += 1
        if res.get("event"):
            self.doc["put_at"][res["event"]["eventId"]] = self.doc["puts"]
        return res

    def _event_key(self, eid: str) -> tuple:
        if self.local:
            return self.world.fs.fkey(f"events/{self.run}/{eid}")
        return self.view.log_key(self.run)

    def _lose(self, eid: str) -> None:
        del self.doc["put_at"][eid]
        if not self.local:
            self.world.db._commit_row("events", eid, None)
            return
        fs, d = self.world.fs, f"events/{self.run}"
        del fs.files[f"{d}/{eid}"]
        fs.dirs[d] = tuple(n for n in fs.dirs[d] if n != eid)


class MintEarly:
    """The server mints the event's id on arrival, then takes the run lock (mixed in before `Fenced`).

    The id minted here is handed to the world's own mint through a slot keyed by the calling actor (one
    storage instance serves every actor of its process): world-local's `mint()` (E2) and world-postgres's
    `insert_event` take it instead of minting, once; a second mint of the same request (world-local's
    resilient run_started) mints afresh. The slot is emptied whatever happens (an error before the mint,
    a crash)."""

    async def events_create(self, run: str, req: dict) -> dict:
        slot = self.__dict__.setdefault("preminted", {})
        me = current_actor().id
        slot[me] = await self.mint_on_arrival()
        try:
            return await super().events_create(run, req)
        finally:
            slot.pop(me, None)

    def take_preminted(self) -> str | None:
        return self.__dict__.get("preminted", {}).pop(current_actor().id, None)

    async def mint_on_arrival(self) -> str:
        if hasattr(self, "fs"):
            return await super().mint()   # world-local's E2, before any check
        return await self.db.mint_event_id()

    async def mint(self) -> str:   # world-local
        eid = self.take_preminted()
        return eid if eid is not None else await super().mint()

    async def insert_event(self, run, t, corr=None, data=None, tx=None) -> dict:   # world-postgres
        return await super().insert_event(run, t, corr, data, tx, event_id=self.take_preminted())
