"""Blocking primitives built on `runtime.wait`: locks and an at-least-once queue.

Each operation is its own atomic step (a point precedes it). Code that touches
shared state after taking a lock should still start that access with its own
point, so every step's footprint is declared where it begins.
"""
from __future__ import annotations

from sim import runtime
from sim.runtime import SimUsageError
from sim.tape import DELIVER


class Lock:
    """A non-reentrant lock. Per-process mutex: create it in the process's start
    function (it is volatile). Cross-process lock (a file lock): create it in
    setup. Either way a crash releases what the dead process held, as the OS
    releases a dead process's flock.

    Example:

    ```python
    ledger = sim.Lock("ledger")            # in setup: one lock for every process
    async with ledger:                     # acquire and release are steps of their own
        await sim.point("move money", writes=(accounts.key("A"), accounts.key("B")))
    ```
    """

    @staticmethod
    def key_of(name: str) -> tuple:
        """The footprint key of the lock named `name` (what acquiring and releasing it touch), for a
        footprint declared before the lock object exists or without it at hand.

        Example: `await point("lock row", writes=(Lock.key_of("pg-row-7"),))`"""
        return ("lock", name)

    def __init__(self, name: str):
        self.name = name
        self.key = Lock.key_of(name)
        self.owner = None
        runtime._k().add_lock(self)

    def _free(self) -> bool:
        return self.owner is None

    async def acquire(self, timeout: int | None = None) -> bool:
        me = runtime.current_actor()
        if self.owner is me:
            raise SimUsageError(f"{me.name} acquires lock {self.name} it already holds")
        ok = await runtime.wait(f"acquire {self.name}", self._free, timeout=timeout, writes=(self.key,))
        if ok:
            self.owner = runtime.current_actor()
        return ok

    async def release(self) -> None:
        await runtime.point(f"release {self.name}", writes=(self.key,))
        me = runtime.current_actor()
        if self.owner is not me:
            raise SimUsageError(f"{me.name} releases lock {self.name} held by {self.owner}")
        self.owner = None

    async def __aenter__(self):
        await self.acquire()
        return self

    async def __aexit__(self, *exc):
        if not runtime.current_actor().crashing:  # a dead process releases nothing itself
            await self.release()
        return False


VISIBLE, INFLIGHT, ACKED, DEAD = "visible", "in-flight", "acked", "dead"


class Message:
    """A queued message; also the option "redeliver this message" offered to the scheduler."""
    kind = "redeliver"
    __slots__ = ("id", "payload", "queue", "state", "deliveries", "consumer", "deadline", "key")

    def __init__(self, mid: str, payload, queue: "Queue", key=None):
        self.id = mid
        self.key = key
        self.payload = payload
        self.queue = queue
        self.state = VISIBLE
        self.deliveries = 0
        self.consumer = None
        self.deadline = None

    def describe(self) -> str:
        return f"{self.id} (delivery {self.deliveries + 1})"

    def redeliver(self, kernel) -> None:
        self.queue._make_visible(self)

    def __repr__(self):
        return f"<Message {self.id} {self.state}>"


class Delivery:
    """What a queue handler gets with a payload: the message and which delivery of it this is.

    `attempt` is 1 on the first delivery and grows with every redelivery (a crash of
    the consumer, a failed handler, a redelivery fault); `payload` is what was sent;
    `message.id` names the message (`queue#n`) and `message.key` its idempotency key.

    Example:

    ```python
    async def handle(payload, delivery):
        sim.note(f"attempt {delivery.attempt} of {delivery.message.id}")
    ```
    """
    __slots__ = ("message", "attempt")

    def __init__(self, message: Message, attempt: int):
        self.message = message
        self.attempt = attempt

    @property
    def payload(self):
        """What the producer pushed."""
        return self.message.payload


# A handler raising one of these has a bug (a wrong signature, a typo, a failed assertion): redelivering
# the message would only repeat it until the step limit
MODEL_BUGS = (TypeError, NameError, AttributeError, AssertionError, ImportError, SyntaxError)


def _check_handler(handler, queue: str) -> None:
    """A handler is called as `handler(payload, delivery)`: another signature is refused at `consume`,
    not found by a livelock 2000 steps later."""
    import inspect
    # a plain function returning an awaitable (a lambda around a coroutine) is fine; one returning
    # something else fails at its `await` as a TypeError, which MODEL_BUGS reports
    try:
        inspect.signature(handler).bind(None, None)
    except TypeError as e:
        raise SimUsageError(f"queue {queue}: the handler {getattr(handler, '__name__', handler)!r} is called as "
                            f"handler(payload, delivery): {e}") from None
    except ValueError:   # no signature to read (a C callable): trust it
        pass


class Queue:
    """At-least-once delivery with a visibility timeout.

    - `receive` blocks (idle: waiting for work is not a deadlock) until a message
      is visible; which one is a tape choice, 0 = oldest.
    - A received message is in flight until acked. If its consumer's process
      crashes, or the handler fails, it becomes visible again when its
      visibility timeout expires (the clock jumps there at quiescence).
    - `timed_redelivery` (default): the visibility timeout runs while the consumer
      lives too. A consumer that still holds the message when the clock reaches
      it (virtual time passes while it sleeps or waits, or at quiescence) loses
      it: visible again and redelivered, the first consumer still running, with
      no fault budget spent. A clock jump stops at such a timeout. `False`: a
      live consumer keeps its message until it acks (a lock that outlives any
      step modelled, an in-process queue).
    - A redelivery fault (scenario budget) makes an in-flight message visible
      again while its first consumer still runs: duplicate processing.
    - After `max_deliveries` deliveries a message is dead-lettered.
    - `owner`: the queue lives in that process's memory, so a crash of it loses
      every message not yet acked (a durable queue has no owner).
    - `dedupe`: what an idempotency key is checked against: "unacked" (a message
      visible or in flight), "pending" (visible or scheduled, not one a consumer
      holds: graphile's job_key), "ever" (any message pushed with the key: a
      key claim that outlives its message).

    Create it in setup (durable) or in a process's start function with `owner=` that
    process. Its footprint key is `("queue", name)`: every send, receive and ack writes it.

    Example:

    ```python
    requests = sim.Queue("requests", visibility_timeout=50)
    requests.push({"put": "x"})                       # in setup: enqueued before anything runs

    async def handle(payload, delivery):                # acked when it returns
        ...

    k.process("server", lambda p: requests.consume(p, handle))
    ```
    """

    DEDUPE = ("unacked", "pending", "ever")

    def __init__(self, name: str, *, visibility_timeout: int = 30_000, max_deliveries: int | None = None,
                 owner=None, dedupe: str = "unacked", timed_redelivery: bool = True):
        if visibility_timeout <= 0:
            raise SimUsageError("visibility_timeout must be > 0")
        if dedupe not in self.DEDUPE:
            raise SimUsageError(f"dedupe must be one of {', '.join(self.DEDUPE)}, got {dedupe!r}")
        self.owner = owner
        self.dedupe = dedupe
        self.timed_redelivery = timed_redelivery
        self.name = name
        self.key = ("queue", name)
        self.visibility_timeout = visibility_timeout
        self.max_deliveries = max_deliveries
        self.messages: list[Message] = []
        self.n_visible = 0
        runtime._k().add_queue(self)

    # -- producer
    def push(self, payload, key=None, delay: int = 0) -> Message:
        """Enqueue now, inside the current step (or during setup).

        `key` is an idempotency key: while a message with the same key is visible
        or in flight, pushing again returns that message instead of a new one
        (once it is acked or dead the key is forgotten). With `delay` the message
        becomes visible `delay` ticks from now (a scheduled job, a handler's
        `{timeoutSeconds}`): it waits like a message whose consumer died, on a queue
        timer that fires at quiescence, and its key counts as in flight meanwhile.

        `push` is not a step of its own: call it in setup, or inside a step whose point
        declares `writes=(queue.key,)`; `send` is the step-taking form.

        Example: `q.push({"order": "o1"}, key="o1")`."""
        if key is not None:
            for old in self.messages:
                if old.key == key and self._claims_key(old):
                    runtime.note(f"enqueue deduplicated: {old.id} has key {key}")
                    return old
        m = Message(f"{self.name}#{len(self.messages) + 1}", payload, self, key)
        self.messages.append(m)
        if delay > 0:
            m.state = INFLIGHT
            m.deadline = runtime.now() + delay
            runtime.note(f"enqueue {m.id} (visible at {m.deadline})")
            return m
        self.n_visible += 1
        runtime.note(f"enqueue {m.id}")
        return m

    async def send(self, payload, key=None, delay: int = 0) -> Message:
        """Enqueue as a step of its own (a point labelled `send NAME`, writing the queue), then as `push`.

        Example: `await broker.send({"event": "charge-o1"}, key="charge-o1")`."""
        await runtime.point(f"send {self.name}", writes=(self.key,))
        return self.push(payload, key, delay)

    def _claims_key(self, m: Message) -> bool:
        if self.dedupe == "ever":
            return True
        if self.dedupe == "pending":   # scheduled = in flight without ever being delivered
            return m.state == VISIBLE or (m.state == INFLIGHT and m.deliveries == 0)
        return m.state == VISIBLE or m.state == INFLIGHT

    def release(self, mid: str) -> None:
        """The delayed message `mid` is due: visible now, if it is still waiting for its first delivery (a
        timer of the sender's calls this; the queue's own timer fires only at quiescence, after every
        actor's timer)."""
        for m in self.messages:
            if m.id == mid and m.state == INFLIGHT and m.consumer is None and m.deliveries == 0 \
                    and m.deadline <= runtime.now():
                self._make_visible(m)
                runtime.note(f"{mid} is due")

    # -- consumer
    def _ready(self) -> bool:
        return self.n_visible > 0

    async def receive(self, timeout: int | None = None) -> Delivery | None:
        """Wait (idle) for a visible message and take it: a `Delivery`, or None after `timeout` ticks.
        Which visible message is a tape choice. `consume` calls it for you.

        Example: `d = await q.receive(); ...; await q.ack(d)`."""
        ok = await runtime.wait(f"receive {self.name}", self._ready, timeout=timeout,
                                writes=(self.key,), idle=True)
        if not ok:
            return None
        visible = [m for m in self.messages if m.state == VISIBLE]
        m = visible[runtime.choose(DELIVER, len(visible), self.name)]
        m.state = INFLIGHT
        m.deliveries += 1
        m.consumer = runtime.current_actor()
        m.deadline = runtime.now() + self.visibility_timeout
        self.n_visible -= 1
        runtime.note(f"deliver {m.id} (delivery {m.deliveries})")
        return Delivery(m, m.deliveries)

    async def ack(self, d: Delivery) -> None:
        """Acknowledge a delivery (a step): the message is done and never delivered again.
        A handler may ack early (before work that must not be redone); a second ack does nothing.

        Example: `await q.ack(delivery)`."""
        await runtime.point(f"ack {d.message.id}", writes=(self.key,))
        m = d.message
        if m.state == VISIBLE:
            self.n_visible -= 1
        if m.state != ACKED:
            m.state = ACKED
            runtime.note(f"ack {m.id}")

    def nack(self, d: Delivery) -> None:
        """The handler failed: the message is redelivered when its visibility timeout expires."""
        m = d.message
        if m.state == INFLIGHT and m.consumer is runtime.current_actor():
            m.consumer = None

    def consume(self, proc, handler, name: str = "consumer", concurrency: int = 1) -> None:
        """Spawn consumer loops in `proc`: receive, `await handler(payload, delivery)`, ack.

        A handler that raises leaves the message unacked (redelivered later), except for the errors
        that are bugs of the model rather than failures it models (MODEL_BUGS): those end the
        execution as `uncaught-exception`, instead of a redelivery loop that ends as livelock.

        Example: `k.process("billing", lambda p: broker.consume(p, charge, concurrency=2))`."""
        _check_handler(handler, self.name)
        for i in range(concurrency):
            proc.spawn(name if concurrency == 1 else f"{name}{i}", self._loop, handler)

    async def _loop(self, handler):
        while True:
            d = await self.receive()
            try:
                await handler(d.payload, d)
            except MODEL_BUGS:
                raise
            except Exception as e:
                runtime.note(f"handler failed on {d.message.id}: {type(e).__name__}: {e}")
                self.nack(d)
                continue
            await self.ack(d)

    # -- hooks the kernel calls
    def _make_visible(self, m: Message) -> None:
        if self.max_deliveries is not None and m.deliveries >= self.max_deliveries:
            m.state = DEAD
            runtime.note(f"dead-letter {m.id} after {m.deliveries} deliveries")
            return
        m.state = VISIBLE
        m.consumer = None
        self.n_visible += 1

    def redelivery_options(self, opts: list) -> None:
        cap = self.max_deliveries
        for m in self.messages:
            if m.state == INFLIGHT and m.consumer is not None and (cap is None or m.deliveries < cap):
                opts.append(m)

    def has_in_flight_to(self, proc) -> bool:
        """Does a crash of `proc` change this queue (a crash's footprint)?"""
        if proc is self.owner:
            return any(m.state == VISIBLE or m.state == INFLIGHT for m in self.messages)
        return any(m.state == INFLIGHT and m.consumer is not None and m.consumer.process is proc
                   for m in self.messages)

    def on_crash(self, proc, kernel) -> None:
        if proc is self.owner:
            for m in self.messages:
                if m.state == VISIBLE or m.state == INFLIGHT:
                    m.state = DEAD
                    if kernel.record:
                        kernel.note(f"lost {m.id} with {proc.name}'s memory")
            self.n_visible = 0
            return
        for m in self.messages:
            if m.state == INFLIGHT and m.consumer is not None and m.consumer.process is proc:
                m.consumer = None

    def next_deadline(self) -> int | None:
        """The queue's next timer at quiescence: an orphaned or delayed message's, or a held one's."""
        d = None
        for m in self.messages:
            if m.state == INFLIGHT and m.consumer is None and (d is None or m.deadline < d):
                d = m.deadline
        h = self.held_deadline()
        return h if d is None or (h is not None and h < d) else d

    def fire(self, kernel) -> None:
        now = kernel.now
        for m in self.messages:
            if m.state == INFLIGHT and m.consumer is None and m.deadline <= now:
                self._make_visible(m)
        self.expire_held(kernel)

    def held_deadline(self) -> int | None:
        """The earliest visibility timeout of a message a live consumer holds (timed_redelivery)."""
        if not self.timed_redelivery:
            return None
        d = None
        for m in self.messages:
            if m.state == INFLIGHT and m.consumer is not None and (d is None or m.deadline < d):
                d = m.deadline
        return d

    def expire_held(self, kernel) -> None:
        """The clock reached the visibility timeout of messages consumers still hold: visible again."""
        if not self.timed_redelivery:
            return
        now = kernel.now
        for m in self.messages:
            if m.state == INFLIGHT and m.consumer is not None and m.deadline <= now:
                holder = m.consumer.name
                kernel.timed_redeliveries += 1
                self._make_visible(m)
                runtime.note(f"visibility timeout: {m.id} held by {holder} since delivery {m.deliveries}, "
                             f"visible again")
