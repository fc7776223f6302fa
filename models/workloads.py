"""Workloads that run against any world (domain doc 3 and 6): the runtime's deliveries and write sites
over one world interface, so a workload is pointed at `local:REV` or `postgres:REV` by its world class.

A world class gives: `storage()` (the durable state all processes share), `view(storage)` (what
invariants read), `seed_run/seed_event/seed_step` (state that exists before the exploration) and,
per process, an instance with `events_create`, `events_list`, `runs_get`, `hooks_get_by_token`.

Each factory takes the world class and returns `(setup, params)`. Workloads name the
catalogue shape they reproduce; which revision breaks which invariant on which workload is the
scenario modules' business (`models.local.scenarios`, `models.postgres.scenarios`).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from models import events as ev
from models.queues import (DELIVERY_TIMEOUT, HELD_UNTIL_ACK, MAX_DELIVERIES, concurrent_deliveries, process_queues,
                           reenqueue_active_runs, restarted, run_queue)
from models.runtime import RUNTIMES, Hook, Ledger, Runtime, create, resume_hook, staged
from models.workflow import Body, Promise, Workflow, create_hook, sleep, step, workflow
from sim import Faults, ModelInfo, Queue, Scenario, choose, current_process, variants, wait
from sim import sleep as sleep_for
from sim.tape import RAND


@dataclass
class Env:
    """What invariants see: the world's durable state (through its view), what workers were told,
    each hook's token, and each run's workflow (for the cold replay of I-REPLAY)."""
    storage: Any
    world: type
    ledger: Ledger = field(default_factory=Ledger)
    tokens: dict = field(default_factory=dict)      # (run, hook) -> token
    workflows: dict = field(default_factory=dict)   # run -> Workflow
    liveness: bool = False   # I-LIVE checks these runs: the workload drives them with every delivery they need
    # I-EXEC's in-flight clause (#2780): at most one body of a step in flight unless a fault happened
    exec_in_flight: bool = False
    # #3749's stance (B29): I-W2 counts the waits of ended runs too, and I-R2 lets their wait_completed follow T
    waits_of_ended_runs: bool = False
    # I-LOG2 (a diagnostic: both worlds break it before server-assigned positions): the worlds record
    # what each reader saw of a log (models.events.observe_log)
    log_prefix: bool = False
    # I-H9: resumes carry a resumeId (the resilient resumeHook, models.resume)
    resume_ids: bool = False
    # I-FENCE (stale-write freedom): every branch-decision write is preceded by exactly its decision's
    # snapshot (ghost: Ledger.decisions); a diagnostic like I-LOG2, checked where a workload opts in (True:
    # every branch-decision write; a tuple of event types: those writes only)
    stale_writes: bool | tuple = False
    view: Any = field(init=False)

    def __post_init__(self):
        self.view = self.world.view(self.storage)
        if self.log_prefix:
            self.storage.observed = {}
            self.storage.frontiers = ev.WriterFrontiers()


def hc(hook: str, token: str, metadata=None, webhook: bool = False) -> dict:
    return {"eventType": ev.HOOK_CREATED, "correlationId": hook,
            "eventData": {"token": token, "metadata": metadata, "isWebhook": webhook}}


def sc(corr: str, name: str) -> dict:
    return {"eventType": ev.STEP_CREATED, "correlationId": corr, "eventData": {"stepName": name}}


def job_env(rev, runs, tokens: dict | None = None) -> tuple[Env, Queue]:
    """The state of a job workload: running `runs`, the hooks' tokens, an empty job queue."""
    env = Env(rev.storage(), rev)
    env.tokens.update(tokens or {})
    for run in runs:
        rev.seed_run(env.storage, run)
    return env, Queue("creations", visibility_timeout=DELIVERY_TIMEOUT, max_deliveries=MAX_DELIVERIES,
                      timed_redelivery=HELD_UNTIL_ACK)


def job_consumers(sim, env: Env, q: Queue, processes: int) -> None:
    """Processes whose workers issue each job's creation as the suspension handler does (409 and 410
    swallowed; anything else fails the delivery, which is retried)."""
    async def handle(job, _delivery):
        await create(current_process().volatile["world"], env.ledger, job["run"], job["req"], swallow=(409, 410))

    def start(p):
        p.volatile["world"] = env.world(env.storage)
        q.consume(p, handle)

    for i in range(processes):
        sim.process(f"p{i + 1}", start)


def runtime_processes(sim, env: Env, q: Queue, names=("p1", "p2"), extra=None, runtime=Runtime) -> dict:
    """Processes whose consumers run the delivery handler (3.2) of `runtime` on their world's queue
    (models.queues: `q` itself, or world-local's in-memory queue of each process, dealt `q`'s seeded
    messages); a restarted process re-enqueues the active runs; `extra(p, world, queue)` starts more
    actors in a process (and again after it restarts). Returns each process's queue by name."""
    procs = [sim.process(name) for name in names]
    queues = process_queues(sim, env.world, q, list(names))
    consumers = concurrent_deliveries(env.world)

    def start(p):
        world = env.world(env.storage)
        queue = queues[p.name]
        queue.consume(p, runtime(world, queue, env.ledger, env.workflows).handle, concurrency=consumers)
        if restarted(p):
            p.spawn("reenqueueActiveRuns", reenqueue_active_runs, world, queue)
        if extra is not None:
            extra(p, world, queue)

    for p in procs:
        p.start = start
        start(p)
    return queues


def has_event(env: Env, run: str, t: str) -> bool:
    return any(e["eventType"] == t for e in env.view.log(run))


def first_delivery(rev, env: Env, run: str, deliveries: int = 1) -> Queue:
    """The run seeded `pending` (its run_created written) and `deliveries` run messages queued for it."""
    rev.seed_run(env.storage, run, "pending")
    q = run_queue(rev)
    for _ in range(deliveries):
        q.push({"runId": run})
    return q


async def hook_logged(env: Env, run: str) -> None:
    """Park (idle) until the run's hook_created is in the log: a caller POSTs to a hook only once it exists."""
    await wait("await hook_created in the log", lambda: has_event(env, run, ev.HOOK_CREATED),
               reads=(env.view.log_key(run),), idle=True)


# ---- hook workloads (4.1) -----------------------------------------------------------------------

def wl_1665(rev, complete: bool = False):
    """#1665 / parallelStepsThenWebhookWorkflow: two steps in parallel, then a webhook its caller resumes.

    The run delivery creates both steps, runs one inline and queues the other; the
    process that finishes the second step sees "all steps done" and replays inline,
    racing the first delivery's own replay to create the webhook. After the webhook
    the workflow waits for an approval hook nobody resumes (the run stays live), or,
    with `complete`, returns (the run completes and its hooks are cleaned up)."""
    run = ev.run_id("1665")
    token = "wh-1665"
    stages = (["a", "b"], [Hook(token, {"v": "a"}, True)])
    if not complete:
        stages += ([Hook("approval-1665")],)
    wf = staged("parallelStepsThenWebhook", *stages)
    flat = [op for stage in stages for op in stage]   # correlation ids are call ordinals

    def setup(sim):
        env = Env(rev.storage(), rev, workflows={run: wf}, liveness=True)
        env.tokens.update({(run, ev.correlation_id("hook", run, i)): op.token
                           for i, op in enumerate(flat) if isinstance(op, Hook)})
        q = first_delivery(rev, env, run)

        async def caller(world, queue):
            # the webhook's caller: once the hook is in the log, POST to it (resumeHook)
            await hook_logged(env, run)
            await resume_hook(world, queue, env.ledger, token, {"body": "hello"})

        runtime_processes(sim, env, q, extra=lambda p, world, queue: p.spawn("resumeHook", caller, world, queue)
                          if p.name == "p2" else None)
        return env

    return setup, {"complete": complete}


def wl_pairs(rev, pairs: int = 2):
    """The upstream convergence test: each of `pairs` hooks created twice, by two processes."""
    if pairs < 1:
        raise ValueError(f"pairs must be >= 1, got {pairs}")
    run = ev.run_id("pairs")

    def setup(sim):
        tokens = {(run, ev.correlation_id("hook", run, i)): f"tok-{i + 1}" for i in range(pairs)}
        env, q = job_env(rev, [run], tokens)
        for (_, hook), token in tokens.items():
            for _ in range(2):
                q.push({"run": run, "req": hc(hook, token)})
        job_consumers(sim, env, q, 2)
        return env

    return setup, {"pairs": pairs}


def wl_dup_retry(rev):
    """hook_created(H, T, {v: a}, webhook) and a duplicate retry with {v: b}, not a webhook, one after the other."""
    run = ev.run_id("dup")
    hook, token = ev.correlation_id("hook", run, 0), "tok-dup"

    def setup(sim):
        env, q = job_env(rev, [run], {(run, hook): token})
        q.push({"run": run, "req": hc(hook, token, {"v": "a"}, True)})
        q.push({"run": run, "req": hc(hook, token, {"v": "b"}, False)})
        job_consumers(sim, env, q, 1)
        return env

    return setup, {}


def wl_event_first(rev):
    """One hook creation whose process may crash between two of its writes; the redelivered job retries it."""
    run = ev.run_id("event-first")
    hook, token = ev.correlation_id("hook", run, 0), "tok-ef"

    def setup(sim):
        env, q = job_env(rev, [run], {(run, hook): token})
        q.push({"run": run, "req": hc(hook, token, {"v": "a"})})
        job_consumers(sim, env, q, 1)
        return env

    return setup, {}


# ---- step workloads (4.2) -----------------------------------------------------------------------

def _one_step(name: str):
    run = ev.run_id(name)
    return run, staged(name, ["a"]), ev.correlation_id("step", run, 0)


def wl_step_dup(rev, status: str = "running", exec_in_flight: bool = False):
    """#2039: two deliveries of one run (two wake-ups, two pods) replay to the same suspension with one
    pending step; each creates it, the winner runs it inline, the other queues its step message.
    With `status="pending"` both deliveries are first deliveries and race run_started too.
    `exec_in_flight`: check I-EXEC's in-flight clause (the loser's step message re-dispatches the step
    the winner runs inline: #2780's re-dispatch, B30)."""
    if status not in ("running", "pending"):
        raise ValueError(f"status must be running or pending, got {status!r}")
    run, wf, _ = _one_step("step-dup" if status == "running" else "run-start-race")

    def setup(sim):
        env = Env(rev.storage(), rev, workflows={run: wf}, liveness=True, exec_in_flight=exec_in_flight)
        rev.seed_run(env.storage, run, status)
        q = run_queue(rev)
        q.push({"runId": run})
        q.push({"runId": run})
        runtime_processes(sim, env, q)
        return env

    return setup, {}


def _step_env(rev, run: str, wf: Workflow, corr: str, status: str = "pending", history: tuple = (),
              name: str = "a") -> Env:
    """A running run whose one step `name` was created and then went through `history` ((type, data), ...)."""
    env = Env(rev.storage(), rev, workflows={run: wf})
    rev.seed_run(env.storage, run)
    attempt = sum(t == ev.STEP_STARTED for t, _ in history)
    rev.seed_step(env.storage, run, corr, name, status, attempt)
    for t, data in (((ev.STEP_CREATED, {"stepName": name}),) + history):
        rev.seed_event(env.storage, run, t, corr, data)
    return env


def _step_messages(sim, env: Env, run: str, corr: str, executors: int, key: str | None = None) -> None:
    """`executors` step messages of the step (wake-ups that each queued it), one process each."""
    q = run_queue(env.world)
    for _ in range(executors):
        q.push({"runId": run, "stepId": corr}, key)
    runtime_processes(sim, env, q, names=tuple(f"p{i + 1}" for i in range(executors)))


def wl_step_2331(rev):
    """#2331 / #1434: one created step whose step message is delivered twice (two wake-ups each queued
    it); two executors start it, run the body and complete it."""
    run, wf, corr = _one_step("step-2331")

    def setup(sim):
        env = _step_env(rev, run, wf, corr)
        _step_messages(sim, env, run, corr, 2)
        return env

    return setup, {}


def wl_step_complete_race(rev):
    """#1434: two executors both started one step (the world lets a non-terminal step start again) and
    both bodies returned: their step_completed writes race."""
    run, wf, corr = _one_step("step-complete-race")

    def setup(sim):
        env = _step_env(rev, run, wf, corr, "running", tuple((ev.STEP_STARTED, {"attempt": a}) for a in (1, 2)))

        async def complete(p):
            await create(p.volatile["world"], env.ledger, run, {
                "eventType": ev.STEP_COMPLETED, "correlationId": corr, "eventData": {"result": p.name}},
                swallow=(409, 410))

        def start(p):
            p.volatile["world"] = rev(env.storage)
            p.spawn("executor", complete, p)

        sim.process("p1", start)
        sim.process("p2", start)
        return env

    return setup, {}


def wl_step_create_crash(rev):
    """#3081: one step_created (the suspension handler's S4 write, 409 swallowed) whose process may crash
    between its two writes; the redelivered job retries it."""
    run, wf, corr = _one_step("step-create-crash")

    def setup(sim):
        env, q = job_env(rev, [run])
        q.push({"run": run, "req": sc(corr, "a")})
        job_consumers(sim, env, q, 1)
        return env

    return setup, {}


# ---- waits (3.5, 4.5) -----------------------------------------------------------------------------

SLEEP_MS = 5_000
on_hook, on_timeout = step("onHook"), step("onTimeout")


@workflow(name="approvalOrTimeout")
async def approval_or_timeout():
    """The #2029 shape: a hook raced against a sleep, one step on each branch; then the run waits for a
    "close" hook (nobody resumes it here, so a run that did not corrupt stays live and never ends)."""
    hook = create_hook("approval")
    payload = await Promise.race([hook, sleep(SLEEP_MS)])
    if payload is None:
        await on_timeout()
    else:
        await on_hook()
    await create_hook("close")
    return "timed out" if payload is None else "approved"


def _check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")


def wl_hook_sleep_race(rev, runtime: str = "R-June", workers: int = 1, log_prefix: bool = False):
    """B22 (#2029): `Promise.race([hook, sleep(5 s)])`, a step on each branch, and a caller (a client
    process of its own) who resumes the hook either as soon as it exists or when the sleep elapses (the
    scheduler picks). The timeout comes back as a delayed delivery; the elapsed-wait scan of `runtime`
    (R-June: append to the loaded snapshot; R2029: re-read the log) completes the wait while the
    hook_received may be landing. One worker process by default: B22 needs no second process (D8 between
    two is other workloads' business); world-local's process still runs its two messages at once (D9).
    `log_prefix`: also check I-LOG2 (B25: an event published below what a reader already read)."""
    _check_runtime(runtime)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    run = ev.run_id("hook-sleep-race")

    def setup(sim):
        env = Env(rev.storage(), rev, workflows={run: approval_or_timeout}, liveness=True, log_prefix=log_prefix)
        env.tokens[(run, ev.correlation_id("hook", run, 0))] = "approval"
        q = first_delivery(rev, env, run)

        async def caller(world, queue):
            await hook_logged(env, run)
            if choose(RAND, 2, "resume the hook: now (0) or when the sleep elapses (1)"):
                await sleep_for(SLEEP_MS, "wait until the sleep elapses")
            await resume_hook(world, queue, env.ledger, "approval", {"approved": True})

        queues = runtime_processes(sim, env, q, names=tuple(f"p{i + 1}" for i in range(workers)),
                                   runtime=RUNTIMES[runtime])
        # resumeHook is served by p1 (world-local: it queues the wake-up in p1's in-memory queue)
        sim.process("client", lambda p: p.spawn("resumeHook", caller, env.world(env.storage), queues["p1"]))
        return env

    return setup, {"runtime": runtime, "workers": workers, **({"log_prefix": True} if log_prefix else {})}


@workflow(name="twoSleeps")
async def two_sleeps():
    """#2113's follow-up: two sleeps in one Promise.all (two wait_created in one suspension), then a step."""
    await Promise.all([sleep(1_000), sleep(1_000)])
    await on_timeout()
    return "slept"


def wl_two_sleeps(rev, runtime: str = "R2113-broad", deliveries: int = 2, workers: int = 1):
    """#2113's follow-up hang: `Promise.all([sleep, sleep])` run by `deliveries` run messages (wake-ups of
    one run: a redelivery or a concurrent wake beside the timeout). Each delivery's elapsed-wait scan
    completes the due waits; a 409 the runtime takes as "already completed" while the wait is open would
    leave it open for good (I-LIVE names it). `workers`: worker processes (graphile's take one job each, so
    postgres needs two for the deliveries to overlap; world-local's process runs two at once)."""
    _check_runtime(runtime)
    if deliveries < 1 or workers < 1:
        raise ValueError(f"deliveries and workers must be >= 1, got {deliveries}, {workers}")
    run = ev.run_id("two-sleeps")

    def setup(sim):
        env = Env(rev.storage(), rev, workflows={run: two_sleeps}, liveness=True)
        q = first_delivery(rev, env, run, deliveries)
        runtime_processes(sim, env, q, names=tuple(f"p{i + 1}" for i in range(workers)), runtime=RUNTIMES[runtime])
        return env

    return setup, {"runtime": runtime, "deliveries": deliveries, "workers": workers}


# an execution of two-sleeps is about 160 steps; one that never reaches quiescence is cut at 1,000 (six times
# that) and judged there (I-LIVE names the wait it starves, sim.at_end livelock=True), not after 5,000
wl_two_sleeps.max_steps = 1_000


def wl_fenced_site(rev, runtime: str = "R-June", log_prefix: bool = False):
    """The #2113 site alone (issue 14): the #2029 workflow seeded where its sleep is due (run_created,
    run_started, hook_created, wait_created with resumeAt in the past; the clock starts at resumeAt), then
    exactly one delivery (run_started's snapshot, the elapsed-wait scan of `runtime`, the replay and the
    branch it takes: the step, run inline, and the "close" hook) racing exactly one resumeHook (getByToken,
    hook_received, its wake-up). The wake-up is queued where nobody delivers it: a later delivery would
    replay the final log, which I-REPLAY's cold replay does at quiescence. No liveness check (the run is
    left waiting on that wake-up or on "close" by construction). `log_prefix`: also check I-LOG2."""
    _check_runtime(runtime)
    run = ev.run_id("fenced-site")
    hook = ev.correlation_id("hook", run, 0)

    def setup(sim):
        env = Env(rev.storage(), rev, workflows={run: approval_or_timeout}, log_prefix=log_prefix)
        env.tokens[(run, hook)] = "approval"
        env.tokens[(run, ev.correlation_id("hook", run, 3))] = "close"
        rev.seed_run(env.storage, run)
        rev.seed_hook(env.storage, run, hook, "approval")
        rev.seed_wait(env.storage, run, ev.correlation_id("wait", run, 1), SLEEP_MS)   # resumeAt: run_started + 5 s
        sim.now = SLEEP_MS   # the delivery comes when the sleep is due (no timer: no step spent on time)
        q = run_queue(rev)
        q.push({"runId": run})
        runtime_processes(sim, env, q, names=("p1",), runtime=RUNTIMES[runtime])
        wakeups = Queue("wake-ups (not delivered)")
        sim.process("client", lambda p: p.spawn("resumeHook", resume_hook, env.world(env.storage), wakeups,
                                                 env.ledger, "approval", {"approved": True}))
        return env

    return setup, {"runtime": runtime, **({"log_prefix": True} if log_prefix else {})}


def wl_step_retry(rev, fails: int = 1, executors: int = 1, max_retries: int = 3, keyed: bool = False):
    """3.4: one created step whose body throws a retryable error at its first `fails` attempts and then
    returns, run by `executors` step messages in as many processes. Each failed attempt writes
    step_retrying with a retryAfter; a step message that comes too early is told 425 and comes back
    after the wait; after `max_retries` retries the step fails (step_failed). `keyed`: the step
    messages carry the step's id as their idempotency key, as the suspension handler queues them, and
    the handler's `{timeoutSeconds}` re-adds the message under that key (B33's setting). The step messages
    drive the run to its end (the delivery that finishes the step replays inline and completes it), so
    I-LIVE checks it: a step that is never dispatched again leaves the run stuck (B33)."""
    if fails < 0 or executors < 1 or max_retries < 0:
        raise ValueError(f"need fails >= 0, executors >= 1, max_retries >= 0; got {fails}, {executors}, {max_retries}")
    run = ev.run_id("step-retry")
    # one step function per script: the registry holds one body per step name
    flaky = step(f"flaky-{fails}-of-{max_retries}", Body(("retry",) * fails), max_retries=max_retries)
    wf, corr = staged("step-retry", [flaky]), ev.correlation_id("step", run, 0)

    def setup(sim):
        env = _step_env(rev, run, wf, corr, name=flaky.name)
        env.liveness = True
        _step_messages(sim, env, run, corr, executors, key=corr if keyed else None)
        return env

    return setup, {"fails": fails, "executors": executors, "max_retries": max_retries, "keyed": keyed}


# ---- creation and completion guards (4.3) ----------------------------------------------------

def wl_guard_pair(rev, what: str = "step_created"):
    """B14/B15's schedule: two processes issue one creation or completion of one entity at once, as two
    suspension handlers (S4: step_created, wait_created) or two elapsed-wait scans (wait_completed)
    whose snapshots both lacked it; the loser's 409 is swallowed."""
    kinds = (ev.STEP_CREATED, ev.WAIT_CREATED, ev.WAIT_COMPLETED)
    if what not in kinds:
        raise ValueError(f"what must be one of {', '.join(kinds)}, got {what!r}")
    run = ev.run_id(f"guard-{what}")
    corr = ev.correlation_id("step" if what == ev.STEP_CREATED else "wait", run, 0)
    resume_at = 1_000
    req = sc(corr, "a") if what == ev.STEP_CREATED else {
        "eventType": what, "correlationId": corr, "eventData": {"resumeAt": resume_at}}

    def setup(sim):
        env, q = job_env(rev, [run])
        if what == ev.WAIT_COMPLETED:
            rev.seed_wait(env.storage, run, corr, resume_at)   # its entity (row or file) and its event
        for _ in range(2):
            q.push({"run": run, "req": req})
        job_consumers(sim, env, q, 2)
        return env

    return setup, {"what": what}


# ---- run lifecycle (4.6, 4.8) ---------------------------------------------------------------

def wl_run_complete(rev, deliveries: int = 1):
    """A run whose only step has completed, and `deliveries` run messages (wake-ups): each delivery
    replays to completion and writes run_completed (D5 with a crash inside it, D9 with two)."""
    if deliveries < 1:
        raise ValueError(f"deliveries must be >= 1, got {deliveries}")
    run, wf, corr = _one_step("run-complete")

    def setup(sim):
        env = _step_env(rev, run, wf, corr, "completed",
                        ((ev.STEP_STARTED, {"attempt": 1}), (ev.STEP_COMPLETED, {"result": "ok"})))
        q = run_queue(rev)
        for _ in range(deliveries):
            q.push({"runId": run})
        runtime_processes(sim, env, q, names=tuple(f"p{i + 1}" for i in range(deliveries)))
        return env

    return setup, {"deliveries": deliveries}


# name -> (factory, fault budget, what it is)
WORKLOADS = {
    "hook-1665": (wl_1665, Faults(), "#1665: parallel steps, then a webhook; two replays create it"),
    "hook-1665-crash": (wl_1665, Faults(crashes=1, redeliveries=1), "#1665 with a crash and a redelivery"),
    "hook-1665-complete": (lambda rev: wl_1665(rev, complete=True), Faults(),
                           "#1665, and the run completes after the webhook"),
    "hook-pairs": (wl_pairs, Faults(crashes=1, redeliveries=1), "2 hooks, each created by two processes"),
    "hook-converge": (lambda rev: wl_pairs(rev, pairs=1), Faults(),
                      "upstream convergence test: one hook, two processes"),
    "hook-dup-retry": (wl_dup_retry, Faults(), "duplicate retry with different metadata"),
    "hook-event-first": (wl_event_first, Faults(crashes=1), "one hook creation, a crash inside it, a retry"),
    "step-dup": (wl_step_dup, Faults(), "#2039: two deliveries replay to one pending step"),
    "step-dup-exec": (lambda rev: wl_step_dup(rev, exec_in_flight=True), Faults(),
                      "#2039's two deliveries, with I-EXEC's in-flight clause (B30)"),
    "run-start-race": (lambda rev: wl_step_dup(rev, "pending"), Faults(),
                       "two first deliveries of one run race run_started"),
    "step-2331": (wl_step_2331, Faults(), "#2331: one step message delivered twice, two executors"),
    "step-complete-race": (wl_step_complete_race, Faults(), "#1434: two started executors complete one step"),
    "step-create-crash": (wl_step_create_crash, Faults(crashes=1), "#3081: step_created, a crash inside it, a retry"),
    "hook-sleep-race": (wl_hook_sleep_race, Faults(),
                        "#2029: race(hook, sleep); the scan appends to its snapshot"),
    "hook-sleep-race-2029": (lambda rev, runtime="R2029", workers=1, log_prefix=False:
                             wl_hook_sleep_race(rev, runtime, workers, log_prefix), Faults(),
                             "#2029: race(hook, sleep); the scan re-reads the log"),
    "hook-sleep-race-2113": (lambda rev, runtime="R2113", workers=1: wl_hook_sleep_race(rev, runtime, workers),
                             Faults(), "#2113: race(hook, sleep); the scan's wait_completed is fenced"),
    "fenced-site": (wl_fenced_site, Faults(),
                    "#2113's site: a due wait, one delivery, one resumeHook"),
    "fenced-site-2029": (lambda rev, runtime="R2029", log_prefix=False: wl_fenced_site(rev, runtime, log_prefix),
                         Faults(), "#2113's site, the scan re-reads the log"),
    "fenced-site-2113": (lambda rev, runtime="R2113", log_prefix=False: wl_fenced_site(rev, runtime, log_prefix),
                         Faults(), "#2113's site, the scan's write fenced"),
    "two-sleeps": (wl_two_sleeps, Faults(), "#2113 follow-up: two sleeps in one Promise.all, two wake-ups"),
    "step-retry": (wl_step_retry, Faults(), "3.4: a step body fails once, then returns"),
    "step-retry-race": (lambda rev: wl_step_retry(rev, executors=2), Faults(),
                        "3.4: two executors of a step whose body fails once"),
    "step-retry-keyed": (lambda rev: wl_step_retry(rev, keyed=True), Faults(),
                         "B33: a step message re-added under its own key"),
    "step-fail": (lambda rev: wl_step_retry(rev, fails=2, max_retries=1), Faults(),
                  "3.4: a step body fails at both of its two attempts"),
    "step-create-pair": (wl_guard_pair, Faults(), "B15: two processes create one step at once"),
    "wait-create-pair": (lambda rev: wl_guard_pair(rev, ev.WAIT_CREATED), Faults(),
                         "B15: two processes create one wait at once"),
    "wait-complete-pair": (lambda rev: wl_guard_pair(rev, ev.WAIT_COMPLETED), Faults(),
                           "B14 (#1388): two scans complete one wait at once"),
    "run-complete-crash": (wl_run_complete, Faults(crashes=1),
                           "D5: a crash inside run_completed"),
    "run-complete-race": (lambda rev: wl_run_complete(rev, deliveries=2), Faults(),
                          "D9: two deliveries both complete the run"),
}


def build_scenario(world: str, revision: str, rev, workloads: dict, workload: str, expect: str, bug: str,
                   invariants: tuple, code_revision: str, **params) -> Scenario:
    """`workload@world:revision`: a workload run against one revision of a world's code. With `params`,
    the variant `workload@world:revision[k=v,...]` (sim.variants: its expectation is unknown, "hold")."""
    base = _build(world, revision, rev, workloads, workload, expect, bug, invariants, code_revision)
    return variants.vary(base, params) if params else base


def _build(world, revision, rev, workloads, workload, expect, bug, invariants, code_revision, **params) -> Scenario:
    factory, faults, what = workloads[workload]
    setup, defaults = factory(rev, **params)
    model = f"{world}:{revision}"

    def rebuild(**other):  # sim.variants names the result and sets its expectation
        return _build(world, revision, rev, workloads, workload, expect, bug, invariants, code_revision, **other)

    # the workload's own keyword parameters are the scenario's (sim list, --param)
    sig = inspect.signature(factory)
    rebuild.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])
    return Scenario(
        name=f"{workload}@{model}", setup=setup, invariants=invariants, faults=faults, expect=expect,
        bug=bug, model=model, revision=code_revision, max_steps=getattr(factory, "max_steps", 5_000),
        params={**defaults, **params, "workload": workload, "model": model}, description=what, factory=rebuild)


def model_infos(world: str, notes: dict, aliases: dict | None = None) -> list:
    """One `ModelInfo` per revision of `notes` (revision -> (bugs, what changed)), each the child of the previous."""
    names = list(notes)
    return [ModelInfo(f"{world}:{r}", note, tuple(b for b in bugs.split(", ") if b),
                      f"{world}:{names[i - 1]}" if i else "", tuple((aliases or {}).get(r, ())))
            for i, (r, (bugs, note)) in enumerate(notes.items())]


ULID_SUFFIX = "u"


def with_process_ulids(revisions: dict) -> dict:
    """`revisions` and, for each, its twin `REVu`: the same code with event ids from each process's
    monotonic ULID factory (domain doc 1.1) instead of the shared clock the plain revision stands
    for (every mint in its own millisecond, every writer's clock agreeing). The id scheme did not
    change between these revisions upstream: the plain one is the order a quiet system shows, the
    twin the order a storm shows (many mints per millisecond, in several processes)."""
    twins = {r + ULID_SUFFIX: type(cls.__name__ + ULID_SUFFIX, (cls,), {
        "revision": r + ULID_SUFFIX, "process_ulids": True,
        "__doc__": f"{r} with event ids from per-process ULID factories (same millisecond)."})
        for r, cls in revisions.items()}
    return {**revisions, **twins}


def ulid_twin_infos(world: str, revisions) -> list:
    """`sim list`'s entry for each `REVu`, a child of `REV`."""
    return [ModelInfo(f"{world}:{r}{ULID_SUFFIX}", "event ids from per-process ULID factories, all in one "
                      "millisecond (their cross-process order from the tape)", (), f"{world}:{r}")
            for r in revisions if not r.endswith(ULID_SUFFIX)]


def on_demand(world: str, workloads: dict, revisions: dict, scenario):
    """The registry's `build(workload, model)` for one world: any workload on any of its revisions.
    An unregistered pair has no known expectation, so it is built as "hold" (a violation is reported
    as unexpected)."""
    def build(workload: str, model: str):
        name, _, revision = model.partition(":")
        if name != world or workload not in workloads or revision not in revisions:
            return None
        return scenario(workload, revision, "hold")
    return build
