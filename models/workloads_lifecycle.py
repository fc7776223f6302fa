"""Run creation and waits against any world (domain doc 2.2.2, 2.2.6, 2.3, 3.2, 3.5, 4.5 B24, 4.6 B27/B28,
4.8 D1/D2): `start()` writing run_created while the run's first delivery takes run_started's resilient
path, crashes inside wait_created and wait_completed, and a replay whose hook payloads hydrate late.

Same shape as `models.workloads`: each factory takes the world class and returns `(setup, params)`;
which revision breaks which invariant is the scenario modules' business.
"""
from __future__ import annotations

from models import events as ev
from models.runtime import RUNTIMES, create
from models.workflow import create_hook, sleep, workflow
from models.queues import run_queue
from models.workloads import SLEEP_MS, Env, approval_or_timeout, runtime_processes
from sim import Faults, note


def run_input(wf) -> dict:
    """The run's creation data (run_created's eventData; the queue message carries it as runInput)."""
    return {"workflowName": wf.name, "input": []}


async def start(world, ledger, run: str, wf) -> None:
    """start() (3.2's producer): run_created with the run's input. The runtime sends the run's first
    message together with it (resilient start), so the workloads queue that message at setup and the
    delivery races this write. A 409 means the delivery's resilient path created the run first."""
    res = await create(world, ledger, run, {"eventType": ev.RUN_CREATED, "eventData": run_input(wf)})
    if res is not None and "run" not in res:
        note("start() throws: Missing run (the run_created INSERT found the row and returned no run)")


@workflow(name="createdThenDone")
async def created_then_done():
    """Returns at once: the first delivery completes the run."""
    return "done"


@workflow(name="createdThenHook")
async def created_then_hook():
    """Waits for a hook nobody resumes (the run stays live, and a crash cannot hit a run completion)."""
    await create_hook("started")
    return "resumed"


def wl_run_create(rev):
    return _run_create(rev, created_then_done)


def wl_run_create_crash(rev):
    return _run_create(rev, created_then_hook)


def _run_create(rev, wf):
    """B27/B28: start() (a client process) writes run_created while the run's first message, queued with
    the run input, is delivered: run_started finds no run and creates it (resilient path), or finds the
    row start() inserted before its run_created. The client does not restart after a crash (its caller
    is gone; nothing retries start())."""
    run = ev.run_id(f"run-create-{wf.name}")

    def setup(sim):
        env = Env(rev.storage(), rev, workflows={run: wf}, liveness=True)
        env.tokens[(run, ev.correlation_id("hook", run, 0))] = "started"
        q = run_queue(rev)
        q.push({"runId": run, "runInput": run_input(wf)})
        runtime_processes(sim, env, q, names=("p1",))
        sim.process("client", lambda p: p.spawn("start()", start, env.world(env.storage), env.ledger, run, wf),
                    restart=False)
        return env

    return setup, {}


WAIT_MS = 1_000


@workflow(name="sleepThenHook")
async def sleep_then_hook():
    """A sleep, then a hook nobody resumes (a run that did not lose its wait stays live)."""
    await sleep(WAIT_MS)
    await create_hook("after-sleep")
    return "resumed"


def wl_wait_crash(rev, seeded_wait: bool = False):
    """D2 (`seeded_wait=False`): the first delivery's suspension writes wait_created, and its process may
    crash between the wait's durable record and its event. D1 (`seeded_wait=True`): the wait exists; the
    wake-up's elapsed-wait scan writes wait_completed, and may crash between the completion record and
    the event. The message of a crashed delivery comes back after its visibility timeout."""
    run = ev.run_id("wait-crash-d1" if seeded_wait else "wait-crash-d2")

    def setup(sim):
        env = Env(rev.storage(), rev, workflows={run: sleep_then_hook}, liveness=True)
        env.tokens[(run, ev.correlation_id("hook", run, 1))] = "after-sleep"
        rev.seed_run(env.storage, run)
        if seeded_wait:
            rev.seed_wait(env.storage, run, ev.correlation_id("wait", run, 0), WAIT_MS)
        q = run_queue(rev)
        q.push({"runId": run})
        runtime_processes(sim, env, q, names=("p1",))
        return env

    return setup, {"seeded_wait": seeded_wait}


def wl_hook_sleep_replay(rev, runtime: str = "R-June"):
    """B24 (#2171): the #2029 workflow (race(hook, sleep(5 s)), a step per branch), in the state where the
    hook was resumed while the run slept and the run is delivered again only when the sleep is due (the
    queue held both wake-ups). The elapsed-wait scan writes wait_completed right after hook_received, so
    the log gives the race to the hook; a replay that hydrates the hook's payload late (R-pre2171) can
    give it to the sleep. One delivery, no concurrent writer: any corruption is the replay's."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    run = ev.run_id("race-replay")
    hook, wait = ev.correlation_id("hook", run, 0), ev.correlation_id("wait", run, 1)

    def setup(sim):
        env = Env(rev.storage(), rev, workflows={run: approval_or_timeout}, liveness=True)
        env.tokens[(run, hook)] = "approval"
        env.tokens[(run, ev.correlation_id("hook", run, 3))] = "close"
        rev.seed_run(env.storage, run)
        rev.seed_hook(env.storage, run, hook, "approval")
        rev.seed_wait(env.storage, run, wait, SLEEP_MS)
        rev.seed_event(env.storage, run, ev.HOOK_RECEIVED, hook, {"token": "approval", "payload": {"approved": True}})
        q = run_queue(rev)
        q.push({"runId": run}, delay=SLEEP_MS)   # the wake-up queued when the run suspended
        runtime_processes(sim, env, q, names=("p1",), runtime=RUNTIMES[runtime])
        return env

    return setup, {"runtime": runtime}


# name -> (factory, fault budget, what it is)
WORKLOADS = {
    "run-create-race": (wl_run_create, Faults(),
                        "#2983/#3656: start() races the first delivery"),
    "run-create-crash": (wl_run_create_crash, Faults(crashes=1),
                         "start() races the first delivery, with a crash"),
    "wait-create-crash": (wl_wait_crash, Faults(crashes=1), "D2: sleep(1 s), a crash inside wait_created"),
    "wait-complete-crash": (lambda rev: wl_wait_crash(rev, True), Faults(crashes=1),
                            "D1: a wait comes due, a crash inside wait_completed"),
    "race-replay": (wl_hook_sleep_replay, Faults(),
                          "#2171: race(hook, sleep), hook_received then wait_completed"),
    "race-replay-pre2171": (lambda rev, runtime="R-pre2171": wl_hook_sleep_replay(rev, runtime), Faults(),
                                  "#2171: race-replay with the replay before #2171"),
}
