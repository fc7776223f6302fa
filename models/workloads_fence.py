"""The six writes #2113 leaves unfenced (its own table; #2132 fences them), one workload each (B22, B23).

Each is the smallest shape in which a stale snapshot makes that write a wrong branch decision:
`Promise.race([hook, sleep])` whose sleep branch writes the site's event first, where the hook branch
writes something else (or nothing) there:

| site | the sleep branch | the hook branch |
| --- | --- | --- |
| step_created | `await onTimeout()` | `await onHook()` (the same ordinal, another step) |
| wait_created | `await sleep(1 s)` | `return "approved"` (no wait at that ordinal) |
| hook_created | `await createHook("late")` | `return "approved"` |
| hook_disposed | `approval.dispose()`, then the "close" hook both branches await | keep it |
| run_completed | `return "timed out"` | `return "approved"` |
| run_failed | `throw` | `return "approved"` |

The log is seeded at the race: the run is running, its hook and its wait are created (the wait due at
once); one delivery (the sleep's wake-up) and one resumeHook caller (a client process; its wake is
delivered by the worker process too). The delivery's elapsed-wait scan completes the wait while
hook_received may be landing; what the runtime then decides is the site's write. One worker process (the
world-local process still runs its two deliveries at once). I-FENCE is checked on the site's writes
(`stale_writes`) unless the workload is run with `stale_writes=false`.
"""
from __future__ import annotations

from models import events as ev
from models.queues import run_queue
from models.runtime import RUNTIMES, resume_hook
from models.runtime_fence import Runtime2132  # noqa: F401  (registers R2132 in RUNTIMES)
from models.workflow import Promise, create_hook, sleep, step, workflow
from models.workloads import Env, runtime_processes
from sim import Faults

SLEEP_MS = 5_000
on_hook, on_timeout = step("onHook"), step("onTimeout")


def _race():
    approval = create_hook("approval")                          # ordinal 0
    return approval, Promise.race([approval, sleep(SLEEP_MS)])  # ordinal 1


@workflow(name="siteStepCreated")
async def site_step_created():
    _, race = _race()
    if await race is None:
        return await on_timeout()
    return await on_hook()


@workflow(name="siteWaitCreated")
async def site_wait_created():
    _, race = _race()
    if await race is None:
        await sleep(1_000)
        return "slept twice"
    return "approved"


@workflow(name="siteHookCreated")
async def site_hook_created():
    _, race = _race()
    if await race is None:
        return await create_hook("late")   # nobody resumes it: the run stays live
    return "approved"


@workflow(name="siteHookDisposed")
async def site_hook_disposed():
    approval, race = _race()
    close = create_hook("close")   # ordinal 2, created before the race settles: both branches await it
    if await race is None:
        approval.dispose()
    return await close             # nobody resumes it: the run stays live


@workflow(name="siteRunCompleted")
async def site_run_completed():
    _, race = _race()
    return "timed out" if await race is None else "approved"


@workflow(name="siteRunFailed")
async def site_run_failed():
    _, race = _race()
    if await race is None:
        raise RuntimeError("approval timed out")
    return "approved"


# site -> (the workflow, hooks created before the race settles: ordinal -> token)
SITES = {
    ev.STEP_CREATED: (site_step_created, {}),
    ev.WAIT_CREATED: (site_wait_created, {}),
    ev.HOOK_CREATED: (site_hook_created, {}),
    ev.HOOK_DISPOSED: (site_hook_disposed, {2: "close"}),
    ev.RUN_COMPLETED: (site_run_completed, {}),
    ev.RUN_FAILED: (site_run_failed, {}),
}


def _seed_hook(rev, storage, run: str, hook: str, token: str) -> None:
    """A hook as hook_created left it (its entity, its token's claim, its event)."""
    if hasattr(rev, "seed_hook"):
        rev.seed_hook(storage, run, hook, token)
        return
    from models.local.hooks import hook_entity   # world-local: claim (with the event's id), entity, event
    from models.local.world import claim_path, hook_path
    data = {"token": token, "metadata": None, "isWebhook": False}
    e = rev.seed_event(storage, run, ev.HOOK_CREATED, hook, data)
    storage.seed(claim_path(token), {"token": token, "hookId": hook, "runId": run, "eventId": e["eventId"]})
    storage.seed(hook_path(hook), hook_entity(run, {"correlationId": hook, "eventData": data}, e["createdAt"]))


def wl_site(rev, site: str = ev.STEP_CREATED, runtime: str = "R2113", stale_writes: bool = True):
    """One unfenced site of #2113's table (see the module's docstring), run by `runtime`."""
    if site not in SITES:
        raise ValueError(f"site must be one of {', '.join(SITES)}, got {site!r}")
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    wf, hooks = SITES[site]
    run = ev.run_id(f"site-{site}")

    def setup(sim):
        env = Env(rev.storage(), rev, workflows={run: wf}, liveness=True, stale_writes=(site,) if stale_writes else False)
        rev.seed_run(env.storage, run)
        # the log at the race: hook_created (0), wait_created (1, due at once), then any hook made after it
        seeds = [(0, "approval"), (1, None), *hooks.items()]
        for ordinal, token in seeds:
            if token is None:
                rev.seed_wait(env.storage, run, ev.correlation_id("wait", run, ordinal), 0)
                continue
            hook = ev.correlation_id("hook", run, ordinal)
            env.tokens[(run, hook)] = token
            _seed_hook(rev, env.storage, run, hook, token)
        q = run_queue(rev)
        q.push({"runId": run})   # the sleep's wake-up

        async def caller(world, queue):
            await resume_hook(world, queue, env.ledger, "approval", {"approved": True})

        queues = runtime_processes(sim, env, q, names=("p1",), runtime=RUNTIMES[runtime])
        sim.process("client", lambda p: p.spawn("resumeHook", caller, env.world(env.storage), queues["p1"]))
        return env

    return setup, {"site": site, "runtime": runtime, "stale_writes": stale_writes}


def _site_workload(site: str, runtime: str):
    return lambda rev, stale_writes=True: wl_site(rev, site, runtime, stale_writes)


# workload -> (factory, fault budget, what it is): `stale-SITE` runs R2113, `stale-SITE-2132` R2132, `-june` R-June
SITE_NAMES = {ev.STEP_CREATED: "stale-step", ev.WAIT_CREATED: "stale-wait", ev.HOOK_CREATED: "stale-hook",
              ev.HOOK_DISPOSED: "stale-dispose", ev.RUN_COMPLETED: "stale-complete", ev.RUN_FAILED: "stale-fail"}
FENCE_WORKLOADS = {
    **{name: (_site_workload(site, "R2113"), Faults(), f"#2113's unfenced {site}: race(hook, sleep), R2113")
       for site, name in SITE_NAMES.items()},
    **{name + "-2132": (_site_workload(site, "R2132"), Faults(), f"#2132 fences {site}: race(hook, sleep), R2132")
       for site, name in SITE_NAMES.items()},
    **{name + "-june": (_site_workload(site, "R-June"), Faults(), f"{site} after race(hook, sleep), R-June (B22)")
       for site, name in SITE_NAMES.items()},
}

# (workload, revision) -> expected verdict (registered). R2113: each site's write can be decided on a snapshot that a
# hook_received then overtakes (I-FENCE), yet on these worlds' commit-ordered logs the decision is never a
# wrong branch (I-REPLAY holds with `stale_writes=false`). R2132 holds. R-June: B22 (I-REPLAY) or the stale
# write first. hook_disposed on world-local L1: B19 (hook_received published after hook_disposed: the
# resumeHook found the hook before the disposal; unfenced by design, so R2132 cannot refuse it)
FENCE_EXPECT = {
    **{(SITE_NAMES[s], r): "I-FENCE" for s in SITES for r in ("L1F", "P4F")},
    **{(SITE_NAMES[s] + "-2132", "P4F"): "hold" for s in SITES},
    **{(SITE_NAMES[s] + "-june", "P4F"): "I-REPLAY|I-FENCE" for s in SITES},
    (SITE_NAMES[ev.HOOK_DISPOSED], "L1F"): "I-FENCE|I-REPLAY",
    (SITE_NAMES[ev.HOOK_DISPOSED] + "-2132", "L1F"): "I-REPLAY",
}
# not registered (the main job samples a holding scenario for its whole budget, and world-local's two
# deliveries in flight make these slow; README gives their exhaustive verdicts): the other sites' -2132 on
# L1F (hold) and the -june controls on L1F (B22); `sim explore --scenario NAME --model local:L1F` builds them
