"""#2132 (merged; domain doc 3.5, B23): the fence on every branch-decision write, on top of #2113.

#2113 fenced only the elapsed-wait scan's wait_completed. Its own table lists six more writes the runtime
makes from a branch decision over its loaded log: the suspension handler's step_created, wait_created,
hook_created, hook_disposed, and the delivery's run_completed and run_failed. #2132 sends each with
`lastKnownEventId`; hook_received (resumeHook) stays unfenced on purpose.

What a retry means for a suspension write. The scan's retry can re-check its one fact (is the wait
completed in the reloaded log?). A suspension write has no such fact: which step, wait or hook the
workflow starts at an ordinal, and whether it ends, is the replay's output, so writing the same event
again on the reloaded tail would land the stale decision behind a fresh fence. The model does what the
runtime does to make a decision, reload and replay:

* a write refused because only the events of its own decision moved the tail (another write of the same
  suspension, e.g. the second step_created of one Promise.all, or the S1 hook_created before S4) is
  retried in place on the reloaded tail: the decision was made on the snapshot plus its own batch, which
  a replay of the reloaded log would make again (I-FENCE exempts the batch for the same reason);
* a write refused because anything else arrived abandons the decision: the suspension's other writes
  settle, and the delivery replays the reloaded log in place (as #3145's in-process restart does) and
  writes what that replay decides, again fenced. `FENCE_ATTEMPTS` bounds the retries and restarts of one
  delivery together; exhausting them fails the delivery (the queue redelivers it).

Model differences: the backoff is a scheduling point, not virtual time; a fence conflict is told from
other 409s by its message, as #2113 does.
"""
from __future__ import annotations

from models import events as ev
from models.events import EntityConflictError, HookNotFoundError, RunExpiredError
from models.fence import FenceConflictError
from models.runtime import RUNTIMES, Decision, Runtime2113, create, is_fence_conflict
from sim import note, point

# the six writes of #2113's table that #2132 fences (the scan's wait_completed is #2113's own)
FENCED_SITES = (ev.STEP_CREATED, ev.WAIT_CREATED, ev.HOOK_CREATED, ev.HOOK_DISPOSED, ev.RUN_COMPLETED,
                ev.RUN_FAILED)


class Redecide(Exception):
    """A fenced branch-decision write met another writer's event: the decision must be made again on the
    reloaded log. Not a 409: it never reaches the queue (the delivery restarts its replay)."""


class Runtime2132(Runtime2113):
    """#2132: R2113 with the six branch-decision writes fenced on their decision's snapshot (see the
    module's docstring for what a retry means)."""

    revision = "R2132"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # decision -> the fence its next write carries: the snapshot's tail, then the id of the decision's
        # own last write, or the tail of a reload that found only its own writes (the runtime's own state:
        # the events array it loaded and what its writes returned)
        self._fences: dict = {}

    async def create(self, run: str, req: dict, swallow=(409,), decision: Decision | None = None) -> dict | None:
        if decision is None or req["eventType"] not in FENCED_SITES or "lastKnownEventId" in req:
            return await super().create(run, req, swallow, decision)
        swallow = self.swallows(req["eventType"], swallow)
        for attempt in range(1, self.FENCE_ATTEMPTS + 1):
            fence = self._fences.get(decision) or (decision.snapshot[-1] if decision.snapshot else None)
            try:
                res = await create(self.world, self.ledger, run, {**req, "lastKnownEventId": fence}, (), decision)
            except (EntityConflictError, RunExpiredError, HookNotFoundError) as err:
                if not is_fence_conflict(err):
                    if err.status in swallow:
                        note(f"{req['eventType']}: {err.status} swallowed ({err})")
                        return None
                    raise
                if attempt == self.FENCE_ATTEMPTS:
                    raise
            else:
                self._fences[decision] = res["event"]["eventId"]
                return res
            await point(f"backoff before fence retry {attempt} {run}")
            log = await self.world.events_list(run)
            known = set(decision.snapshot) | decision.batch
            others = [e for e in log if e["eventId"] not in known]
            if others:
                note(f"{req['eventType']} {ev.short(req.get('correlationId') or run)}: "
                     f"{ev.describe(others[0])} arrived: decide again on the reloaded log")
                raise Redecide(req["eventType"])
            note(f"{req['eventType']}: only this decision's own writes moved the tail: retry in place")
            self._fences[decision] = log[-1]["eventId"]
        raise AssertionError("unreachable")

    async def replay_loop(self, run: str, log: list | None, msg: dict, delivery) -> None:
        for restart in range(1, self.FENCE_ATTEMPTS + 1):
            try:
                return await super().replay_loop(run, log, msg, delivery)
            except Redecide:
                if restart == self.FENCE_ATTEMPTS:
                    raise FenceConflictError(f"fence conflict: gave up deciding run {ev.short(run)}") from None
                await point(f"backoff before replaying the reloaded log {run}")
                log = None   # replay_loop reloads


RUNTIMES[Runtime2132.revision] = Runtime2132
