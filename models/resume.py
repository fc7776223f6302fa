"""The resilient resumeHook (domain doc 3.7, later #1834/#3230/#3841) and B32, its dedup against a stale
snapshot (4.7; I-H9: at most one hook_received per resumeId).

The sequential resumeHook writes hook_received, then publishes the wake; a crash between the two leaves
the payload durable without a wake. The resilient variants do both at once and carry the payload in the
wake with a `resumeId` and a digest of the payload, so that the queue consumer can re-ensure the event:
a wake whose hook_received is missing writes it itself. Every hook_received of such a resume carries
`resumeId` and `payloadDigest`.

Runtime revisions (`RESUME_RUNTIMES`, both on R-June):

* `R1834` (the pull request under review, B32): the consumer's "already materialized?" check reads the
  snapshot its delivery loaded (run_started's preload) and writes hook_received when the snapshot has
  none for the resumeId. The client's own write may commit after that snapshot was taken: both land.
* `R1834-keyed` (the fix, a `(runId, resumeId)` unique key): every hook_received that carries a resumeId
  goes through the key; a second write of one resumeId is answered 409 (the consumer swallows it,
  "already materialized"; the client takes it as delivered, as #3539 does).

Where the key lives: world-vercel's server, which is not in the sources. It is modelled here as a
client of either world (`ResumeKeyed`): under a lock per (runId, resumeId), look for a committed
hook_received of that resumeId in the run's log, and write only if there is none. A unique index checks
and inserts in one statement; the lock makes the check and the write one critical section, and a crash
inside it releases the lock with nothing left behind (a claim written before its event and separately
from it would lose the payload to a crash between the two: every re-ensure 409, no event; not modelled).
"""
from __future__ import annotations

import hashlib
import json

from models import events as ev
from models.events import EntityConflictError, HookNotFoundError
from models.runtime import Ledger, Runtime, create
from models.workflow import create_hook, workflow
from models.workloads import Env, first_delivery, hook_logged, runtime_processes
from sim import Faults, Lock, current_process, note, wait


def resume_id(token: str, n: int) -> str:
    """The id of the `n`-th resumeHook call for `token` (the client mints it once, before any retry)."""
    return ev.correlation_id("rsm", f"resume:{token}", n)


def payload_digest(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def received(hook: str, token: str, payload, rid: str) -> dict:
    """A resilient resume's hook_received request."""
    return {"eventType": ev.HOOK_RECEIVED, "correlationId": hook,
            "eventData": {"token": token, "payload": payload, "resumeId": rid, "payloadDigest": payload_digest(payload)}}


def resume_ids_of(log: list) -> set:
    return {e["eventData"].get("resumeId") for e in log if e["eventType"] == ev.HOOK_RECEIVED}


def _key_lock(world, run: str, rid: str) -> Lock:
    """The unique key's critical section for (run, resumeId), one per key in the shared storage."""
    storage = getattr(world, "fs", None) or world.db
    locks = storage.__dict__.setdefault("_resume_keys", {})
    lock = locks.get((run, rid))
    if lock is None:
        lock = locks[(run, rid)] = Lock(f"resumeId[{ev.short(run)}, {ev.short(rid)}]")
    return lock


class ResumeKeyed:
    """A world with the server's `(runId, resumeId)` unique key on hook_received: a second write of one
    resumeId is answered 409. Other writes, and a hook_received without a resumeId, pass through."""

    def __init__(self, world):
        self.world = world

    def __getattr__(self, name):
        return getattr(self.world, name)

    async def events_create(self, run: str, req: dict) -> dict:
        rid = (req.get("eventData") or {}).get("resumeId")
        if req["eventType"] != ev.HOOK_RECEIVED or rid is None:
            return await self.world.events_create(run, req)
        async with _key_lock(self.world, run, rid):
            if rid in resume_ids_of(await self.world.events_list(run)):
                raise EntityConflictError(f"hook_received for resumeId {ev.short(rid)} already exists")
            return await self.world.events_create(run, req)


class RuntimeResilientResume(Runtime):
    """R1834: a delivery whose message carries a resume re-ensures its hook_received against the snapshot
    it loaded (run_started's preload), then replays the run as usual."""

    revision = "R1834"
    keyed = False

    def __init__(self, world, queue, ledger: Ledger, workflows: dict):
        super().__init__(ResumeKeyed(world) if self.keyed else world, queue, ledger, workflows)

    async def replay_loop(self, run: str, log: list | None, msg: dict, delivery) -> None:
        resume = msg.get("resume")
        if resume is not None and log is not None and await self.ensure_received(run, resume, log):
            # replay a log that holds the event: the snapshot lacks it (a replay of the snapshot would
            # suspend on the hook again, and this wake is the run's only one: a stuck run, I-LIVE)
            log = None
        await super().replay_loop(run, log, msg, delivery)

    async def ensure_received(self, run: str, resume: dict, snapshot: list) -> bool:
        """B32's check then write. True when the snapshot lacked the event (written now, or told 409)."""
        if resume["resumeId"] in resume_ids_of(snapshot):
            note(f"resume {ev.short(resume['resumeId'])} already materialized in the snapshot")
            return False
        note(f"resume {ev.short(resume['resumeId'])} missing from the snapshot: write hook_received")
        req = received(resume["hookId"], resume["token"], resume["payload"], resume["resumeId"])
        await self.create(run, req, swallow=(404, 409, 410))
        return True


class RuntimeResilientResumeKeyed(RuntimeResilientResume):
    """R1834-keyed: as R1834, every hook_received with a resumeId written through the unique key."""

    revision = "R1834-keyed"
    keyed = True


RESUME_RUNTIMES = {cls.revision: cls for cls in (RuntimeResilientResume, RuntimeResilientResumeKeyed)}


async def resume_hook_resilient(world, queue, ledger: Ledger, token: str, payload, n: int = 1) -> bool:
    """The resilient resumeHook: look the hook up by token, then write hook_received and publish the wake
    (carrying the resume) at once, as `Promise.all` (the write is an actor of the caller's process), and
    wait for both. 404h/410 on the write: "hook gone" (the wake is out already; its consumer's write is
    refused the same way); 409 (the key: the consumer materialized it first): delivered."""
    results = ledger.issue("-", "resumeHook", token)
    try:
        hook = await world.hooks_get_by_token(token)
    except HookNotFoundError:
        results.append("404")
        return False
    run, rid = hook["runId"], resume_id(token, n)
    req = received(hook["hookId"], token, payload, rid)
    written: list = []

    async def write():
        try:
            written.append(await create(world, ledger, run, req, swallow=(404, 409, 410)))
        except Exception as e:   # rejects the Promise.all: rethrown by the caller below
            written.append(e)

    current_process().spawn(f"hook_received {ev.short(rid)}", write)
    await queue.send({"runId": run, "resume": {"resumeId": rid, "hookId": hook["hookId"], "token": token,
                                               "payload": payload, "digest": req["eventData"]["payloadDigest"]}})
    await wait(f"Promise.all(hook_received, wake) {ev.short(rid)}", lambda: bool(written))
    if isinstance(written[0], Exception):
        raise written[0]
    results.append("ok")
    return True


@workflow(name="resumeThenClose")
async def resume_then_close():
    """A hook the client resumes once, then a "close" hook nobody resumes (the run stays live: no
    terminal event for a late hook_received to follow)."""
    payload = await create_hook("resume")
    await create_hook("close")
    return payload


def wl_resume_resilient(rev, runtime: str = "R1834", workers: int = 1):
    """B32 (#1834): a run suspended on a hook; a client resumes it with the resilient resumeHook. Its
    write and the wake's re-ensure race: R1834's consumer checks the snapshot its delivery loaded, the
    client's write commits after it, and both write hook_received for one resumeId (I-H9). `R1834-keyed`
    writes through the (runId, resumeId) key."""
    if runtime not in RESUME_RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RESUME_RUNTIMES)}, got {runtime!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    cls = RESUME_RUNTIMES[runtime]
    run = ev.run_id("resume-resilient")

    def setup(sim):
        env = Env(rev.storage(), rev, workflows={run: resume_then_close}, liveness=True, resume_ids=True)
        env.tokens[(run, ev.correlation_id("hook", run, 0))] = "resume"
        env.tokens[(run, ev.correlation_id("hook", run, 1))] = "close"
        q = first_delivery(rev, env, run)

        async def client(world, queue):
            await hook_logged(env, run)
            await resume_hook_resilient(ResumeKeyed(world) if cls.keyed else world, queue, env.ledger, "resume",
                                        {"approved": True})

        queues = runtime_processes(sim, env, q, names=tuple(f"p{i + 1}" for i in range(workers)), runtime=cls)
        # resumeHook is served by p1 (world-local: the wake goes to p1's in-memory queue)
        sim.process("client", lambda p: p.spawn("resumeHook", client, env.world(env.storage), queues["p1"]))
        return env

    return setup, {"runtime": runtime, "workers": workers}


RESUME_WORKLOADS = {
    "resume-resilient": (wl_resume_resilient, Faults(),
                         "B32: resilient resume; the wake re-ensures hook_received"),
    "resume-resilient-keyed": (lambda rev, runtime="R1834-keyed", workers=1: wl_resume_resilient(rev, runtime, workers),
                               Faults(), "B32 fixed: a (runId, resumeId) unique key"),
}
