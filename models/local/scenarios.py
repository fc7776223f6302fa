"""Hook workloads against every world-local revision (domain doc 4.1), registered as `workload@local:REV`.

Each workload is the shape a catalogue entry names: the #1665 workflow run by
queue deliveries, the upstream convergence test, a pre-seeded legacy claim,
token reuse across runs, a duplicate retry with other metadata, a crash between
the event and the entity. `EXPECT` says which invariant each revision breaks on
each workload; a pair not listed there is not registered.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from models import events as ev
from models.local import hooks as revisions
from models.local.fs import DataDir
from models.local.invariants import hook_invariants
from models.local.world import claim_path, event_path, events_dir, run_path
from models.runtime import Hook, Ledger, Runtime, Step, Workflow, correlation_ids, create, resume_hook
from sim import Faults, ModelInfo, Queue, Scenario, current_process, wait

WORLD = "local"
DELIVERY_TIMEOUT = 1_000   # visibility timeout of a delivery whose process died (virtual ms)
MAX_DELIVERIES = 4         # stands in for the runtime's cap of 48


@dataclass
class Env:
    """What invariants see: the data directory, what workers were told, each hook's token."""
    fs: DataDir
    ledger: Ledger = field(default_factory=Ledger)
    tokens: dict = field(default_factory=dict)   # (run, hook) -> token
    world: type = revisions.L1


def seed_run(fs: DataDir, run: str, status: str = "running") -> None:
    """A run that start() created (run_created) and, unless pending, a delivery started."""
    fs.seed(run_path(run), {"runId": run, "status": status})
    eid = fs.seed_event_id()
    fs.seed(event_path(run, eid), ev.event(eid, run, ev.RUN_CREATED))
    if status == "running":
        sid = fs.seed_event_id()
        fs.seed(event_path(run, sid), ev.event(sid, run, ev.RUN_STARTED))


def hc(hook: str, token: str, metadata=None, webhook: bool = False) -> dict:
    return {"eventType": ev.HOOK_CREATED, "correlationId": hook,
            "eventData": {"token": token, "metadata": metadata, "isWebhook": webhook}}


def _job_env(rev, runs, tokens: dict) -> tuple[Env, Queue]:
    """The state of a job workload: running `runs`, the hooks' tokens, an empty creation queue."""
    env = Env(DataDir(), world=rev)
    env.tokens.update(tokens)
    for run in runs:
        seed_run(env.fs, run)
    return env, Queue("creations", visibility_timeout=DELIVERY_TIMEOUT, max_deliveries=MAX_DELIVERIES)


def _job_consumers(sim, env: Env, q: Queue, processes: int) -> None:
    """Processes whose workers call hook_created for each job, as the suspension handler does
    (409 and 410 swallowed; anything else fails the delivery, which is retried)."""
    async def handle(job, _delivery):
        await create(current_process().volatile["world"], env.ledger, job["run"], job["req"], swallow=(409, 410))

    def start(p):
        p.volatile["world"] = env.world(env.fs)
        q.consume(p, handle)

    for i in range(processes):
        sim.process(f"p{i + 1}", start)


# ---- workloads --------------------------------------------------------------------------------

def wl_1665(rev, complete: bool = False):
    """#1665 / parallelStepsThenWebhookWorkflow: two steps in parallel, then a webhook its caller resumes.

    The run delivery creates both steps, runs one inline and queues the other; the
    process that finishes the second step sees "all steps done" and replays inline,
    racing the first delivery's own replay to create the webhook. After the webhook
    the workflow waits for an approval hook nobody resumes (the run stays live), or,
    with `complete`, returns (the run completes and its hooks are cleaned up)."""
    run = ev.run_id("1665")
    token = "wh-1665"
    stages = ((Step("a"), Step("b")), (Hook(token, {"v": "a"}, True),))
    if not complete:
        stages += ((Hook("approval-1665"),),)
    wf = Workflow("parallelStepsThenWebhook", stages)
    ids = correlation_ids(wf, run)

    def setup(sim):
        env = Env(DataDir(), world=rev)
        for stage, corrs in zip(stages, ids):
            env.tokens.update({(run, c): op.token for op, c in zip(stage, corrs) if isinstance(op, Hook)})
        seed_run(env.fs, run, "pending")
        q = Queue("runs", visibility_timeout=DELIVERY_TIMEOUT, max_deliveries=MAX_DELIVERIES)
        q.push({"runId": run})

        def start(p):
            world = rev(env.fs)
            q.consume(p, Runtime(world, q, env.ledger, {run: wf}).deliver)
            if p.name == "p2":
                p.spawn("resumeHook", caller, world)

        async def caller(world):
            # the webhook's caller: once the hook is in the log, POST to it (resumeHook)
            await wait("await hook_created in the log", lambda: _has(env.fs, run, ev.HOOK_CREATED),
                       reads=(env.fs.dkey(events_dir(run)),), idle=True)
            await resume_hook(world, q, env.ledger, token, {"body": "hello"})

        sim.process("p1", start)
        sim.process("p2", start)
        return env

    return setup, {"complete": complete}


def _has(fs, run, t) -> bool:
    return any(fs.files.peek(f"events/{run}/{n}")["eventType"] == t for n in fs.dirs.peek(f"events/{run}", ()))


def wl_pairs(rev, pairs: int = 2):
    """The upstream convergence test: each of `pairs` hooks created twice, by two processes."""
    run = ev.run_id("pairs")

    def setup(sim):
        tokens = {(run, ev.correlation_id("hook", run, i)): f"tok-{i + 1}" for i in range(pairs)}
        env, q = _job_env(rev, [run], tokens)
        for (_, hook), token in tokens.items():
            for _ in range(2):
                q.push({"run": run, "req": hc(hook, token)})
        _job_consumers(sim, env, q, 2)
        return env

    return setup, {"pairs": pairs}


def wl_legacy_claim(rev, workers: int = 2):
    """A claim written by a pre-#2295 version (no eventId) for (R, H), then `workers` processes create H."""
    run = ev.run_id("legacy")
    hook, token = ev.correlation_id("hook", run, 0), "tok-legacy"

    def setup(sim):
        env, q = _job_env(rev, [run], {(run, hook): token})
        env.fs.seed(claim_path(token), {"token": token, "hookId": hook, "runId": run})
        for _ in range(workers):
            q.push({"run": run, "req": hc(hook, token)})
        _job_consumers(sim, env, q, workers)
        return env

    return setup, {"workers": workers}


def wl_token_reuse(rev):
    """Token reuse across run lifetimes: run A recovers a legacy claim (pinning a recovery marker) and
    completes; a legacy claim for run B with the same token appears; two processes create B's hook."""
    run_a, run_b = ev.run_id("reuse-a"), ev.run_id("reuse-b")
    hook_a, hook_b = ev.correlation_id("hook", run_a, 0), ev.correlation_id("hook", run_b, 0)
    token = "tok-reused"

    def setup(sim):
        env, q = _job_env(rev, [run_a, run_b], {(run_a, hook_a): token, (run_b, hook_b): token})
        env.fs.seed(claim_path(token), {"token": token, "hookId": hook_a, "runId": run_a})

        async def lifetime_a(p):
            world = p.volatile["world"]
            await create(world, env.ledger, run_a, hc(hook_a, token), swallow=(409, 410))
            await create(world, env.ledger, run_a, {"eventType": ev.RUN_COMPLETED}, swallow=(409, 410))
            # an instance of the older version claims the token for run B (no eventId)
            await env.fs.put(claim_path(token), {"token": token, "hookId": hook_b, "runId": run_b}, " (old version)")
            for _ in range(2):
                await q.send({"run": run_b, "req": hc(hook_b, token)})

        _job_consumers(sim, env, q, 2)
        sim.processes[0].spawn("run A", lifetime_a, sim.processes[0])
        return env

    return setup, {}


def wl_dup_retry(rev):
    """hook_created(H, T, {v: a}, webhook) and a duplicate retry with {v: b}, not a webhook, one after the other."""
    run = ev.run_id("dup")
    hook, token = ev.correlation_id("hook", run, 0), "tok-dup"

    def setup(sim):
        env, q = _job_env(rev, [run], {(run, hook): token})
        q.push({"run": run, "req": hc(hook, token, {"v": "a"}, True)})
        q.push({"run": run, "req": hc(hook, token, {"v": "b"}, False)})
        _job_consumers(sim, env, q, 1)
        return env

    return setup, {}


def wl_event_first(rev):
    """One creation whose process may crash between publishing hook_created and writing the entity;
    the redelivered job retries it."""
    run = ev.run_id("event-first")
    hook, token = ev.correlation_id("hook", run, 0), "tok-ef"

    def setup(sim):
        env, q = _job_env(rev, [run], {(run, hook): token})
        q.push({"run": run, "req": hc(hook, token, {"v": "a"})})
        _job_consumers(sim, env, q, 1)
        return env

    return setup, {}


# name -> (factory, fault budget, what it is)
WORKLOADS = {
    "hook-1665": (wl_1665, Faults(), "#1665: parallel steps, then a webhook; two replays create it"),
    "hook-1665-crash": (wl_1665, Faults(crashes=1, redeliveries=1), "#1665 with a crash and a redelivery"),
    "hook-1665-complete": (lambda rev: wl_1665(rev, complete=True), Faults(),
                           "#1665, and the run completes after the webhook"),
    "hook-pairs": (wl_pairs, Faults(crashes=1, redeliveries=1), "2 hooks, each created by two processes"),
    "hook-legacy-claim": (wl_legacy_claim, Faults(), "pre-seeded legacy claim, two processes create the hook"),
    "hook-token-reuse": (wl_token_reuse, Faults(), "legacy recovery in run A, token reused by run B"),
    "hook-dup-retry": (wl_dup_retry, Faults(), "duplicate retry with different metadata"),
    "hook-event-first": (wl_event_first, Faults(crashes=1), "crash after the event, before the entity"),
}

# revision -> (bug, what the round changed)
MODEL_NOTES = {
    "B1": ("B1", "L0 (#2283): a lost claim is always a hook_conflict (hookId dropped by the claim parser)"),
    "B2": ("B2", "#2295 head 1: own claim -> 409 without looking at the log"),
    "B3": ("B3", "probe the log, repair with a fresh eventId (per-instance lock only)"),
    "B4": ("B4", "canonical eventId in the claim, exclusive publish; legacy claims still probe + fresh id"),
    "B5": ("B5", "legacy recovery marker keyed by token, overwritten when stale, kept at run end"),
    "B6": ("B6", "marker keyed by (token, run, hook), exclusive only; entity overwritten before publish"),
    "B7": ("B7", "entity written after the publish; a collision answers 409 without repair"),
    "L1": ("", "merged #2295: collision repairs the entity from the event; claim rebuilt from the log"),
}

# (workload, revision) -> expected verdict; the bug column of `sim list` is the revision's bug when
# the expected invariant is its signature
EXPECT = {
    ("hook-1665", "B1"): "I-H2",
    ("hook-1665-crash", "B2"): "I-ORPHAN",
    ("hook-pairs", "B3"): "I-H1",
    ("hook-legacy-claim", "B4"): "I-H1",
    ("hook-token-reuse", "B5"): "I-H1",
    ("hook-dup-retry", "B6"): "I-H4",
    ("hook-event-first", "B7"): "I-ORPHAN",
    **{(w, "L1"): "hold" for w in WORKLOADS},
    # found by this model, not in the catalogue: L1's deferred entity write (the B6 fix) lands after
    # the run completed and its cleanup deleted the entity: a zombie hook entity of an ended run
    ("hook-1665-complete", "L1"): "I-H4",
}
FINDINGS = {("hook-1665-complete", "L1"): "D-L1-ZOMBIE"}


def scenario(workload: str, revision: str, expect: str | None = None, **params) -> Scenario:
    factory, faults, what = WORKLOADS[workload]
    rev = revisions.REVISIONS[revision]
    setup, defaults = factory(rev, **params)
    expect = expect or EXPECT.get((workload, revision), "hold")
    model = f"{WORLD}:{revision}"
    bug = FINDINGS.get((workload, revision)) or (MODEL_NOTES[revision][0] if expect != "hold" else "")
    suffix = "".join(f"-{k}{v}" for k, v in sorted(params.items()))
    return Scenario(
        name=f"{workload}{suffix}@{model}", setup=setup, invariants=hook_invariants(rev.entity_after_event),
        faults=faults, expect=expect, bug=bug, model=model, revision="1", max_steps=5_000,
        params={**defaults, **params, "workload": workload, "model": model}, description=what)


MODELS = [ModelInfo(f"{WORLD}:{r}", note, (bug,) if bug else (), f"{WORLD}:{prev}" if prev else "",
                    ("local:L0",) if r == "B1" else ())
          for (r, (bug, note)), prev in zip(MODEL_NOTES.items(), [None, *MODEL_NOTES])]

SCENARIOS = [scenario(w, r) for (w, r) in EXPECT]
