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

Model difference: the lock covers the mint too (world-local's E2, postgres's id inside the
transaction), so a run's ids are minted in commit order; a server that mints its ULID before the
conditional write (an id minted before the snapshot, committed after the branch decision) is not
modelled here.

`asOfTimestamp` is not modelled: #2113 plumbs it but no caller sends it (resumeHook stays unfenced).
"""
from __future__ import annotations

from models.events import EntityConflictError, short
from sim import Lock, note


class FenceConflictError(EntityConflictError):
    """409 from the compare-and-set: the log moved past the writer's `lastKnownEventId`. The ledger
    records it as "409-fence": it does not claim the entity exists (I-409-SOUND does not apply)."""
    ledger_status = "409-fence"


def fence_lock(storage, run: str) -> Lock:
    """The run's server lock, one per run in the shared storage (created on first use)."""
    locks = storage.__dict__.setdefault("_fence_locks", {})
    lock = locks.get(run)
    if lock is None:
        lock = locks[run] = Lock(f"fence[{run}]")
    return lock


def fenced(base: type, revision: str) -> type:
    """`base` with the compare-and-set on `lastKnownEventId`, named `revision`."""

    class Fenced(base):
        fence = True

        async def events_create(self, run: str, req: dict) -> dict:
            async with fence_lock(getattr(self, "fs", None) or self.db, run):
                known = req.get("lastKnownEventId")
                if known is not None:
                    log = await self.events_list(run)
                    tail = log[-1]["eventId"] if log else None
                    if tail != known:
                        note(f"fence conflict: tail {short(tail or '-')} is not {short(known)}")
                        raise FenceConflictError(f"fence conflict: the log moved past {short(known)}")
                return await super().events_create(run, req)

    Fenced.revision = revision
    Fenced.__name__ = Fenced.__qualname__ = f"{base.__name__}Fenced"
    Fenced.__doc__ = f"{base.__doc__ or base.__name__}\n\nWith #2113's fence (models.fence)."
    return Fenced
