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


def fenced(base: type, revision: str, mint_early: bool = False, contention: bool = False) -> type:
    """`base` with the compare-and-set on `lastKnownEventId`, named `revision`; `mint_early`: the event's
    id is minted before the run lock (`MintEarly`); `contention`: a fenced write that finds the run lock
    taken is answered `ContentionError`."""

    class Fenced(base):
        fence = True

        async def events_create(self, run: str, req: dict) -> dict:
            lock = fence_lock(getattr(self, "fs", None) or self.db, run)
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
