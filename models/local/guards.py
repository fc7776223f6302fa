"""world-local before its lock files (domain doc 4.3): the step and wait transitions of L-pre, one class
per fix, each a subclass of the previous (the hook revisions of `models.local.hooks` start at B1 = L0,
which has every lock file of 2.2.3-2.2.6).

    B14  L-pre: step_created has no guard (the racy no-overwrite write of the entity, then the event);
         wait_created reads, checks, writes; wait_completed and step_completed/step_failed read the
         status, check it and write (#1388: two scans both complete one wait)
    B15  #1434: the `.completed` / `.terminal` lock files guard the transitions; step_created and
         wait_created still have no `.created` lock (#1877)

Hook creation on these revisions is L0's (B1): what L-pre did for hooks is not modeled, and no hook
workload is registered on them. Nor are the per-instance stepLocks (E1), which came with #2295.

    L1s  the released 4.x line after #2295 (4.3.0, 4.4.1): L1's hook creation, B15's step and wait
         guards (wait_created with the package's no-overwrite write), no stepLocks. The `.created` lock files (#1877) and stepLocks are on the main line only;
         differential testing against the released package found it (README, "Model against package")

B15 is the released 4.1.0 the same way: L0's hook creation (B1) with these guards.
"""
from __future__ import annotations

from models import events as ev
from models.events import EntityConflictError, WorkflowWorldError
from models.local.hooks import B1, L1
from models.local.world import LocalWorld, step_path, wait_path


class B14(B1):
    """L-pre (before #1434 and #1877): every step and wait transition is read, check, write."""

    revision = "B14"
    step_mutex = False

    async def _step_created(self, run, req, eid, current):                     # 2.2.3 L-pre: 2 and 3 only
        corr = req["correlationId"]
        self._refuse_child_on_terminal_run(current)
        step = {"runId": run, "stepId": corr, "stepName": req["eventData"].get("stepName"), "status": "pending",
                "attempt": 0}
        await self.fs.put_nx_racy(step_path(run, corr), step)                # concurrent creators both pass
        return await self._publish_or_409(run, ev.event(eid, run, ev.STEP_CREATED, corr, req["eventData"]))

    async def _step_unguarded_terminal(self, run, req, eid, current):         # 2.2.5 without the lock (2)
        t, corr = req["eventType"], req["correlationId"]
        step = await self._read_open_step(run, corr, current)
        status = "completed" if t == ev.STEP_COMPLETED else "failed"
        await self.fs.put(step_path(run, corr), {**step, "status": status})
        return await self._publish_or_409(run, ev.event(eid, run, t, corr, req.get("eventData")))

    _step_completed = _step_failed = _step_unguarded_terminal

    async def _wait_created(self, run, req, eid, current):                     # read, then check, then write
        corr = req["correlationId"]
        self._refuse_child_on_terminal_run(current)
        if await self.fs.read(wait_path(run, corr)) is not None:
            raise EntityConflictError(f"wait {corr} already created")
        wait = {"runId": run, "waitId": f"{run}-{corr}", "status": "waiting", "resumeAt": req["eventData"]["resumeAt"]}
        await self.fs.put(wait_path(run, corr), wait)
        return await self._publish_or_409(run, ev.event(eid, run, ev.WAIT_CREATED, corr, req["eventData"]))

    async def _wait_completed(self, run, req, eid, current):                   # #1388: read, check, write
        corr = req["correlationId"]
        wait = await self.fs.read(wait_path(run, corr))
        if wait is None:
            raise WorkflowWorldError(f"Wait not found: {corr}")
        if wait["status"] == "completed":
            raise EntityConflictError(f"wait {corr} already completed")
        await self.fs.put(wait_path(run, corr), {**wait, "status": "completed"})
        return await self._publish_or_409(run, ev.event(eid, run, ev.WAIT_COMPLETED, corr, req.get("eventData")))


class B15(B14):
    """#1434: XCREATE `.completed` before a wait completes and `.terminal` before a step ends (the loser
    is told 409); step_created and wait_created still unguarded until #1877."""

    revision = "B15"
    _wait_completed = LocalWorld._wait_completed
    _step_completed = _step_failed = LocalWorld._step_terminal


class L1s(L1):
    """The released 4.x line after #2295: L1's hooks over B15's step and wait transitions (step_created
    and wait_created unguarded, no per-instance stepLocks)."""

    revision = "L1s"
    step_mutex = False
    _step_created = B14._step_created

    async def _wait_created(self, run, req, eid, current):
        """Read, check, then the package's no-overwrite write (not B14's overwrite): a second creator
        whose check comes after the first one's rename is told 409; two whose checks both come first
        both publish."""
        corr = req["correlationId"]
        self._refuse_child_on_terminal_run(current)
        if await self.fs.read(wait_path(run, corr)) is not None:
            raise EntityConflictError(f"wait {corr} already created")
        wait = {"runId": run, "waitId": f"{run}-{corr}", "status": "waiting", "resumeAt": req["eventData"]["resumeAt"]}
        await self.fs.put_nx_racy(wait_path(run, corr), wait)
        return await self._publish_or_409(run, ev.event(eid, run, ev.WAIT_CREATED, corr, req["eventData"]))


REVISIONS = {cls.revision: cls for cls in (B14, B15, L1s)}
