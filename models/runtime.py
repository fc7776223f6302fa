"""The runtime's writers (domain doc section 3): replay, the delivery handler with its elapsed-wait scan,
the suspension handler and resumeHook; steps run through the step executor (`models.executor`), and a
handler's `{timeoutSeconds}` goes to its world's queue (`models.queues.reschedule`).

Workflows are written in `models.workflow`'s language and replayed by it. A
delivery replays and issues what `handleSuspension` issues, swallowing exactly
what section 3.8 says it swallows.

Every call a worker makes and what it got back is written to a `Ledger`: ghost
state the invariants read (I-H1 and I-409-SOUND speak about what issuers were
told), never the worlds.

Runtime revisions (`RUNTIMES`) differ in the elapsed-wait scan (3.5):
`R-June` appends its wait_completed to the snapshot it loaded (B22, #2029);
`R2029` re-reads the log after writing it and replays the fresh log if anything
else appeared; and in what a write site swallows (3.8): `R-pre1418` is R-June
without #1418's catches, so a 409/410 escapes the delivery, which the queue
redelivers (B26). A delivery that ends in an escaped 409/410 is written to the
ledger (`Ledger.escaped`). `R2780` is R-June with #2780's fix: an inline step_started
carries its delivery's message id, and a replay does not re-dispatch a step another
delivery owns and still runs (B30).

The ledger also keeps the step bodies in flight (`Ledger.body_started`): I-EXEC.
"""
from __future__ import annotations

from dataclasses import dataclass

from models import events as ev
from models.events import EntityConflictError, HookNotFoundError, RunExpiredError
from models.executor import execute_step
from models.queues import reschedule, send_later
from models.workflow import (HookOp, Promise, StepCall, StepFn, WaitOp, Workflow, create_hook, create_webhook,
                             replay, step, workflow)
from sim import choose, current_actor, current_process, note, now, point, wait
from sim.primitives import INFLIGHT
from sim.runtime import faults_injected
from sim.tape import RAND

__all__ = ["Ledger", "Runtime", "Runtime2029", "RuntimePre1418", "Runtime3749", "Runtime2780", "Runtime2113", "Runtime2113Broad", "Decision", "RUNTIMES", "create",
           "resume_hook", "replay", "staged", "Workflow", "workflow"]


# ---- stage workflows ------------------------------------------------------------------------

@dataclass(frozen=True)
class Hook:
    """A hook in a stage workflow (`staged`): createHook / createWebhook."""
    token: str
    metadata: dict | None = None
    webhook: bool = False


def staged(name: str, *stages) -> Workflow:
    """A workflow that awaits each stage with Promise.all, in order: a stage is a list of step
    functions, step names (str: a step whose body returns "ok") and `Hook`s.
    `staged("w", ["a", "b"], [Hook("t")])` is

        async function w() { await Promise.all([a(), b()]); await Promise.all([createHook({token: "t"})]) }
    """
    fns = {op: op if isinstance(op, StepFn) else step(op) for st in stages for op in st if not isinstance(op, Hook)}

    async def body():
        for st in stages:
            await Promise.all([(create_webhook if op.webhook else create_hook)(op.token, op.metadata)
                               if isinstance(op, Hook) else fns[op]() for op in st])
    return Workflow(name, body)


# ---- what workers were told (ghost state for the invariants) --------------------------------

class Decision:
    """Ghost state for I-FENCE (domain doc 5.7): the snapshot one branch decision was made on (the eventIds
    of the log a scan read, or of the log a replay ran over) and the events its writes committed (its own
    batch: the events I-FENCE exempts), with each write's (eventType, correlationId, eventId). Recorded
    where the runtime writes; nothing reads it but the invariant."""

    __slots__ = ("run", "writer", "snapshot", "batch", "writes")

    def __init__(self, run: str, writer: str, snapshot: tuple):
        self.run, self.writer, self.snapshot = run, writer, snapshot
        self.batch: set = set()
        self.writes: list = []

    def wrote(self, e: dict) -> None:
        self.batch.add(e["eventId"])
        self.writes.append((e["eventType"], e.get("correlationId"), e["eventId"]))


class Ledger:
    """Every logical operation issued and each result returned: (run, type, corr) -> [result, ...].

    A result is "ok", "conflict" (hook_conflict returned), or an HTTP status ("409",
    "410", "404"); an issuer that crashed before hearing back has no result."""

    def __init__(self):
        self.issued: dict[tuple, list] = {}
        self.escaped: list = []   # (message, status, error) of every delivery a 409/410 escaped
        self.bodies: dict[tuple, list] = {}   # (run, corr) -> [(attempt, actor), ...] of the bodies in flight
        # (run, corr, (attempt, actor) in flight, (attempt, actor) started) of each body started while another
        # of its step was in flight and no crash or redelivery had happened (I-EXEC)
        self.overlaps: list = []
        self.decisions: list = []   # Decision of every branch decision a runtime wrote from (I-FENCE)

    def decide(self, run: str, log: list) -> Decision:
        """A branch decision made now, by this actor, on `log`."""
        d = Decision(run, current_actor().name, tuple(e["eventId"] for e in log))
        self.decisions.append(d)
        return d

    def body_started(self, run: str, corr: str, attempt: int) -> tuple:
        live = self.bodies.setdefault((run, corr), [])
        me = (attempt, current_actor().name)
        if live and faults_injected() == 0:
            self.overlaps.append((run, corr, live[0], me))
        live.append(me)
        return me

    def body_finished(self, run: str, corr: str, me: tuple) -> None:
        self.bodies[(run, corr)].remove(me)

    def issue(self, run: str, t: str, corr: str | None) -> list:
        return self.issued.setdefault((run, t, corr), [])

    def results(self, t: str):
        return [(k, v) for k, v in self.issued.items() if k[1] == t]


async def create(world, ledger: Ledger, run: str, req: dict, swallow=(409,), decision: Decision | None = None) -> dict | None:
    """events.create as a runtime write site: record the call and its result, swallow what the site
    swallows (returns None then); anything else propagates and fails the delivery. `decision`: the branch
    decision this write carries out (ghost, I-FENCE)."""
    results = ledger.issue(run, req["eventType"], req.get("correlationId"))
    try:
        res = await world.events_create(run, req)
    except (EntityConflictError, RunExpiredError, HookNotFoundError) as e:
        results.append(getattr(e, "ledger_status", str(e.status)))
        if e.status in swallow:
            note(f"{req['eventType']}: {e.status} swallowed ({e})")
            return None
        raise
    results.append("conflict" if res.get("event", {}).get("eventType") == ev.HOOK_CONFLICT else "ok")
    if decision is not None and res.get("event"):
        decision.wrote(res["event"])
    return res


# ---- the delivery handler (3.2), the elapsed-wait scan (3.5), the suspension handler (3.6) ----

def min_wait(pending: list, t: int) -> int | None:
    """S5: the smallest ceil(max(1 s, resumeAt - now)) over the pending waits, in ms (None: no wait)."""
    waits = [op.resume_at for op in pending if isinstance(op, WaitOp)]
    if not waits:
        return None
    return min(-(-max(1000, at - t) // 1000) * 1000 for at in waits)


def due_waits(log: list, t: int) -> list:
    """The scan's work: the wait_created events of the snapshot that are due at `t` and not completed in it."""
    done = {e["correlationId"] for e in log if e["eventType"] == ev.WAIT_COMPLETED}
    return [e for e in log if e["eventType"] == ev.WAIT_CREATED and e["correlationId"] not in done
            and t >= e["eventData"]["resumeAt"]]


class Runtime:
    """The runtime of one process (R-June): its storage instance, its world's queue (models.queues), the
    workflows by run."""

    revision = "R-June"

    def __init__(self, world, queue, ledger: Ledger, workflows: dict):
        self.world = world
        self.queue = queue
        self.ledger = ledger
        self.workflows = workflows

    async def return_timeout(self, msg: dict, delivery, delay: int) -> None:
        """The handler returns `{timeoutSeconds}`: the world's queue delivers `msg` again after `delay` ms."""
        await reschedule(self.world, self.queue, msg, delivery, delay)

    @staticmethod
    def swallows(t: str, site: tuple) -> tuple:
        """What the write site of `t` swallows at this revision: `site`, as 3.8's matrix lists it."""
        return site

    async def create(self, run: str, req: dict, swallow=(409,), decision: Decision | None = None) -> dict | None:
        return await create(self.world, self.ledger, run, req, self.swallows(req["eventType"], swallow), decision)

    async def execute_step(self, run: str, corr: str):                                  # 3.4
        """executeStep (models.executor), with this revision's error-swallow matrix."""
        return await execute_step(create, self.world, self.ledger, run, corr, self.swallows)

    async def handle(self, msg: dict, delivery=None) -> None:
        """The queue's callback: a delivery that ends in a 409/410 is recorded (it escaped to the queue,
        which logs it and redelivers the message), then fails as it would."""
        try:
            await self.deliver(msg, delivery)
        except (EntityConflictError, RunExpiredError) as e:
            self.ledger.escaped.append((dict(msg), str(e.status), str(e)))
            raise

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
                return await self.return_timeout(msg, _delivery, r.timeout)
            log = await self.world.events_list(run)
            created = {e["correlationId"] for e in log if e["eventType"] == ev.STEP_CREATED}
            done = {e["correlationId"] for e in log if e["eventType"] in ev.TERMINAL_STEP_EVENTS}
            if created - done:
                return
            note("all steps done: replay inline")
            return await self.replay_loop(run, log, msg, _delivery)
        # H2; a message from start() carries the run input, for run_started's resilient path
        start = {"eventType": ev.RUN_STARTED, **({"eventData": msg["runInput"]} if "runInput" in msg else {})}
        res = await self.create(run, start, swallow=(409, 410))
        if res is None or res["run"]["status"] != "running":
            return await self.ended(run, None)
        await self.replay_loop(run, res["events"], msg, _delivery)

    async def replay_loop(self, run: str, log: list | None, msg: dict, delivery) -> None:   # H3
        wf = self.workflows[run]
        while True:
            if log is None:
                log = await self.world.events_list(run)
            if any(e["eventType"] in ev.TERMINAL_RUN_EVENTS for e in log):
                return await self.ended(run, log)
            log = await self.complete_elapsed_waits(run, log)
            await point(f"replay {run}")   # the replay itself touches no storage
            r = self.replay(wf, run, log)
            note(f"replay: {r.status}{': ' + r.error if r.error else ''}")
            decision = self.ledger.decide(run, log)   # ghost: what the writes below were decided on
            if r.status in ("completed", "failed"):
                t, data = r.terminal()
                await self.create(run, {"eventType": t, "eventData": data}, swallow=(409, 410), decision=decision)
                return
            conflict, created = await self.handle_suspension(run, r.pending, decision)
            if conflict:   # {timeoutSeconds: 0}: deliver the run again
                await self.queue.send({"runId": run})
                return
            steps = [op for op in r.pending if isinstance(op, StepCall)]
            waiting = min_wait(r.pending, now())
            # inline: the first step this handler created, but none while a wait is pending
            inline = None if waiting is not None else next((op for op in steps if op.corr in created), None)
            for op in steps:
                if op is not inline:
                    await self.dispatch(run, op, log, delivery)
            if inline is None:
                if waiting is not None:
                    await self.return_timeout(msg, delivery, waiting)
                return
            r = await self.execute_inline(run, inline.corr, delivery)
            if r.status == "retry":   # queue(step message, delaySeconds)
                await send_later(self.queue, {"runId": run, "stepId": inline.corr}, inline.corr, r.timeout)
                return
            log = None

    async def dispatch(self, run: str, op: StepCall, log: list, delivery) -> None:
        """queue(step message, idempotencyKey = correlationId) for a pending step this handler does not run
        inline: R-June re-dispatches a step another delivery is running (B30, #2780)."""
        await self.queue.send({"runId": run, "stepId": op.corr}, key=op.corr)

    async def execute_inline(self, run: str, corr: str, delivery):
        return await self.execute_step(run, corr)

    async def ended(self, run: str, log: list | None) -> None:
        """A delivery of a run that is not running (or whose log is terminal) acks at once: a due wait of
        an ended run stays open for good (B29)."""

    def replay(self, wf: Workflow, run: str, log: list):
        """The VM's replay of this runtime revision (3.3)."""
        return replay(wf, run, log)

    # ---- 3.5 -------------------------------------------------------------------------------

    async def complete_elapsed_waits(self, run: str, log: list) -> list:
        """The elapsed-wait scan: complete every wait of the snapshot that is due and not completed in the
        snapshot (409: already completed; anything else fails the delivery), then `after_scan`."""
        due = due_waits(log, now())
        if not due:
            return log
        written = []
        decision = self.ledger.decide(run, log)
        for e in due:
            res = await self.create(run, {
                "eventType": ev.WAIT_COMPLETED, "correlationId": e["correlationId"],
                "eventData": {"resumeAt": e["eventData"]["resumeAt"]}}, decision=decision)
            if res is not None:
                written.append(res["event"])
        return await self.after_scan(run, log, written)

    async def after_scan(self, run: str, log: list, written: list) -> list:
        """R-June: append what the scan wrote to the in-memory snapshot, which may be missing events
        committed meanwhile (B22: a hook_received committed between the load and wait_completed)."""
        return log + written

    # ---- 3.6 -------------------------------------------------------------------------------

    async def handle_suspension(self, run: str, pending: list, decision: Decision | None = None) -> tuple[bool, set]:
        """S1, S2, S4: each phase's writes concurrently (`all_writes`), the phases one after another.
        `decision`: the replay's snapshot (ghost, I-FENCE; #2132 fences on it)."""
        hooks = [op for op in pending if isinstance(op, HookOp)]
        created_hooks = await self.all_writes(run, decision=decision, writes=[({                  # S1
            "eventType": ev.HOOK_CREATED, "correlationId": op.corr,
            "eventData": {"token": op.token, "metadata": op.metadata, "isWebhook": op.webhook}}, (409, 410))
            for op in hooks if not op.created])
        conflict = any(res is not None and res["event"]["eventType"] == ev.HOOK_CONFLICT for res in created_hooks)
        await self.all_writes(run, decision=decision, writes=[({                                # S2
            "eventType": ev.HOOK_DISPOSED, "correlationId": op.corr, "eventData": {"token": op.token}}, (409, 410, 404))
            for op in hooks if op.disposed])   # a hook created in this suspension too (S1 first)
        steps = [op for op in pending if isinstance(op, StepCall) and not op.created]
        results = await self.all_writes(run, decision=decision, writes=[({                      # S4
            "eventType": ev.STEP_CREATED, "correlationId": op.corr,
            "eventData": {"stepName": op.name, **({"input": list(op.args)} if op.args else {})}}, (409,))
            for op in steps] + [({
                "eventType": ev.WAIT_CREATED, "correlationId": op.corr, "eventData": {"resumeAt": op.resume_at}}, (409,))
            for op in pending if isinstance(op, WaitOp) and not op.created])
        created = {op.corr for op, res in zip(steps, results) if res is not None}
        return conflict, created

    async def all_writes(self, run: str, writes: list, decision: Decision | None = None) -> list:
        """`await Promise.all(writes.map(create))`: one actor per (request, swallowed statuses) in this
        process, all started at once; the results (None: swallowed) in call order once every write has
        settled. A single write runs inline (no actor), as does nothing at all.

        Model difference: Promise.all rejects at the first rejection, and the delivery fails then while
        the other writes are still in flight (nothing cancels them; they land). Here the delivery fails
        (with the error of the write that failed first) only once all of them have settled: every write
        lands either way, and what the model leaves out is a redelivery of the failed message overlapping
        the writes still in flight, which would need actors that outlive their delivery."""
        if len(writes) <= 1:
            return [await self.create(run, req, swallow, decision) for req, swallow in writes]
        join = _Join(len(writes))
        proc = current_process()
        for i, (req, swallow) in enumerate(writes):
            a = proc.spawn(f"{req['eventType']} {ev.short(req['correlationId'])}", _write, self, join, i, run, req,
                           swallow, decision)
            ghost = getattr(self.world, "frontiers", None)   # I-LOG3: the write is decided from this handler's snapshot
            if ghost is not None:
                ghost.inherit(a.name)
        await wait(f"Promise.all({len(writes)} writes) {run}", join.settled)
        if join.errors:
            raise join.errors[0]
        return join.results


class _Join:
    """The settlement of one `Promise.all` over writes: results by call index, errors in settle order."""

    def __init__(self, n: int):
        self.left = n
        self.results: list = [None] * n
        self.errors: list = []

    def settled(self) -> bool:
        return self.left == 0


async def _write(rt: "Runtime", join: _Join, i: int, run: str, req: dict, swallow: tuple,
                 decision: Decision | None = None) -> None:
    """One write of a `Promise.all` (an actor): settles into `join`, never raises (the awaiting handler
    rethrows). A crash of the process kills it with its handler."""
    try:
        join.results[i] = await rt.create(run, req, swallow, decision)
    except Exception as e:   # what would reject the promise; a crash (BaseException) passes
        join.errors.append(e)
    join.left -= 1


class Runtime2029(Runtime):
    """#2029: after the scan's writes, re-read the log; if any event other than the scan's own appeared
    after the snapshot, replay the fresh log instead of the augmented snapshot."""

    revision = "R2029"

    async def after_scan(self, run: str, log: list, written: list) -> list:
        # the re-query after the snapshot's cursor (domain 3.5): an event whose key is below the cursor
        # but that was committed after the snapshot is in neither (the mint-before-commit hazard, B25)
        delta = await self.world.events_list(run, after=log[-1]["eventId"]) if log else \
            await self.world.events_list(run)
        known = {e["eventId"] for e in log} | {e["eventId"] for e in written}
        if any(e["eventId"] not in known for e in delta):
            note("#2029 re-read: events arrived after the snapshot's cursor; replaying the refreshed log")
            return log + [e for e in delta if e["eventId"] not in {x["eventId"] for x in log}]
        return log + written


class RuntimePre1418(Runtime):
    """The runtime before #1418 ("Don't fail to queue on 409 responses"): the catch sites that pull
    request lists (run_started, run_completed, run_failed, hook_created, hook_disposed, wait_completed,
    step_started, step_completed, step_created, wait_created) let 409 and 410 through, so they escape the
    delivery and the queue logs and redelivers it (B26).

    Model difference: before #1418 some of these sites already swallowed part of it (#1118: 409 on
    run_completed/run_failed; #1120: 409 on step_completed/failed/retrying; early hook_created: 410). The
    model takes every catch the pull request's eight scenarios name as absent, which is the runtime those
    scenarios argue about; 404 (hook_disposed) is swallowed as in R-June."""

    revision = "R-pre1418"

    @staticmethod
    def swallows(t: str, site: tuple) -> tuple:
        return tuple(s for s in site if s not in (409, 410))


class Runtime3749(Runtime):
    """#3749 (open pull request): complete the due waits of a run regardless of its status. A delivery
    of an ended run runs the elapsed-wait scan before it acks (the world must accept a wait_completed
    whose entity the termination deleted: world-local's `L3749`)."""

    revision = "R3749"

    async def ended(self, run: str, log: list | None) -> None:
        # regardless of status, as the pull request says: the run entity may already say "completed"
        # while its run_completed is not yet in the log (world-local writes the entity first), so
        # waiting for a terminal event in the log would ack that wake-up and leave the wait open
        if log is None:
            log = await self.world.events_list(run)
        await self.complete_elapsed_waits(run, log)


class RuntimePre2171(Runtime):
    """Before #2171 (B24): a hook's payload reached the workflow when its hydration (asynchronous)
    finished, while the events consumer went on synchronously. Whether a `wait_completed` right after
    a `hook_received` in the log is consumed before the hook's promise resolves depended on timing: the
    scheduler decides it per replay. The cold replay of I-REPLAY keeps the fixed rule (log order)."""

    revision = "R-pre2171"

    def replay(self, wf: Workflow, run: str, log: list):
        racy = any(e["eventType"] == ev.HOOK_RECEIVED for e in log[:-1])
        late = racy and choose(RAND, 2, "hook payload hydrated: at its log position (0) or late (1)")
        if late:
            note("pre-#2171 replay: the hook's payload hydrates after the next event")
        return replay(wf, run, log, hydrate_late=bool(late))



class Runtime2780(Runtime):
    """#2780 (fixed by #2848, 3.2 delta (c)): an inline step_started carries the delivery's message id as
    `ownerMessageId`; a replay that finds a pending step whose last step_started another delivery owns,
    with no step_retrying after it, and that owner still active, defers instead of re-dispatching it (the
    owner's own loop replays when the step is done).

    Model differences: the owner's lease is "its message is still in flight in this process's queue"
    (the real fix keeps a time lease and arms a delayed backstop that re-dispatches once it expires; a
    crash here loses world-local's queue or, on postgres, the held job is redelivered with the same id,
    which then owns the step itself); step messages (queue-owned steps) are not stamped."""

    revision = "R2780"

    async def execute_inline(self, run: str, corr: str, delivery):
        owner = delivery.message.id if delivery is not None else None
        return await execute_step(create, self.world, self.ledger, run, corr, self.swallows, owner=owner)

    def _owner(self, log: list, corr: str) -> str | None:
        """The ownerMessageId of the step's last step_started, if nothing (step_retrying) came after it."""
        mine = [e for e in log if e["correlationId"] == corr and e["eventType"].startswith("step_")]
        last = mine[-1] if mine else None
        if last is None or last["eventType"] != ev.STEP_STARTED:
            return None
        return (last.get("eventData") or {}).get("ownerMessageId")

    async def dispatch(self, run: str, op: StepCall, log: list, delivery) -> None:
        owner = self._owner(log, op.corr)
        if owner is not None and (delivery is None or owner != delivery.message.id):
            await point(f"is {owner} still running {ev.short(op.corr)}?", reads=(self.queue.key,))
            if any(m.id == owner and m.state == INFLIGHT for m in self.queue.messages):
                note(f"step {ev.short(op.corr)} is owned by {owner}, still in flight: defer")
                return
        await super().dispatch(run, op, log, delivery)


def is_fence_conflict(e: Exception) -> bool:
    """#2113 tells a fence conflict from other 409s by the server's message (/fence conflict/i)."""
    return isinstance(e, EntityConflictError) and "fence conflict" in str(e).lower()


class Runtime2113(Runtime2029):
    """#2113 (open pull request, on top of #2029): the scan's wait_completed carries `lastKnownEventId`, the
    tail of the loaded log (then the id of the scan's own last write). On a 409 the write is retried in
    place up to `FENCE_ATTEMPTS` times in all: reload the log; a wait the reloaded log shows completed is
    skipped; otherwise write again fenced on the reloaded tail. Exhausted attempts fail the delivery.
    Needs a fenced world (models.fence); an unfenced world ignores the field.

    Model difference: the backoff between attempts is a scheduling point, not a span of virtual time."""

    revision = "R2113"
    FENCE_ATTEMPTS = 5

    async def complete_elapsed_waits(self, run: str, log: list) -> list:
        due = due_waits(log, now())
        if not due:
            return log
        fence = log[-1]["eventId"]
        written = []
        decision = self.ledger.decide(run, log)
        for e in due:
            corr = e["correlationId"]
            for attempt in range(1, self.FENCE_ATTEMPTS + 1):
                try:
                    res = await self.create(run, {
                        "eventType": ev.WAIT_COMPLETED, "correlationId": corr, "lastKnownEventId": fence,
                        "eventData": {"resumeAt": e["eventData"]["resumeAt"]}}, swallow=(), decision=decision)
                except EntityConflictError as err:
                    if not self.retries(err) or attempt == self.FENCE_ATTEMPTS:
                        if is_fence_conflict(err):
                            raise
                        note(f"wait_completed {ev.short(corr)}: 409 taken as already completed")
                        break
                    await point(f"backoff before fence retry {attempt} {run}")
                    log, written = await self.world.events_list(run), []   # the reload holds what we wrote
                    fence = log[-1]["eventId"]
                    decision = self.ledger.decide(run, log)
                    if any(x["eventType"] == ev.WAIT_COMPLETED and x["correlationId"] == corr for x in log):
                        note(f"wait_completed {ev.short(corr)}: completed in the reloaded log")
                        break
                    continue
                written.append(res["event"])
                fence = res["event"]["eventId"]
                break
        return await self.after_scan(run, log, written)

    @staticmethod
    def retries(err: EntityConflictError) -> bool:
        """Which 409s reload and retry: every one (a 409 is "already completed" only once the reloaded log
        shows it)."""
        return True


class Runtime2113Broad(Runtime2113):
    """#2113 as its stress run reports it: only a fence conflict reloads and retries; any other 409 is
    taken as "Wait already completed, skipping" without looking (the follow-up hang of two sleeps in one
    Promise.all)."""

    revision = "R2113-broad"

    @staticmethod
    def retries(err: EntityConflictError) -> bool:
        return is_fence_conflict(err)


RUNTIMES = {cls.revision: cls for cls in (Runtime, Runtime2029, RuntimePre1418, Runtime3749, RuntimePre2171,
                                              Runtime2780, Runtime2113, Runtime2113Broad)}


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
