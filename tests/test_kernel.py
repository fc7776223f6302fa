"""Kernel semantics: steps, scheduling choices, locks, the virtual clock, crashes, queues, ULIDs.

Every scenario here is built inline with sim's public API (see `scenario` and
`solo`); each test runs on the fast engine and, when it exists, the trio-task
engine, since both are driven by the same decision loop and must agree.
"""
from __future__ import annotations

import functools
import re
from datetime import datetime, timezone

import pytest
from ulid import ULID

import sim
from sim import runtime as sim_runtime
from sim import (DFS, Faults, Lock, Metrics, Queue, RandomWalk, Replay, Scenario, Strategy, always, explore,
                 make_trace, now, point, sleep, ulid, wait)
from tests.outside_model import Record

TRIO = "trio"


@pytest.fixture(params=["fast", TRIO])
def engine(request):
    return request.param


# ---- helpers ----------------------------------------------------------------------------

def scenario(build, *invariants, crashes=0, redeliveries=0, max_steps=500) -> Scenario:
    """`build(k, st)` adds processes to the kernel `k`; `st` (a dict with a "log" list) is the state."""
    def setup(k):
        st = {"log": []}
        build(k, st)
        return st
    return Scenario("kernel-test", setup, invariants=invariants,
                    faults=Faults(crashes=crashes, redeliveries=redeliveries), max_steps=max_steps)


def solo(k, proc: str, fn, *args, restart: bool = True):
    """A process running one actor named `a`."""
    return k.process(proc, lambda p: p.spawn("a", fn, *args), restart=restart)


def mark(st, *what) -> None:
    st["log"].append((sim.current_actor().name, *what))


class Zeros(Strategy):
    """One execution that always answers 0 (the default schedule)."""
    name = "zeros"

    def __init__(self):
        self._used = False

    def next_execution(self):
        used, self._used = self._used, True
        return not used

    def choose(self, kind, n, label):
        return 0


def first(scn, engine):
    """The default execution (tape all zeros)."""
    rec = Record(Zeros())
    explore(scn, rec, engine=engine)
    return rec.runs[0]


def every(scn, engine):
    """All executions, by exhaustive DFS: (exploration, runs)."""
    rec = Record(DFS())
    ex = explore(scn, rec, engine=engine)
    return ex, rec.runs


def trace(scn, tape, engine):
    return make_trace(scn, tape, strategy={"name": "test"}, engine=engine)


def names(log, what):
    return [e[0] for e in log if e[1] == what]


# ---- one actor per step, index 0 ------------------------------------------------------------

def test_each_step_runs_exactly_one_actor_and_the_log_says_which(engine):
    def build(k, st):
        st["batches"], st["seen"] = [], 0

        async def worker():
            for i in range(4):
                await point(f"step {i}")
                mark(st, i, "begin")
                mark(st, i, "end")
        for p in ("p1", "p2", "p3"):
            solo(k, p, worker)

    def batch(st):  # checked after every step: what the step appended is one batch
        st["batches"].append(st["log"][st["seen"]:])
        st["seen"] = len(st["log"])

    scn = scenario(build, always("batch", batch))
    rec = Record(RandomWalk(5))
    explore(scn, rec, engine=engine, budget=20)
    assert len({tuple(r.tape) for r in rec.runs}) > 1, "need several interleavings for this to mean anything"
    for run in rec.runs:
        initial, *batches = run.state["batches"]
        assert initial == []  # "always" also checks the initial state, before any step
        assert all(len(b) == 2 and b[0][0] == b[1][0] and b[0][1] == b[1][1] for b in batches), batches
        steps = trace(scn, run.tape, engine).steps
        assert [s.kind for s in steps] == ["run"] * 12
        assert [(s.actor, s.label) for s in steps] == [(b[0][0], f"step {b[0][1]}") for b in batches]


def three_workers(points=3):
    def build(k, st):
        async def worker():
            for i in range(points):
                await point(f"step {i}")
                mark(st, i)
        for p in ("p1", "p2", "p3"):
            solo(k, p, worker)
    return scenario(build)


def test_all_zero_tape_runs_actors_serially(engine):
    # 3 actors can run for steps 1-3, 2 for steps 4-6, then one (no choice): 6 choices
    rec = Record(Replay([0] * 6))
    explore(three_workers(), rec, engine=engine)
    log = rec.runs[0].state["log"]
    assert [a for a, _ in log] == ["p1/a"] * 3 + ["p2/a"] * 3 + ["p3/a"] * 3


def test_a_switch_then_zeros_keeps_running_the_new_actor(engine):
    # option order is: current actor first, then the others in spawn order
    rec = Record(Replay([1, 0, 0, 0, 0, 0]))
    explore(three_workers(), rec, engine=engine)
    assert [a for a, _ in rec.runs[0].state["log"]] == ["p2/a"] * 3 + ["p1/a"] * 3 + ["p3/a"] * 3


# ---- locks --------------------------------------------------------------------------------

class Spy(Strategy):
    """Wraps a strategy; calls `look(kernel)` at every scheduling decision."""

    def __init__(self, inner, look):
        self.inner, self.look = inner, look
        self.name, self.exhaustive = inner.name, inner.exhaustive

    def next_execution(self):
        return self.inner.next_execution()

    def choose(self, kind, n, label):
        if kind == "step":
            self.look(label)
        return self.inner.choose(kind, n, label)

    def end_execution(self, kernel):
        self.inner.end_execution(kernel)

    @property
    def complete(self):
        return self.inner.complete


def test_actor_blocked_on_a_held_lock_is_not_an_option(engine):
    def build(k, st):
        lock = st["lock"] = Lock("L")

        async def worker():
            async with lock:
                await point("inside")
                mark(st, "in")
                await point("inside again")
                mark(st, "out")
        async def bystander():  # without it, nobody but the holder can run: no choice is asked
            for i in range(3):
                await point(f"free {i}")
        for p in ("p1", "p2"):
            solo(k, p, worker)
        solo(k, "free", bystander)

    blocked_seen = []

    def look(view):
        k = sim_runtime._kernel  # a kernel test: look behind the strategy's view at every actor
        owner = k.state["lock"].owner
        runnable = view.options[:view.n_run]
        for a in k.actors:
            if a.label == "acquire L" and owner is not None:
                blocked_seen.append(a.name)
                assert a not in runnable, f"{a.name} is offered while {owner.name} holds the lock"

    rec = Record(DFS())
    ex = explore(scenario(build), Spy(rec, look), engine=engine)
    assert ex.ok and ex.complete
    assert blocked_seen, "no decision was taken while an actor waited for the lock"
    for run in rec.runs:  # mutual exclusion: critical sections never interleave
        who = [a for a, _ in run.state["log"]]
        assert len(who) == 4
        assert all(who[i] == who[i + 1] for i in range(0, len(who), 2)), who


def lock_order(consistent: bool) -> Scenario:
    def build(k, st):
        a, b = Lock("A"), Lock("B")

        async def worker(first_, second):
            async with first_:
                await point("between locks")
                async with second:
                    await point("critical")
                    mark(st, "done")
        solo(k, "p1", worker, a, b)
        solo(k, "p2", worker, *((a, b) if consistent else (b, a)))
    return scenario(build)


def test_opposite_lock_order_deadlocks_and_names_both_actors(engine):
    scn = lock_order(consistent=False)
    ex = explore(scn, DFS(), engine=engine)
    v = ex.violation
    assert v is not None and v.invariant == "deadlock"
    assert re.search(r"p1/a at 'acquire B'", v.message) and re.search(r"p2/a at 'acquire A'", v.message), v.message
    assert trace(scn, ex.tape, engine).verdict.invariant == "deadlock"


def test_consistent_lock_order_holds_exhaustively(engine):
    ex = explore(lock_order(consistent=True), DFS(), engine=engine)
    assert ex.ok and ex.complete and ex.executions > 1


def test_step_limit_reports_livelock(engine):
    def build(k, st):
        async def spinner():
            while True:
                await point("spin")

        async def finite():
            await point("once")
        solo(k, "spin", spinner)
        solo(k, "other", finite)

    ex = explore(scenario(build, max_steps=50), RandomWalk(0), engine=engine, budget=3)
    assert ex.violation is not None and ex.violation.invariant == "livelock"
    assert ex.violation.step == 50


def _starved_request(k, st):
    # a retry loop that never lets its request succeed: it runs forever, and what it starves is nameable
    st["answered"] = False

    async def retrier():
        while True:
            await point("retry the request")

    solo(k, "client", retrier)


def test_a_progress_invariant_names_what_a_livelock_starves(engine):
    starved = sim.at_end("I-ANSWERED", lambda st: st["answered"] or "the request is never answered", livelock=True)
    ex = explore(scenario(_starved_request, starved, max_steps=40), RandomWalk(0), engine=engine, budget=2)
    assert ex.violation is not None and ex.violation.invariant == "I-ANSWERED", ex.violation
    assert ex.violation.step == 40
    assert ex.violation.message == "no quiescence after 40 steps: the request is never answered"


def test_a_livelock_whose_progress_invariants_hold_stays_a_livelock(engine):
    def build(k, st):
        _starved_request(k, st)
        st["answered"] = True   # the progress property holds at the limit: the loop is something else
    plain = sim.at_end("I-PLAIN", lambda st: False)   # not a progress invariant: not checked at the limit
    progress = sim.at_end("I-ANSWERED", lambda st: st["answered"], livelock=True)
    ex = explore(scenario(build, plain, progress, max_steps=40), RandomWalk(0), engine=engine, budget=2)
    assert ex.violation is not None and ex.violation.invariant == "livelock", ex.violation


def test_uncaught_exception_is_a_violation_naming_the_actor(engine):
    def build(k, st):
        async def fine():
            await point("fine")

        async def bad():
            await point("about to fail")
            raise ValueError("boom")
        solo(k, "ok", fine)
        k.process("p", lambda p: p.spawn("bad", bad))

    ex = explore(scenario(build), DFS(), engine=engine)
    v = ex.violation
    assert v is not None and v.invariant == "uncaught-exception"
    assert "p/bad" in v.message and "ValueError: boom" in v.message


def test_exception_before_the_first_point_is_reported_too(engine):
    def build(k, st):
        async def bad():
            raise KeyError("early")
        k.process("p", lambda p: p.spawn("bad", bad))

    run = first(scenario(build), engine)
    assert run.violation.invariant == "uncaught-exception" and "p/bad" in run.violation.message


# ---- virtual clock ------------------------------------------------------------------------

def sleepers():
    def build(k, st):
        async def sleeper(ticks):
            await sleep(ticks)
            mark(st, now())
        solo(k, "slow", sleeper, 100)
        solo(k, "fast", sleeper, 50)
    return scenario(build)


def test_sleepers_wake_in_time_order(engine):
    run = first(sleepers(), engine)
    assert run.state["log"] == [("fast/a", 50), ("slow/a", 100)]
    labels = [s.label for s in trace(sleepers(), run.tape, engine).steps if s.kind == "time"]
    assert labels == ["clock 0 -> 50", "clock 50 -> 100"]


def test_no_sleeper_ever_runs_before_its_deadline(engine):
    ex, runs = every(sleepers(), engine)
    assert ex.complete and len(runs) > 1
    for run in runs:
        t = dict(run.state["log"])
        assert t["slow/a"] == 100 and t["fast/a"] in (50, 100)
    assert {dict(r.state["log"])["fast/a"] for r in runs} == {50, 100}  # time may pass before it runs


def test_clock_jumps_when_nothing_is_enabled(engine):
    def build(k, st):
        async def sleeper():
            await sleep(1000)
            mark(st, now())
        solo(k, "p", sleeper)

    scn = scenario(build)
    run = first(scn, engine)
    assert run.state["log"] == [("p/a", 1000)] and run.tape == []  # a forced jump is not a choice
    assert [s.kind for s in trace(scn, [], engine).steps] == ["time", "run"]


def test_time_passing_is_an_option_while_others_can_run(engine):
    def build(k, st):
        async def sleeper():
            await sleep(10)
            mark(st, "A", now())

        async def worker():
            for i in range(3):
                await point(f"b{i}")
                mark(st, f"B{i}", now())
        solo(k, "sleeper", sleeper)
        solo(k, "worker", worker)

    ex, runs = every(scenario(build), engine)
    assert ex.complete
    orders = {tuple(e[1] for e in r.state["log"]) for r in runs}
    bs = ("B0", "B1", "B2")
    assert orders == {bs[:i] + ("A",) + bs[i:] for i in range(4)}
    assert all(e[2] == 10 for r in runs for e in r.state["log"] if e[1] == "A")


def waiter(with_setter: bool):
    def build(k, st):
        st["flag"] = False

        async def waiting():
            ok = await wait("flag set", lambda: st["flag"], timeout=10)
            mark(st, ok, now())

        async def setter():
            await point("set flag")
            st["flag"] = True
        solo(k, "waiter", waiting)
        if with_setter:
            solo(k, "setter", setter)
    return scenario(build)


def test_wait_returns_true_when_ready_and_false_on_timeout(engine):
    assert first(waiter(True), engine).state["log"] == [("waiter/a", True, 0)]
    assert first(waiter(False), engine).state["log"] == [("waiter/a", False, 10)]


def test_wait_explores_the_timeout_racing_the_setter(engine):
    # time may pass before the setter runs; a waiter that runs after the flag is set sees it ready
    _, runs = every(waiter(True), engine)
    got = {r.state["log"][0][1:] for r in runs}
    assert got == {(True, 0), (False, 10), (True, 10)}


# ---- crashes ------------------------------------------------------------------------------

def two_process_workers(restart: bool) -> Scenario:
    def build(k, st):
        async def worker(n):
            try:
                for i in range(n):
                    await point(f"step {i}")
                    mark(st, "step", i)
                mark(st, "done")
            except BaseException as e:
                mark(st, "died", type(e).__name__)
                raise

        def start(p):
            p.spawn("a1", worker, 2)
            p.spawn("a2", worker, 2)
        st["P"] = k.process("P", start, restart=restart)
        solo(k, "Q", worker, 1, restart=restart)
    return scenario(build, crashes=1)


@functools.cache  # several tests look at the same exhaustive exploration
def crash_runs(restart: bool, engine):
    _, runs = every(two_process_workers(restart), engine)
    crashed = [r for r in runs if r.crashes]
    assert crashed and len(crashed) < len(runs)
    return crashed


def split_at_crash(log):
    """(before, dead actors, after) around the block of "died" entries a crash produces."""
    c = next(i for i, e in enumerate(log) if e[1] == "died")
    j = c
    while j < len(log) and log[j][1] == "died":
        j += 1
    return log[:c], [e[0] for e in log[c:j]], log[j:]


@pytest.mark.parametrize("restart", [False, True])
def test_crash_cancels_every_actor_of_the_process_at_once(engine, restart):
    for run in crash_runs(restart, engine):
        before, dead, after = split_at_crash(run.state["log"])
        proc = dead[0].split("/")[0]
        members = ["P/a1", "P/a2"] if proc == "P" else ["Q/a"]
        assert sorted(dead) == [a for a in members if a not in names(before, "done")]
        assert not any(e[0].startswith(proc + "/") for e in after), "a crashed actor ran again"
        assert not any(e[1] == "died" for e in after)


@pytest.mark.parametrize("engine_", ["fast", "trio"])
def test_crashed_actors_see_sim_crashed(engine_):
    for run in crash_runs(False, engine_):
        assert {e[2] for e in run.state["log"] if e[1] == "died"} == {"Crashed"}


def test_restarted_actors_carry_the_incarnation_in_their_name(engine):
    saw_restart = False
    for run in crash_runs(True, engine):
        _, dead, after = split_at_crash(run.state["log"])
        proc = dead[0].split("/")[0]
        again = [e for e in after if e[0].startswith(proc + "#1/")]
        members = ["P#1/a1", "P#1/a2"] if proc == "P" else ["Q#1/a"]
        for a in members:  # the restart ran the start function again: every actor from scratch
            steps = [("step", 0), ("step", 1)] if proc == "P" else [("step", 0)]
            assert [e[1:] for e in again if e[0] == a] == steps + [("done",)]
        assert {e[0] for e in again} == set(members)
        saw_restart = True
    assert saw_restart


def test_without_restart_a_crashed_process_stays_dead(engine):
    for run in crash_runs(False, engine):
        _, dead, after = split_at_crash(run.state["log"])
        assert not any("#" in e[0] for e in after)
        if dead[0].startswith("P/"):
            assert run.state["P"].alive is False


def test_volatile_state_is_fresh_and_durable_state_survives(engine):
    def build(k, st):
        st["durable"] = 0

        def start(p):
            st["log"].append(("start", sorted(p.volatile)))
            p.volatile["cache"] = []
            local = {"n": 0}  # created in start: belongs to this incarnation

            async def worker():
                for i in range(3):
                    await point(f"step {i}")
                    local["n"] += 1
                    p.volatile["cache"].append(i)
                    st["durable"] += 1
                    mark(st, local["n"], len(p.volatile["cache"]), st["durable"])
            p.spawn("w", worker)
        k.process("P", start)

    _, runs = every(scenario(build, crashes=1), engine)
    crashed = [r for r in runs if r.crashes]
    assert crashed
    for run in crashed:
        log = run.state["log"]
        starts = [e for e in log if e[0] == "start"]
        assert starts == [("start", []), ("start", [])]
        steps_before = sum(1 for e in log if e[0] == "P/w")
        after = [e[1:] for e in log if e[0] == "P#1/w"]
        assert after == [(i, i, steps_before + i) for i in (1, 2, 3)]


def test_a_lock_held_by_a_crashed_process_is_released(engine):
    def build(k, st):
        lock = Lock("file-lock")  # setup-level: shared by processes, like a flock

        async def holder():
            try:
                async with lock:
                    mark(st, "holding")
                    await point("work under lock")
                    mark(st, "leaving")
            except BaseException:
                mark(st, "died")
                raise
        solo(k, "p1", holder, restart=False)
        solo(k, "p2", holder, restart=False)

    ex, runs = every(scenario(build, crashes=1), engine)
    assert ex.ok and ex.complete  # a lock kept by a dead process would deadlock the survivor
    died_holding = [r for r in runs if [e[1] for e in r.state["log"]] == ["holding", "died", "holding", "leaving"]]
    assert died_holding


def test_zero_crash_budget_never_offers_a_crash(engine):
    def build(k, st):
        async def worker():
            for i in range(3):
                await point(f"step {i}")
        solo(k, "p1", worker)
        solo(k, "p2", worker)

    m0 = Metrics(DFS())
    ex0 = explore(scenario(build, crashes=0), m0, engine=engine)
    m1 = Metrics(DFS())
    ex1 = explore(scenario(build, crashes=1), m1, engine=engine)
    assert m0.summary()["faults_offered"] == 0 and ex0.crashes == 0
    assert m1.summary()["faults_offered"] > 0 and ex1.crashes > 0  # the same model does offer them


# ---- queue --------------------------------------------------------------------------------

def queue_scenario(handler, payloads=("m1", "m2", "m3"), consumers=("c",), crashes=0, redeliveries=0,
                   **queue_opts) -> Scenario:
    def build(k, st):
        q = st["q"] = Queue("q", **queue_opts)
        for m in payloads:
            q.push(m)
        for c in consumers:
            k.process(c, lambda p: q.consume(p, lambda payload, d: handler(st, payload, d)))
    return scenario(build, crashes=crashes, redeliveries=redeliveries)


async def record_delivery(st, payload, d):
    await point(f"handle {payload}")
    mark(st, payload, d.attempt, now())


def test_queue_delivers_fifo_by_default(engine):
    run = first(queue_scenario(record_delivery), engine)
    assert [e[1] for e in run.state["log"]] == ["m1", "m2", "m3"]


def test_delivery_order_is_a_tape_choice(engine):
    _, runs = every(queue_scenario(record_delivery, payloads=("m1", "m2")), engine)
    assert {tuple(e[1] for e in r.state["log"]) for r in runs} == {("m1", "m2"), ("m2", "m1")}


def test_crashed_consumer_message_is_redelivered_after_the_visibility_timeout(engine):
    async def handle(st, payload, d):
        mark(st, "start", d.attempt, now())
        await point("work")
        mark(st, "end", d.attempt, now())

    _, runs = every(queue_scenario(handle, payloads=("job",), consumers=("w",), crashes=1,
                                   visibility_timeout=1000), engine)
    starts = [[e[2:] for e in r.state["log"] if e[1] == "start"] for r in runs]
    assert all(s == [(1, 0)] for r, s in zip(runs, starts) if not r.crashes)
    assert all(s in ([(1, 0)], [(1, 0), (2, 1000)]) for s in starts)
    redone = [r for r, s in zip(runs, starts) if s == [(1, 0), (2, 1000)]]
    assert redone and all(r.crashes == 1 for r in redone)
    for r in redone:  # the restarted consumer picked it up once the timeout expired
        assert [e[0] for e in r.state["log"] if e[1:3] == ("start", 2)] == ["w#1/consumer"]
    assert all(any(e[1] == "end" for e in r.state["log"]) for r in runs), "a message was lost"


def test_redelivery_fault_duplicates_while_the_first_consumer_runs(engine):
    async def handle(st, payload, d):
        mark(st, "start", d.attempt)
        await point("work")
        mark(st, "end", d.attempt)

    ex, runs = every(queue_scenario(handle, payloads=("job",), consumers=("p1", "p2"), redeliveries=1), engine)
    assert ex.redeliveries > 0

    def overlapping(log):
        events = [e[1:] for e in log]
        return ("start", 2) in events and events.index(("start", 2)) < events.index(("end", 1))
    dup = [r for r in runs if overlapping(r.state["log"])]
    assert dup
    for r in dup:
        who = {e[2]: e[0] for e in r.state["log"] if e[1] == "start"}
        assert who[1] != who[2]


def test_max_deliveries_dead_letters_the_message(engine):
    async def failing(st, payload, d):
        mark(st, d.attempt, now())
        raise RuntimeError("handler bug")

    scn = queue_scenario(failing, payloads=("job",), visibility_timeout=100, max_deliveries=2)
    run = first(scn, engine)
    assert run.violation is None  # a failing handler is nacked, not an uncaught exception
    assert run.state["log"] == [("c/consumer", 1, 0), ("c/consumer", 2, 100)]
    assert run.state["q"].messages[0].state == "dead"
    notes = [n for s in trace(scn, run.tape, engine).steps for n in s.notes]
    assert any(n.startswith("dead-letter q#1") for n in notes)


@pytest.mark.parametrize("cap,offered", [(1, False), (2, True)])
def test_redelivery_faults_respect_the_delivery_cap(engine, cap, offered):
    m = Metrics(DFS())
    explore(queue_scenario(record_delivery, payloads=("job",), redeliveries=1, max_deliveries=cap), m,
            engine=engine)
    assert (m.summary()["faults_offered"] > 0) is offered


def test_nack_on_handler_exception_leads_to_a_later_redelivery(engine):
    async def flaky(st, payload, d):
        await point("work")
        if d.attempt == 1:
            mark(st, "fail", d.attempt, now())
            raise ConnectionError("transient")
        mark(st, "ok", d.attempt, now())

    run = first(queue_scenario(flaky, payloads=("job",), visibility_timeout=250), engine)
    assert run.violation is None
    assert [e[1:] for e in run.state["log"]] == [("fail", 1, 0), ("ok", 2, 250)]
    assert run.state["q"].messages[0].state == "acked"


# ---- ULIDs --------------------------------------------------------------------------------

CROCKFORD = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
EPOCH_MS = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)


def minting() -> Scenario:
    def build(k, st):
        async def early():
            mark(st, ulid(), now())
            await sleep(100)
            mark(st, ulid(), now())
            mark(st, ulid(), now())

        async def other():
            await point("mint")
            mark(st, ulid(), now())
        solo(k, "p1", early)
        solo(k, "p2", other)
    return scenario(build)


def test_ulids_are_valid_unique_and_stamped_with_virtual_time(engine):
    ex, runs = every(minting(), engine)
    assert ex.complete and ex.truncated  # 16 ordering bits: DFS takes their extremes
    for run in runs:
        ids = [e[1] for e in run.state["log"]]
        assert len(set(ids)) == len(ids) == 4
        for _, u, t in run.state["log"]:
            assert CROCKFORD.fullmatch(u), u
            assert ULID.from_str(u).milliseconds == EPOCH_MS + t
    # the 16 bits above the counter are the tape's ulid choice; DFS tries 0 and the maximum
    hi = {(int(ULID.from_str(e[1])) >> 64) & 0xFFFF for r in runs for e in r.state["log"]}
    assert hi == {0, 0xFFFF}


def test_ulids_are_deterministic_for_a_tape(engine):
    rec = Record(RandomWalk(11))
    explore(minting(), rec, engine=engine, budget=5)
    for run in rec.runs:
        again = Record(Replay(run.tape))
        explore(minting(), again, engine=engine)
        assert again.runs[0].state["log"] == run.state["log"]
