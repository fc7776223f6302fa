"""Workloads about how runs end and what the runtime swallows (domain doc 3.7, 3.8, 4.4, 4.6, 4.7):
#1418's eight concurrent 409/410 scenarios (B26), run cancellation racing resumeHook (B20), resumeHook
telling its caller "hook gone" on a 409 (B31), and a due wait of an ended run (B29).

Each #1418 scenario is one workload run by the runtime `runtime` names (`R-June`: after #1418,
`R-pre1418`: before it); the `-pre1418` workloads are the same with the older runtime. The pull
request's argument that skipping is safe is what the invariants check: I-NO-ESCAPE before #1418 (the
409/410 the pull request catches escape the delivery), and every other invariant after it.
"""
from __future__ import annotations

from models import events as ev
from models.events import EntityConflictError, HookNotFoundError, RunExpiredError
from models.runtime import RUNTIMES, create
from models.workflow import Promise, create_hook, sleep, step, workflow
from models.queues import run_queue
from models.workloads import Env, has_event, hook_logged, runtime_processes
from sim import Faults, Store, choose, note, point, wait
from sim.tape import RAND

step_a, step_b = step("a"), step("b")


@workflow(name="oneStep")
async def one_step():
    return await step_a()


@workflow(name="failingStep")
async def failing_step():
    return await step_b()   # step_failed: the workflow throws, the run fails (USER_ERROR)


@workflow(name="hookBesideStep")
async def hook_beside_step():
    create_hook("beside")   # created at the first suspension, never awaited: live until the run ends
    return await step_a()


@workflow(name="sleepZero")
async def sleep_zero():
    await sleep(0)
    return "slept"


@workflow(name="stepThenHook")
async def step_then_hook():
    await step_a()
    return await create_hook("after")   # nobody resumes it: the run stays live, one replay writes no end


@workflow(name="stepOrTimeout")
async def step_or_timeout():
    await Promise.race([step_a(), sleep(1_000)])
    return "done"


@workflow(name="awaitHook")
async def await_hook():
    return await create_hook("resume")


@workflow(name="hookThenStep")
async def hook_then_step():
    payload = await create_hook("resume")
    await step_a()
    return payload


def _runtime(runtime: str):
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    return RUNTIMES[runtime]


def _run_env(rev, name: str, wf, status: str = "running") -> tuple[str, Env]:
    run = ev.run_id(name)
    env = Env(rev.storage(), rev, workflows={run: wf}, liveness=True)
    rev.seed_run(env.storage, run, status)
    return run, env


def _seed_step(rev, env: Env, run: str, corr: str, name: str, *events) -> None:
    """A created step and its later events `(type, data)`; the entity is their fold."""
    rev.seed_event(env.storage, run, ev.STEP_CREATED, corr, {"stepName": name})
    status, attempt = "pending", 0
    for t, data in events:
        rev.seed_event(env.storage, run, t, corr, data)
        attempt += t == ev.STEP_STARTED
        status = {ev.STEP_STARTED: "running", ev.STEP_COMPLETED: "completed", ev.STEP_FAILED: "failed"}[t]
    rev.seed_step(env.storage, run, corr, name, status, attempt)


# ---- B26: #1418's eight scenarios ------------------------------------------------------------------

def _deliveries(rev, name: str, wf, runtime: str, status: str = "running", messages=None, seed=None):
    """Two worker processes and two messages of one run (two wake-ups, two pods)."""
    cls = _runtime(runtime)

    def setup(sim):
        run, env = _run_env(rev, name, wf, status)
        if seed is not None:
            seed(env, run)
        q = run_queue(rev)
        for m in messages(run) if messages else ({"runId": run}, {"runId": run}):
            q.push(m)
        runtime_processes(sim, env, q, runtime=cls)
        return env

    return setup, {"runtime": runtime}


def wl_run_started(rev, runtime: str = "R-June"):
    """#1418 scenario 1: two first deliveries of a pending run race run_started. The winner runs the
    workflow to its end; the loser's run_started meets the ended run (410)."""
    return _deliveries(rev, "swallow-run-started", one_step, runtime, status="pending")


def _completed_step(rev, env, run):
    corr = ev.correlation_id("step", run, 0)
    _seed_step(rev, env, run, corr, "a", (ev.STEP_STARTED, {"attempt": 1}), (ev.STEP_COMPLETED, {"result": "ok"}))


def _failed_step(rev, env, run):
    corr = ev.correlation_id("step", run, 0)
    _seed_step(rev, env, run, corr, "b", (ev.STEP_STARTED, {"attempt": 1}), (ev.STEP_FAILED, {"error": "boom"}))


def wl_run_completed(rev, runtime: str = "R-June"):
    """#1418 scenario 2: two replays of a run whose only step completed both write run_completed (409)."""
    return _deliveries(rev, "swallow-run-completed", one_step, runtime, seed=lambda env, run: _completed_step(rev, env, run))


def wl_run_failed(rev, runtime: str = "R-June"):
    """#1418 scenario 3: two replays of a run whose step failed both write run_failed (409)."""
    return _deliveries(rev, "swallow-run-failed", failing_step, runtime, seed=lambda env, run: _failed_step(rev, env, run))


def wl_hooks_after_end(rev, runtime: str = "R-June"):
    """#1418 scenario 4: a hook beside a step; one delivery completes the run while the other is still
    in its suspension handler creating the hook (and the step)."""
    return _deliveries(rev, "swallow-hooks-after-end", hook_beside_step, runtime)


def wl_wait_completed(rev, runtime: str = "R-June"):
    """#1418 scenario 5: `sleep(0)`; two deliveries each create the wait and come back when it is due;
    both scans complete it (409)."""
    return _deliveries(rev, "swallow-wait-completed", sleep_zero, runtime)


class _X4:
    """Executors past step_started and the body (X3): each message is their X4 write, issued through the
    runtime's write site (what it swallows is the revision's)."""

    def __init__(self, cls):
        self.cls = cls

    def consumers(self, sim, env: Env, q, names=("p1", "p2")) -> None:
        def start(p):
            rt = self.cls(env.world(env.storage), q, env.ledger, env.workflows)

            async def deliver(msg, _delivery=None):
                await rt.create(msg["runId"], msg["req"], swallow=(409, 410))
            rt.deliver = deliver
            q.consume(p, rt.handle)

        for name in names:
            sim.process(name, start)


def wl_step_completed(rev, runtime: str = "R-June"):
    """#1418 scenario 6: two executors both started one step (the world lets a running step start again)
    and both bodies returned: their step_completed writes race (409). Model difference: the executor's
    "all steps done: replay inline" that follows is left out (the scenario is the X4 write)."""
    cls = _runtime(runtime)

    def setup(sim):
        run, env = _run_env(rev, "swallow-step-completed", one_step)
        corr = ev.correlation_id("step", run, 0)
        _seed_step(rev, env, run, corr, "a", (ev.STEP_STARTED, {"attempt": 1}), (ev.STEP_STARTED, {"attempt": 2}))
        env.liveness = False   # the run's continuation is not part of this workload
        q = run_queue(rev)
        for who in ("p1", "p2"):
            q.push({"runId": run, "req": {"eventType": ev.STEP_COMPLETED, "correlationId": corr,
                                          "eventData": {"result": who}}})
        _X4(cls).consumers(sim, env, q)
        return env

    return setup, {"runtime": runtime}


def wl_step_started(rev, runtime: str = "R-June"):
    """#1418 scenario 7: one created step whose step message is delivered twice; one executor completes
    it, the other's step_started meets the completed step (409) and the delivery replays. Then the run
    waits on a hook, so the two replays do not race to end it (scenario 2's business)."""
    def messages(run):
        corr = ev.correlation_id("step", run, 0)
        return ({"runId": run, "stepId": corr}, {"runId": run, "stepId": corr})

    def seed(env, run):
        _seed_step(rev, env, run, ev.correlation_id("step", run, 0), "a")

    return _deliveries(rev, "swallow-step-started", step_then_hook, runtime, messages=messages, seed=seed)


def wl_created_dup(rev, runtime: str = "R-June"):
    """#1418 scenario 8: two deliveries replay to one suspension and both write its step_created (409)."""
    return _deliveries(rev, "swallow-created-dup", one_step, runtime)


# ---- B20: run cancellation racing resumeHook and deliveries ------------------------------------------

async def cancel(world, env: Env, run: str) -> None:
    """A client cancels the run (`runs.cancel`: run_cancelled); 409/410: it already ended."""
    await create(world, env.ledger, run, {"eventType": ev.RUN_CANCELLED}, swallow=(409, 410))


def wl_cancel_resume(rev):
    """B20 (#2987): a run suspended on a hook it returns; a client cancels the run (run_cancelled) while
    another resumes the hook (resumeHook) and its wake delivery replays. hook_received must not land after
    the run's terminal event (I-R2)."""
    def setup(sim):
        run, env = _run_env(rev, "cancel-resume", await_hook, "pending")
        q = run_queue(rev)
        q.push({"runId": run})
        hooked = lambda: has_event(env, run, ev.HOOK_CREATED)   # noqa: E731

        async def resumer(world):
            await wait("await hook_created in the log", hooked, reads=(env.view.log_key(run),), idle=True)
            await resume_hook_sequential(world, q, env, "resume", {"ok": True})

        async def canceller(world):
            await wait("await hook_created in the log", hooked, reads=(env.view.log_key(run),), idle=True)
            await cancel(world, env, run)

        runtime_processes(sim, env, q, names=("p1",))
        sim.process("client", lambda p: (p.spawn("resumeHook", resumer, env.world(env.storage)),
                                         p.spawn("cancel", canceller, env.world(env.storage))))
        return env

    return setup, {}


def wl_cancel_step(rev):
    """Run cancellation racing a step executor: a one-step run whose delivery runs the step inline; a
    client cancels the run once the step is created. Nothing but a step_completed/step_failed of a step
    that was running may follow the terminal event (I-R2)."""
    def setup(sim):
        run, env = _run_env(rev, "cancel-step", one_step, "pending")
        q = run_queue(rev)
        q.push({"runId": run})

        async def canceller(world):
            await wait("await step_created in the log", lambda: has_event(env, run, ev.STEP_CREATED),
                       reads=(env.view.log_key(run),), idle=True)
            await cancel(world, env, run)

        runtime_processes(sim, env, q, names=("p1",))
        sim.process("client", lambda p: p.spawn("cancel", canceller, env.world(env.storage)))
        return env

    return setup, {}


async def resume_hook_sequential(world, queue, env: Env, token: str, payload, resumes: Store | None = None,
                                 on_409: str = "raise") -> bool:
    """resumeHook's sequential path (3.7): look the hook up by token, write hook_received, publish the
    wake. 404h/410 -> "hook gone". `on_409`: what a 409 from hook_received means to this revision:
    "gone" (the versions #3539 fixes: HookNotFoundError before the wake is published), "wake" (#3539:
    the payload is in the log, publish the wake), "raise" (R-June: not expected, it propagates).

    With `resumes`, the write goes through world-vercel's client: the server keeps a (runId, resumeId)
    claim and answers 409 to a write it already committed, and the response of the first attempt may be
    lost (the scheduler decides), so the client retries it once."""
    results = env.ledger.issue("-", "resumeHook", token)
    try:
        hook = await world.hooks_get_by_token(token)
    except HookNotFoundError:
        results.append("404")
        return False
    run = hook["runId"]
    req = {"eventType": ev.HOOK_RECEIVED, "correlationId": hook["hookId"], "eventData": {"token": token, "payload": payload}}
    for attempt in (1, 2):
        try:
            if resumes is None:
                await create(world, env.ledger, run, req, swallow=())
            else:
                await _hook_received_once(world, env, run, req, resumes, f"{token}#1")
        except (HookNotFoundError, RunExpiredError):
            results.append("gone")
            return False
        except EntityConflictError:
            if on_409 == "raise":
                raise
            if on_409 == "gone":
                note(f"resumeHook({token}): 409 -> HookNotFoundError (hook gone); no wake published")
                results.append("gone")
                return False
            note(f"resumeHook({token}): 409 -> the payload is already in the log; publish the wake")
            break
        if resumes is None or attempt == 2 or not choose(RAND, 2, "hook_received's response: delivered (0) "
                                                                   "or lost, and the client retries (1)"):
            break
    results.append("ok")
    await queue.send({"runId": run})
    return True


async def _hook_received_once(world, env: Env, run: str, req: dict, resumes: Store, resume_id: str) -> dict:
    """world-vercel's server: hook_received with its (runId, resumeId) claim (#1834/#3230's unique key);
    a second write of one resumeId is answered 409."""
    key = (run, resume_id)
    await point(f"claim (runId, resumeId) {resume_id}", reads=(resumes.key(key),), writes=(resumes.key(key),))
    if not resumes.create(key, True):
        env.ledger.issue(run, ev.HOOK_RECEIVED, req["correlationId"]).append("409")
        raise EntityConflictError(f"hook_received for resumeId {resume_id} already exists")
    return await create(world, env.ledger, run, req, swallow=())


# ---- B31: resumeHook told 409 ----------------------------------------------------------------------

def wl_resume_retry(rev, on_409: str = "gone"):
    """B31 (#3539): a run suspended on a hook, then a step. The client's resumeHook writes hook_received
    through world-vercel's client; its response may be lost and the retry is answered 409. With
    `on_409="gone"` the caller is told the hook is gone and no wake is published: the payload is durable
    and nothing ever replays the run (I-LIVE). `on_409="wake"` is #3539's fix."""
    if on_409 not in ("gone", "wake"):
        raise ValueError(f"on_409 must be gone or wake, got {on_409!r}")

    def setup(sim):
        run, env = _run_env(rev, "resume-retry", hook_then_step, "pending")
        resumes = Store("resumes")
        q = run_queue(rev)
        q.push({"runId": run})

        async def resumer(world):
            await hook_logged(env, run)
            await resume_hook_sequential(world, q, env, "resume", {"ok": True}, resumes, on_409)

        runtime_processes(sim, env, q, names=("p1",))
        sim.process("client", lambda p: p.spawn("resumeHook", resumer, env.world(env.storage)))
        return env

    return setup, {"on_409": on_409}


# ---- B30: a wake replay re-dispatches an in-flight step -------------------------------------------

@workflow(name="hookDuringStep")
async def hook_during_step():
    await Promise.all([create_hook("wake"), step_a()])
    return await create_hook("close")   # nobody resumes it: the run stays live, so no two replays end it


def wl_wake_mid_step(rev, runtime: str = "R-June", workers: int = 1):
    """B30 (#2780): `Promise.all([hook, step])`. The first delivery creates both and runs the step inline;
    while its body is in flight a client resumes the hook, and the wake is delivered in the same process
    (world-local runs two deliveries of a process at once; `workers=2` gives postgres's one-per-process
    workers a second process). The wake's replay finds the step created and not completed, not its own:
    R-June queues its step message, and a second executor starts the running step again and runs its body
    (I-EXEC's in-flight clause). `R2780` stamps the inline step_started with the delivery's message id and
    the wake defers."""
    cls = _runtime(runtime)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")

    def setup(sim):
        run, env = _run_env(rev, "wake-mid-step", hook_during_step, "pending")
        env.exec_in_flight = True
        env.tokens[(run, ev.correlation_id("hook", run, 0))] = "wake"
        env.tokens[(run, ev.correlation_id("hook", run, 2))] = "close"
        q = run_queue(rev)
        q.push({"runId": run})

        async def resumer(world, queue):
            # the client resumes while the step runs: once its step_started is in the log
            await wait("await step_started in the log", lambda: has_event(env, run, ev.STEP_STARTED),
                       reads=(env.view.log_key(run),), idle=True)
            await resume_hook_sequential(world, queue, env, "wake", {"ok": True})

        queues = runtime_processes(sim, env, q, names=tuple(f"p{i + 1}" for i in range(workers)), runtime=cls)
        # resumeHook is served by p1 (world-local: the wake goes to p1's in-memory queue)
        sim.process("client", lambda p: p.spawn("resumeHook", resumer, env.world(env.storage), queues["p1"]))
        return env

    return setup, {"runtime": runtime, "workers": workers}


# ---- B29: a due wait of an ended run --------------------------------------------------------------

def wl_wait_after_end(rev, runtime: str = "R-June"):
    """B29 (#3749): `Promise.race([step, sleep(1 s)])`. The step wins, the run completes (its wait
    entities deleted), and the sleep's wake-up then finds an ended run: R-June acks it and the wait stays
    open in the log for good (I-W2 as #3749 states it); `R3749` completes the due wait first."""
    cls = _runtime(runtime)

    def setup(sim):
        run, env = _run_env(rev, "wait-after-end", step_or_timeout, "pending")
        env.waits_of_ended_runs = True
        q = run_queue(rev)
        q.push({"runId": run})
        runtime_processes(sim, env, q, names=("p1",), runtime=cls)
        return env

    return setup, {"runtime": runtime}


def _pre(factory):
    return lambda rev, runtime="R-pre1418": factory(rev, runtime)


SWALLOW = {   # #1418's scenario -> (workload name, factory, what it is)
    1: ("swallow-1", wl_run_started, "#1418 s1: two first deliveries race run_started"),
    2: ("swallow-2", wl_run_completed, "#1418 s2: two replays write run_completed"),
    3: ("swallow-3", wl_run_failed, "#1418 s3: two replays write run_failed"),
    4: ("swallow-4", wl_hooks_after_end, "#1418 s4: the run ends while a hook is created"),
    5: ("swallow-5", wl_wait_completed, "#1418 s5: two scans complete one wait"),
    6: ("swallow-6", wl_step_completed, "#1418 s6: two executors complete one step"),
    7: ("swallow-7", wl_step_started, "#1418 s7: a step message delivered twice"),
    8: ("swallow-8", wl_created_dup, "#1418 s8: two replays write one step_created"),
}

# name -> (factory, fault budget, what it is), as models.workloads.WORKLOADS
RUN_WORKLOADS = {
    **{name: (f, Faults(), what) for name, f, what in SWALLOW.values()},
    **{f"{name}-pre1418": (_pre(f), Faults(), what + ", pre-#1418") for name, f, what in SWALLOW.values()},
    "cancel-resume": (wl_cancel_resume, Faults(), "B20: run_cancelled races resumeHook"),
    "cancel-step": (wl_cancel_step, Faults(), "run_cancelled races an inline step's executor"),
    "wait-after-end": (wl_wait_after_end, Faults(), "B29: the sleep's wake-up finds the run ended"),
    "wait-after-end-3749": (lambda rev, runtime="R3749": wl_wait_after_end(rev, runtime), Faults(),
                            "B29 with #3749: due waits of ended runs completed"),
    "wake-mid-step": (wl_wake_mid_step, Faults(), "B30: a wake replay re-dispatches the step in flight"),
    "wake-mid-step-2780": (lambda rev, runtime="R2780", workers=1: wl_wake_mid_step(rev, runtime, workers),
                           Faults(), "B30 fixed (#2780): the wake defers to the step's owner"),
    "resume-retry": (wl_resume_retry, Faults(), "B31: a retried hook_received's 409 -> hook gone"),
    "resume-retry-3539": (lambda rev, on_409="wake": wl_resume_retry(rev, on_409), Faults(),
                          "B31 fixed (#3539): the 409 publishes the wake"),
}
