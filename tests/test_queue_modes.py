"""sim.Queue's options for the worlds' queues (domain doc 2.4): a delayed message (a scheduled job, a
handler's `{timeoutSeconds}`), a queue owned by one process (lost with its memory on a crash), and
what an idempotency key dedupes against."""
from __future__ import annotations

import pytest

from sim import Queue, now, point
from sim.strategy import DFS, DPOR
from sim.explore import explore
from tests.test_kernel import every, first, mark, scenario


@pytest.fixture(params=["fast"])
def engine(request):
    return request.param


async def handle(st, payload, d):
    await point(f"handle {payload}")
    mark(st, payload, now())


def test_a_delayed_message_is_delivered_when_its_delay_is_over(engine):
    def build(k, st):
        q = Queue("q")
        q.push("later", delay=500)
        q.push("now")
        k.process("c", lambda p: q.consume(p, lambda payload, d: handle(st, payload, d)))

    run = first(scenario(build), engine)
    assert [(e[1], e[2]) for e in run.state["log"]] == [("now", 0), ("later", 500)]


def _owned(k, st, payloads=("m1", "m2")):
    procs = {}

    def start(p):
        st["q"].consume(p, lambda payload, d: handle(st, payload, d))

    procs["c"] = k.process("c")
    st["q"] = Queue("q", owner=procs["c"])
    for m in payloads:
        st["q"].push(m)
    procs["c"].start = start
    start(procs["c"])


def test_an_owned_queue_loses_its_messages_when_its_process_crashes(engine):
    ex, runs = every(scenario(_owned, crashes=1), engine)
    assert ex.complete
    handled = [[e[1] for e in r.state["log"]] for r in runs]
    assert ["m1", "m2"] in handled                        # no crash, or a crash after both
    assert any(h == [] for h in handled) and any(h == ["m1"] for h in handled)   # lost, never redelivered
    assert all(len(h) == len(set(h)) for h in handled)    # nothing delivered twice either


def test_dpor_reaches_every_outcome_of_an_owned_queue(engine):
    # another process sends to the owner's queue: whether its message is lost depends on the order of the
    # send and the crash (the crash's footprint includes the queue, sim.footprint)
    def build(k, st):
        c = k.process("c")
        st["q"] = Queue("q", owner=c)
        c.start = lambda p: st["q"].consume(p, lambda m, d: handle(st, m, d))
        c.start(c)

        async def sender():
            await st["q"].send("m")

        k.process("s", lambda p: p.spawn("a", sender))

    def outcomes(strategy):
        got = set()

        class Watch(type(strategy)):
            def end_execution(self, view):
                got.add(tuple(e[1] for e in view.state["log"]))
                return super().end_execution(view)

        explore(scenario(build, crashes=1), Watch(), engine=engine)
        return got

    assert outcomes(DPOR()) == outcomes(DFS()) == {(), ("m",)}


@pytest.mark.parametrize("dedupe,expected", [
    ("unacked", ["dedup", "dedup", "new"]),   # world-local: a key is forgotten when its delivery ends
    ("pending", ["dedup", "new", "new"]),     # graphile job_key: only a job nobody holds
    ("ever", ["dedup", "dedup", "dedup"]),    # a key claim that outlives its message (B33)
])
def test_what_an_idempotency_key_dedupes_against(engine, dedupe, expected):
    def build(k, st):
        q = Queue("q", dedupe=dedupe)
        first_msg = q.push("m", key="k")
        st["out"] = []

        def verdict(m):
            st["out"].append("dedup" if m is first_msg else "new")

        async def consume(p):
            verdict(q.push("m", key="k"))           # while it is visible
            d = await q.receive()
            verdict(q.push("m", key="k"))           # while a consumer holds it
            await q.ack(d)
            verdict(q.push("m", key="k"))           # after it was acked

        k.process("c", lambda p: p.spawn("a", consume, p))

    run = first(scenario(build), engine)
    assert run.state["out"] == expected


def test_a_scheduled_message_counts_as_pending():
    def build(k, st):
        q = Queue("q", dedupe="pending")
        scheduled = q.push("m", key="k", delay=100)
        st["same"] = None

        async def again():
            await point("push")
            st["same"] = q.push("m", key="k") is scheduled

        k.process("c", lambda p: p.spawn("a", again))

    run = first(scenario(build), "fast")
    assert run.state["same"] is True


def test_a_bad_dedupe_mode_is_refused():
    def build(k, st):
        Queue("q", dedupe="sometimes")

    with pytest.raises(Exception, match="dedupe must be one of"):
        first(scenario(build), "fast")


def test_a_released_message_is_delivered_when_due_not_after_every_other_timer():
    # the queue's own timer fires only at quiescence, so a client sleeping until 2,000 would always act
    # before a message due at 500; a sender's timer that releases it (models.queues.send_later) lets it
    # be delivered at 500, and the client's sleep after it
    from sim import sleep, wait

    def build(k, st, release: bool):
        q = Queue("q")

        async def sender():
            m = q.push("due", delay=500)
            if release:
                await wait("run_at", lambda: False, timeout=500, idle=True, writes=(q.key,))
                q.release(m.id)

        async def client():
            await sleep(2_000, "sleep")
            mark(st, "client", now())

        k.process("s", lambda p: p.spawn("a", sender))
        k.process("x", lambda p: p.spawn("a", client))
        k.process("c", lambda p: q.consume(p, lambda payload, d: handle(st, payload, d)))

    def order(release):
        run = first(scenario(lambda k, st: build(k, st, release)), "fast")
        return [(e[1], e[2]) for e in run.state["log"]]

    assert order(True) == [("due", 500), ("client", 2_000)]
    assert order(False) == [("client", 2_000), ("due", 2_000)]
