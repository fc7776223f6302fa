"""Small scenarios that prove the engine: each is a known race and its fix.

They use only sim's public API. Factories take parameters so tests can build
bigger instances; `SCENARIOS` lists the registered defaults.
"""
from __future__ import annotations

from sim import Faults, Lock, Queue, Scenario, Store, always, at_end, note, point



# ---- lost update: read, point, write ----------------------------------------------------

def lost_update(points: int = 2, workers: int = 2, locked: bool = False) -> Scenario:
    """Each worker reads x, does `points - 2` unrelated steps, writes x+1. Locked: the lock spans it."""
    if points < 2:
        raise ValueError("lost_update needs at least 2 points (read and write)")

    def setup(sim):
        store = {"x": 0}
        lock = Lock("x-lock") if locked else None

        async def body():
            await point("read x", reads=("x",))
            v = store["x"]
            for j in range(points - 2):
                await point(f"local work {j + 1}")
            await point("write x", writes=("x",))
            store["x"] = v + 1
            note(f"x = {v + 1}")

        async def worker():
            if lock is None:
                await body()
            else:
                async with lock:
                    await body()

        for i in range(workers):
            sim.process(f"p{i + 1}", lambda p: p.spawn("worker", worker))
        return store

    name = "lost-update" + ("-locked" if locked else "")
    if (points, workers) != (2, 2):
        name += f"-{workers}x{points}"
    return Scenario(
        name=name, setup=setup,
        invariants=(at_end("I-COUNTER", lambda s: s["x"] == workers or f"x = {s['x']} after {workers} increments"),),
        expect="hold" if locked else "I-COUNTER",
        params={"points": points, "workers": workers, "locked": locked}, factory=lost_update,
        description="read-modify-write of one counter" + (" under a lock" if locked else ", unprotected"),
    )


# ---- claim then publish -----------------------------------------------------------------

class _PlainStore(dict):
    """Store's interface on a plain dict, recording nothing: the benchmark's variant of the toy, so the
    engine is compared with a bare driver running the very same logic on plain dicts."""

    def __init__(self, name, initial=None):
        super().__init__(initial or {})
        self.name = name

    def key(self, k):
        return (self.name, k)

    def create(self, k, v):
        return self.setdefault(k, v) is v

    peek = dict.get


def claim_then_publish(workers: int = 2, exclusive: bool = False, managed: bool = True) -> Scenario:
    """Claim a name, scan the log, publish `created`. A racy check-then-set claim lets two publish.

    `managed=False` keeps the same steps and footprints on plain dicts (for the benchmark)."""
    store = Store if managed else _PlainStore

    def setup(sim):
        # sim-managed stores: a failed exclusive create is recorded as the read it is (see sim.store)
        claims = store("claim")
        log = store("log", {"events": ()})
        claim, events = claims.key("name"), log.key("events")

        async def worker(me):
            if exclusive:
                # what it writes if it runs now: nothing once the claim exists (it only reads)
                await point("xcreate claim", reads=(claim,),
                            writes=lambda: () if claims.peek("name") is not None else (claim,))
                if not claims.create("name", me):
                    note(f"claim held by {claims['name']}")
                    return
            else:
                await point("check claim", reads=(claim,))
                if "name" in claims:
                    note(f"claim held by {claims['name']}")
                    return
                await point("set claim", writes=(claim,))
                claims["name"] = me
            await point("scan events", reads=(events,))
            if any(kind == "created" for kind, _ in log["events"]):
                return
            await point("publish created", writes=(events,))
            log["events"] = log["events"] + (("created", me),)
            note(f"created by {me}")

        for i in range(workers):
            sim.process(f"p{i + 1}", lambda p, me=f"w{i + 1}": p.spawn("worker", worker, me))
        return log

    def one_created(log):
        by = [who for kind, who in log.peek("events") if kind == "created"]
        return len(by) <= 1 or f"{len(by)} created events (by {', '.join(by)})"

    def some_created(log):
        return any(kind == "created" for kind, _ in log.peek("events")) or "no created event"

    name = "claim-publish" + ("-xcreate" if exclusive else "") + ("" if workers == 2 else f"-{workers}w")
    return Scenario(
        name=name, setup=setup,
        invariants=(always("I-ONE-CREATED", one_created, reads=(("log", "events"),)),
                    at_end("I-SOME-CREATED", some_created)),
        expect="hold" if exclusive else "I-ONE-CREATED",
        params={"workers": workers, "exclusive": exclusive}, factory=claim_then_publish,
        description="claim, scan, publish; " + ("exclusive-create claim" if exclusive else "racy check-then-set claim"),
    )


# ---- crash orphan -----------------------------------------------------------------------

def crash_orphan(repaired: bool = False) -> Scenario:
    """A handler writes a side record, then the event. A crash between the two and a redelivery
    whose retry trusts the side record ("already done") leave no event. The repair re-checks the log."""

    def setup(sim):
        st = {"side": set(), "events": []}
        q = Queue("jobs", visibility_timeout=1_000)
        q.push("job1")

        async def handle(key, delivery):
            await point(f"read side record {key}", reads=(("side", key),))
            if key in st["side"]:
                if not repaired:
                    note(f"side record {key} exists: treat as already done")
                    return
                await point("scan events", reads=("events",))
                if ("done", key) in st["events"]:
                    return
                await point(f"append done {key} (repair)", writes=("events",))
                st["events"].append(("done", key))
                return
            await point(f"write side record {key}", writes=(("side", key),))
            st["side"].add(key)
            await point(f"append done {key}", writes=("events",))
            st["events"].append(("done", key))

        sim.process("worker", lambda p: q.consume(p, handle))
        return st

    def no_orphan(st):
        orphans = sorted(k for k in st["side"] if ("done", k) not in st["events"])
        return not orphans or f"side record(s) without their event: {', '.join(orphans)}"

    return Scenario(
        name="crash-orphan" + ("-repaired" if repaired else ""), setup=setup,
        invariants=(at_end("I-ORPHAN", no_orphan),),
        faults=Faults(crashes=1),
        expect="hold" if repaired else "I-ORPHAN",
        params={"repaired": repaired}, factory=crash_orphan,
        description="side record then event; a crash between them and a trusting retry",
    )


# ---- redelivery while the first consumer still runs ---------------------------------------

def redelivery_duplicate(dedup: bool = False) -> Scenario:
    """At-least-once delivery: a message redelivered while its first consumer still runs is processed twice,
    unless the handler claims the message id exclusively first."""

    def setup(sim):
        st = {"effects": [], "seen": set()}
        q = Queue("charges")
        q.push("charge-42")

        async def handle(key, delivery):
            if dedup:
                await point(f"xcreate dedupe {key}", reads=(("seen", key),), writes=(("seen", key),))
                if key in st["seen"]:
                    note(f"{key} already processed")
                    return
                st["seen"].add(key)
            await point(f"load {key}")
            await point(f"apply {key}", writes=("effects",))
            st["effects"].append(key)

        for name in ("p1", "p2"):
            sim.process(name, lambda p: q.consume(p, handle))
        return st

    def once(st):
        dup = sorted({k for k in st["effects"] if st["effects"].count(k) > 1})
        return not dup or f"processed more than once: {', '.join(dup)}"

    return Scenario(
        name="redelivery-dup" + ("-dedup" if dedup else ""), setup=setup,
        invariants=(always("I-ONCE", once, reads=("effects",)),),
        faults=Faults(redeliveries=1),
        expect="hold" if dedup else "I-ONCE",
        params={"dedup": dedup}, factory=redelivery_duplicate,
        description="a message redelivered while its first consumer still runs",
    )


SCENARIOS = [
    lost_update(), lost_update(locked=True),
    claim_then_publish(), claim_then_publish(exclusive=True), claim_then_publish(3, exclusive=True),
    crash_orphan(), crash_orphan(repaired=True),
    redelivery_duplicate(), redelivery_duplicate(dedup=True),
]
