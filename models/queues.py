"""Each world's queue as the runtime meets it (domain doc 2.4).

world-local: one in-memory queue per process. A message is delivered by the
process that queued it; an idempotency key dedupes against a message still in
flight and is forgotten when its delivery loop ends; a handler's
`{timeoutSeconds}` re-delivers the same message after the wait; a crash loses
every message of the process, and the world, when it starts again, re-enqueues
every run that is not terminal.

world-postgres: graphile-worker's durable job table, shared by every process. A
`job_key` dedupes only against a pending job (not one a worker holds, not one
that is done); `{timeoutSeconds}` adds a new job with `run_at` in the future
and the same key before the current one completes; a crashed worker's job is
retried after its lock goes stale (the queue's visibility timeout);
`reenqueueActiveRuns` re-enqueues every non-terminal run when a process starts.

Where the model simplifies: a scenario's processes start before its runs exist
(the messages it seeds stand for the first deliveries), so only a restart
re-enqueues; the seeded messages of a world-local scenario are dealt to the
processes' queues in turn.
"""
from __future__ import annotations

from sim import Queue, current_process, wait

DELIVERY_TIMEOUT = 1_000   # visibility timeout of a delivery whose process died (virtual ms)
# A live worker keeps its delivery: graphile-worker's job lock outlives every step modelled here, and
# world-local's in-memory queue never takes a message back from a live handler (sim.Queue's timed_redelivery)
HELD_UNTIL_ACK = False
MAX_DELIVERIES = 4         # stands in for the runtime's cap of 48


def run_queue(rev=None) -> Queue:
    """The queue a scenario seeds its messages into: the shared job table, or (world-local) the pool
    `process_queues` deals to the processes."""
    return Queue("runs", visibility_timeout=DELIVERY_TIMEOUT, max_deliveries=MAX_DELIVERIES,
                 dedupe=getattr(rev, "queue_dedupe", "unacked"), timed_redelivery=HELD_UNTIL_ACK)


def process_queues(sim, rev, q: Queue, names) -> dict:
    """name -> the queue that process's runtime sends to and consumes: `q` itself for a shared queue;
    for world-local one in-memory queue per process, with `q`'s seeded messages dealt to them in turn."""
    if not getattr(rev, "in_process_queue", False):
        return {name: q for name in names}
    procs = {p.name: p for p in sim.processes}
    out = {name: Queue(f"{q.name}@{name}", visibility_timeout=q.visibility_timeout, max_deliveries=q.max_deliveries,
                       owner=procs[name], timed_redelivery=q.timed_redelivery) for name in names}
    seeded = [m for m in q.messages]
    q.messages.clear()
    q.n_visible = 0
    for i, m in enumerate(seeded):
        out[names[i % len(names)]].push(m.payload, m.key)
    return out


def concurrent_deliveries(rev) -> int:
    """Consumers per process: world-local dispatches every message of its process at once (a semaphore of
    1000), modeled as two deliveries in flight per process (no workload has more than two messages of one
    process to deliver at once); graphile's workers take one job each, modeled as one per process."""
    return 2 if getattr(rev, "in_process_queue", False) else 1


def _never() -> bool:
    return False


async def _due(queue: Queue, mid: str, delay: int) -> None:
    await wait(f"deliver {mid} in {delay} ms", _never, timeout=delay, idle=True, writes=(queue.key,))
    queue.release(mid)


async def send_later(queue: Queue, msg: dict, key, delay: int) -> None:
    """Queue `msg` to be delivered `delay` ms from now (graphile: a job with run_at; world-local: the
    delivery loop's sleep): its key is claimed at once, and a timer of this process makes it visible when
    it is due. A timer, not only the queue's: the queue's timer fires at quiescence, after every actor's
    timer, so a delayed delivery could never race a client acting at the same moment (a hook resumed
    when a sleep elapses: B22). If this process crashes first, world-local loses the message with its
    memory, and graphile's durable job is still made visible by the queue's timer."""
    m = await queue.send(msg, key=key, delay=delay)
    if m.deadline is not None and m.deliveries == 0:   # scheduled (not a message its key deduplicated against)
        current_process().spawn(f"run_at {m.id}", _due, queue, m.id, delay)


async def reschedule(world, queue: Queue, msg: dict, delivery, delay: int) -> None:
    """The handler returned `{timeoutSeconds}`: the message again once `delay` ms have passed."""
    if getattr(world, "in_process_queue", False):
        # world-local's delivery loop sleeps and re-delivers the same message: its key stays its own
        await send_later(queue, msg, None, delay)
    else:
        # graphile: a new job with run_at = now + delay and the same job_key, added while this one is held
        await send_later(queue, msg, delivery.message.key if delivery is not None else None, delay)


async def reenqueue_active_runs(world, queue: Queue) -> None:
    """On start: a run message for every run that is not terminal."""
    for run in await world.active_run_ids():
        await queue.send({"runId": run})


def restarted(p) -> bool:
    return p.incarnation > 0
