"""The runtime's writers (domain doc section 3): replay, the delivery handler, the suspension handler.

A workflow is a list of stages; each stage is a set of operations the workflow
awaits together (`Promise.all`). Replay walks the run's log in world order like
the EventsConsumer does and ends in a completion, a failure, or a suspension
naming what still needs creating. A delivery replays and issues what
`handleSuspension` issues, swallowing exactly what section 3.8 says it swallows.

Every call a worker makes and what it got back is written to a `Ledger`: ghost
state the invariants read (I-H1 and I-409-SOUND speak about what issuers were
told), never the worlds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from models import events as ev
from models.events import EntityConflictError, HookConflictError, HookNotFoundError, RunExpiredError
from models.executor import RETURNS, Body, Result, execute_step
from models.queues import reschedule
from sim import note, point


# ---- workflows ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    name: str
    body: Body = RETURNS   # what its user code does at each attempt (models.executor)
    prefix = "step"


@dataclass(frozen=True)
class Hook:
    """createHook / createWebhook: resolved by its first hook_received."""
    token: str
    metadata: dict | None = None
    webhook: bool = False
    prefix = "hook"


@dataclass(frozen=True)
class Workflow:
    name: str
    stages: tuple   # of tuples of Step | Hook


def correlation_ids(wf: Workflow, run: str) -> list[list[str]]:
    """The ids the VM mints for each operation: one seeded sequence per run, in call order."""
    out, n = [], 0
    for stage in wf.stages:
        out.append([ev.correlation_id(op.prefix, run, n + i) for i, op in enumerate(stage)])
        n += len(stage)
    return out


# ---- replay (3.3) ---------------------------------------------------------------------------

@dataclass
class Pending:
    op: Step | Hook
    corr: str
    created: bool = False   # hasCreatedEvent
    resolved: bool = False


@dataclass
class Replayed:
    status: str                    # "completed" | "failed" | "suspended"
    error: str = ""
    code: str = ""
    pending: list = field(default_factory=list)   # of Pending, when suspended


def replay(wf: Workflow, run: str, log: list) -> Replayed:
    ids = correlation_ids(wf, run)
    stage = 0
    active = {c: Pending(op, c) for op, c in zip(wf.stages[0], ids[0])}
    for e in log:
        t = e["eventType"]
        if t in (ev.RUN_CREATED, ev.RUN_STARTED):
            continue
        p = active.get(e["correlationId"])
        if p is None:
            return Replayed("failed", f"Unconsumed event in event log: {ev.describe(e)}", "CORRUPTED_EVENT_LOG")
        if isinstance(p.op, Step):
            if t == ev.STEP_CREATED:
                p.created = True
            elif t in ev.TERMINAL_STEP_EVENTS:
                p.resolved = True
                del active[p.corr]   # Finished: any later event of this step is unconsumed
            elif t not in (ev.STEP_STARTED, ev.STEP_RETRYING):
                return Replayed("failed", f"replay divergence at {ev.describe(e)}", "CORRUPTED_EVENT_LOG")
        else:
            if e["eventData"].get("token", p.op.token) != p.op.token:
                return Replayed("failed", f"token mismatch at {ev.describe(e)}", "CORRUPTED_EVENT_LOG")
            if t == ev.HOOK_CREATED:
                p.created = True
            elif t == ev.HOOK_CONFLICT:
                err = HookConflictError(p.op.token, e["eventData"].get("conflictingRunId"))
                return Replayed("failed", f"HookConflictError: {err}", "USER_ERROR")
            elif t == ev.HOOK_RECEIVED:
                p.resolved = True
            elif t == ev.HOOK_DISPOSED:
                del active[p.corr]
            else:
                return Replayed("failed", f"replay divergence at {ev.describe(e)}", "CORRUPTED_EVENT_LOG")
        while all(q.resolved for q in active.values() if q.corr in ids[stage]) and stage + 1 < len(wf.stages):
            stage += 1
            active.update({c: Pending(op, c) for op, c in zip(wf.stages[stage], ids[stage])})
    current = [q for q in active.values() if q.corr in ids[stage]]
    if stage + 1 == len(wf.stages) and all(q.resolved for q in current):
        return Replayed("completed")
    return Replayed("suspended", pending=[q for q in current if not q.resolved])


# ---- what workers were told (ghost state for the invariants) --------------------------------

class Ledger:
    """Every logical operation issued and each result returned: (run, type, corr) -> [result, ...].

    A result is "ok", "conflict" (hook_conflict returned), or an HTTP status ("409",
    "410", "404"); an issuer that crashed before hearing back has no result."""

    def __init__(self):
        self.issued: dict[tuple, list] = {}

    def issue(self, run: str, t: str, corr: str | None) -> list:
        return self.issued.setdefault((run, t, corr), [])

    def results(self, t: str):
        return [(k, v) for k, v in self.issued.items() if k[1] == t]


async def create(world, ledger: Ledger, run: str, req: dict, swallow=(409,)) -> dict | None:
    """events.create as a runtime write site: record the call and its result, swallow what the site
    swallows (returns None then); anything else propagates and fails the delivery."""
    results = ledger.issue(run, req["eventType"], req.get("correlationId"))
    try:
        res = await world.events_create(run, req)
    except (EntityConflictError, RunExpiredError, HookNotFoundError) as e:
        results.append(str(e.status))
        if e.status in swallow:
            note(f"{req['eventType']}: {e.status} swallowed ({e})")
            return None
        raise
    results.append("conflict" if res.get("event", {}).get("eventType") == ev.HOOK_CONFLICT else "ok")
    return res


# ---- the delivery handler (3.2) and the suspension handler (3.6) ----------------------------

class Runtime:
    """The runtime of one process: its storage instance, the run queue, the workflows by run."""

    def __init__(self, world, queue, ledger: Ledger, workflows: dict):
        self.world = world
        self.queue = queue
        self.ledger = ledger
        self.workflows = workflows

    async def deliver(self, msg: dict, _delivery=None) -> None:
        """One delivery of `{runId}` (a run message) or `{runId, stepId}` (a background step)."""
        run = msg["runId"]
        if "stepId" in msg:                                                   # H1
            cur = await self.world.runs_get(run)
            if cur is None or cur["status"] != "running":
                return
            r = await self.execute_step(run, msg["stepId"])
            if r.status == "gone":
                return
            if r.status == "retry":   # {timeoutSeconds}: this message again, once the wait is over
                await reschedule(self.world, self.queue, msg, _delivery, r.timeout)
                return
            log = await self.world.events_list(run)
            created = {e["correlationId"] for e in log if e["eventType"] == ev.STEP_CREATED}
            done = {e["correlationId"] for e in log if e["eventType"] in ev.TERMINAL_STEP_EVENTS}
            if created - done:
                return
            note("all steps done: replay inline")
            return await self.replay_loop(run, log)
        res = await create(self.world, self.ledger, run, {"eventType": ev.RUN_STARTED}, swallow=(409, 410))   # H2
        if res is None or res["run"]["status"] != "running":
            return
        await self.replay_loop(run, res["events"])

    async def replay_loop(self, run: str, log: list | None) -> None:                 # H3
        wf = self.workflows[run]
        while True:
            if log is None:
                log = await self.world.events_list(run)
            if any(e["eventType"] in ev.TERMINAL_RUN_EVENTS for e in log):
                return
            await point(f"replay {run}")   # the replay itself touches no storage
            r = replay(wf, run, log)
            note(f"replay: {r.status}{': ' + r.error if r.error else ''}")
            if r.status == "completed":
                await create(self.world, self.ledger, run, {"eventType": ev.RUN_COMPLETED}, swallow=(409, 410))
                return
            if r.status == "failed":
                await create(self.world, self.ledger, run, {"eventType": ev.RUN_FAILED,
                                                            "eventData": {"errorCode": r.code}}, swallow=(409, 410))
                return
            conflict, created = await self.handle_suspension(run, r.pending)
            if conflict:   # {timeoutSeconds: 0}: deliver the run again
                await self.queue.send({"runId": run})
                return
            steps = [p for p in r.pending if isinstance(p.op, Step)]
            inline = next((p for p in steps if p.corr in created), None)
            for p in steps:
                if p is not inline:
                    await self.queue.send({"runId": run, "stepId": p.corr}, key=p.corr)
            if inline is None:
                return
            r = await self.execute_step(run, inline.corr)
            if r.status == "retry":   # queue(step message, delaySeconds)
                await self.queue.send({"runId": run, "stepId": inline.corr}, key=inline.corr, delay=r.timeout)
                return
            log = None

    async def handle_suspension(self, run: str, pending: list) -> tuple[bool, set]:
        conflict = False
        for p in pending:                                                      # S1
            if isinstance(p.op, Hook) and not p.created:
                h = p.op
                res = await create(self.world, self.ledger, run, {
                    "eventType": ev.HOOK_CREATED, "correlationId": p.corr,
                    "eventData": {"token": h.token, "metadata": h.metadata, "isWebhook": h.webhook}},
                    swallow=(409, 410))
                conflict |= res is not None and res["event"]["eventType"] == ev.HOOK_CONFLICT
        created = set()
        for p in pending:                                                      # S4
            if isinstance(p.op, Step) and not p.created:
                res = await create(self.world, self.ledger, run, {
                    "eventType": ev.STEP_CREATED, "correlationId": p.corr,
                    "eventData": {"stepName": p.op.name}})
                if res is not None:
                    created.add(p.corr)
        return conflict, created

    async def execute_step(self, run: str, corr: str) -> Result:                # 3.4
        wf = self.workflows[run]
        ops = {c: op for stage, cs in zip(wf.stages, correlation_ids(wf, run)) for op, c in zip(stage, cs)}
        return await execute_step(create, self.world, self.ledger, run, corr, ops[corr].body)


async def resume_hook(world, queue, ledger: Ledger, token: str, payload) -> bool:
    """resumeHook (3.7): find the hook by token, write hook_received, wake the run. False: "hook gone"."""
    results = ledger.issue("-", "resumeHook", token)
    try:
        hook = await world.hooks_get_by_token(token)
    except HookNotFoundError:
        results.append("404")
        note(f"resumeHook({token}): HookNotFoundError")
        return False
    run = hook["runId"]
    res = await create(world, ledger, run, {"eventType": ev.HOOK_RECEIVED, "correlationId": hook["hookId"],
                                            "eventData": {"token": token, "payload": payload}}, swallow=(404, 410))
    if res is None:
        results.append("gone")
        return False
    results.append("ok")
    await queue.send({"runId": run})
    return True
