"""Background timers (periodic actors that keep no run alive), timed redelivery of a message a slow
consumer holds past its visibility timeout, and crashes targeted at named processes or step labels."""
from __future__ import annotations

import pytest

from sim import DFS, Faults, Queue, Scenario, at_end, explore, point, sleep, wait
from sim.engine import make as make_engine
from sim.runtime import SimUsageError
from sim.strategy import DPOR


def every_execution(scenario: Scenario, strategy=None) -> list:
    """The kernels of every execution of an exhaustive search (violations included)."""
    strategy = strategy or DFS()
    eng = make_engine("fast")
    out = []

    def loop():
        while strategy.next_execution():
            k = eng.execute(scenario, strategy)
            strategy.end_execution(k.view())
            out.append(k)
            assert len(out) < 20_000

    eng.host(loop)
    assert strategy.complete
    return out


def recorded(scenario: Scenario, tape):
    """The execution `tape` makes, with its step log."""
    from sim.strategy.replay import Replay
    eng, strategy, out = make_engine("fast"), Replay(tape), []
    strategy.next_execution()
    eng.host(lambda: out.append(eng.execute(scenario, strategy, record=True)))
    return out[0]


# ---- background timers ------------------------------------------------------------------------

def heartbeat_scenario(background: bool = True, worker_steps: int = 2, invariants=()) -> Scenario:
    def setup(k):
        st = {"beats": 0, "work": 0, "beats_seen_by_worker": []}

        async def worker():
            for _ in range(worker_steps):
                await point("work", writes=("work",), reads=("beats",))
                st["work"] += 1
                st["beats_seen_by_worker"].append(st["beats"])

        async def heartbeat():
            while True:
                await sleep(10, "heartbeat timer", background=background)
                await point("beat", writes=("beats",))
                st["beats"] += 1

        k.process("w", lambda p: p.spawn("worker", worker))
        k.process("hb", lambda p: p.spawn("heartbeat", heartbeat))
        return st

    return Scenario("heartbeat", setup, invariants=invariants, max_steps=200)


def test_a_plain_periodic_actor_never_lets_the_run_end():
    res = explore(heartbeat_scenario(background=False), DFS(), budget=5)
    assert res.violation is not None and res.violation.invariant == "livelock"


def test_a_background_periodic_actor_ends_at_quiescence_with_a_finite_search():
    for strategy in (DFS(), DPOR()):
        res = explore(heartbeat_scenario(), strategy)
        assert res.ok and res.complete, (strategy.name, res.violation)


def test_at_end_invariants_are_checked_once_the_foreground_is_done():
    sc = heartbeat_scenario(invariants=(at_end("I-WORK", lambda st: st["work"] == 3 or f"work = {st['work']}"),))
    res = explore(sc, DFS())
    assert res.violation is not None and res.violation.invariant == "I-WORK"
    assert "at quiescence" in res.violation.message


def test_the_heartbeat_interleaves_with_the_worker_at_most_once_between_its_steps():
    kernels = every_execution(heartbeat_scenario(worker_steps=2))
    seen = {tuple(k.state["beats_seen_by_worker"]) for k in kernels if not k.pruned}
    beats = {k.state["beats"] for k in kernels}
    # before the first step, between the two, and none: every interleaving of at most one beat per gap
    assert seen == {(0, 0), (0, 1), (1, 1), (1, 2)}
    assert max(beats) == 2 and min(beats) == 0
    assert all(k.violation is None for k in kernels)


def test_a_run_of_background_actors_only_is_quiescent_at_once():
    def setup(k):
        async def beat():
            while True:
                await sleep(5, background=True)
                await point("beat")

        k.process("hb", lambda p: p.spawn("beat", beat))
        return {}

    res = explore(Scenario("only-background", setup), DFS())
    assert res.ok and res.complete and res.executions == 1


def test_a_foreground_wait_that_only_the_background_satisfies_is_no_deadlock():
    def setup(k):
        st = {"lease": 0, "used": False}

        async def client():
            await wait("lease renewed", lambda: st["lease"] > 0, reads=("lease",))
            st["used"] = True

        async def renewer():
            while True:
                await sleep(100, "renew timer", background=True)
                await point("renew", writes=("lease",))
                st["lease"] += 1

        k.process("c", lambda p: p.spawn("client", client))
        k.process("r", lambda p: p.spawn("renewer", renewer))
        return st

    res = explore(Scenario("lease", setup, invariants=(at_end("I-USED", lambda st: st["used"]),)), DFS())
    assert res.ok and res.complete


def test_a_background_wait_needs_a_timeout():
    def setup(k):
        async def bad():
            await wait("forever", lambda: False, background=True)

        k.process("p", lambda p: p.spawn("bad", bad))
        return {}

    res = explore(Scenario("bad-background", setup), DFS())
    assert res.violation.invariant == "uncaught-exception"
    assert "background wait needs a timeout" in res.violation.message


# ---- timed redelivery -------------------------------------------------------------------------

def slow_consumer(hold: int, timed: bool = True, redeliveries: int = 0) -> Scenario:
    """Two consumer processes; the handler sleeps `hold` ticks while it holds the message (timeout 30)."""
    def setup(k):
        st = {"handled": 0}
        q = Queue("jobs", visibility_timeout=30, timed_redelivery=timed)
        q.push("job")

        async def handle(payload, delivery):
            await sleep(hold, "slow work")
            await point("record", writes=("handled",))
            st["handled"] += 1

        for name in ("c1", "c2"):
            k.process(name, lambda p: q.consume(p, handle))
        return st

    return Scenario("slow-consumer", setup, faults=Faults(redeliveries=redeliveries),
                    invariants=(at_end("I-ONCE", lambda st: st["handled"] == 1 or f"handled {st['handled']} times"),))


def test_a_consumer_holding_a_message_past_its_visibility_timeout_loses_it_without_a_fault():
    for strategy in (DFS(), DPOR()):
        res = explore(slow_consumer(hold=50), strategy)
        assert res.violation is not None and res.violation.invariant == "I-ONCE", strategy.name
        assert recorded(slow_consumer(hold=50), res.tape).redeliveries == 0


def test_a_consumer_within_its_visibility_timeout_keeps_its_message():
    res = explore(slow_consumer(hold=20), DFS())
    assert res.ok and res.complete


def test_timed_redelivery_off_keeps_the_message_with_its_live_consumer():
    res = explore(slow_consumer(hold=50, timed=False), DFS())
    assert res.ok and res.complete
    # the untimed fault still duplicates it, and spends the budget
    res = explore(slow_consumer(hold=50, timed=False, redeliveries=1), DFS())
    assert res.violation is not None and res.violation.invariant == "I-ONCE"


def test_a_timed_redelivery_spends_no_budget_and_says_so_in_the_trace():
    kernels = every_execution(slow_consumer(hold=50))
    dup = [k for k in kernels if k.violation is not None]
    assert dup and all(k.redeliveries == 0 and k.timed_redeliveries >= 1 for k in dup)
    from sim.explore import trace_of
    k = recorded(slow_consumer(hold=50), dup[0].tape)
    notes = [n for e in k.log for n in e.notes]
    assert any(n.startswith("visibility timeout: jobs#1 held by") for n in notes), notes
    clock = [e.label for e in k.log if e.kind == "time"]
    assert "clock 0 -> 30" in clock   # the jump stops at the timeout, before the sleeper's 50
    assert trace_of(slow_consumer(hold=50), k, strategy={"name": "replay"}, engine="fast").faults == \
        {"crashes": 0, "redeliveries": 0}


# ---- targeted crashes -------------------------------------------------------------------------

def crash_targets(crashable=(), crash_at=()) -> Scenario:
    def setup(k):
        st = {"starts": {}}

        async def worker(name):
            await point("read x", reads=("x",))
            await point("write x", writes=("x",))

        def start(p):
            st["starts"][p.name] = st["starts"].get(p.name, 0) + 1
            p.spawn("w", worker, p.name)

        for name in ("p1", "p2", "p3"):
            k.process(name, start)
        return st

    return Scenario("targets", setup, faults=Faults(crashes=1, crashable=crashable, crash_at=crash_at))


def crashed(k) -> set:
    return {name for name, n in k.state["starts"].items() if n > 1}


def test_untargeted_crashes_pick_any_process():
    assert set().union(*map(crashed, every_execution(crash_targets()))) == {"p1", "p2", "p3"}


def test_crashable_limits_the_tape_to_the_named_processes():
    kernels = every_execution(crash_targets(crashable=("p2",)))
    assert set().union(*map(crashed, kernels)) == {"p2"}
    assert len(kernels) < len(every_execution(crash_targets()))


def test_crash_at_limits_crashes_to_points_with_matching_labels():
    for k in every_execution(crash_targets(crash_at=("write*",))):
        if crashed(k):
            rec = recorded(crash_targets(crash_at=("write*",)), k.tape)
            i = next(j for j, e in enumerate(rec.log) if e.kind == "crash")
            victim = rec.log[i].process
            before = [e for e in rec.log[:i] if e.kind == "run" and e.process == victim]
            assert [e.label for e in before] == ["read x"], rec.log   # crashed just before 'write x'


def test_a_crashable_name_that_is_no_process_is_refused():
    with pytest.raises(SimUsageError, match="names no process of targets: p9"):
        explore(crash_targets(crashable=("p9",)), DFS())


def test_faults_refuse_a_bare_string():
    with pytest.raises(ValueError, match="tuple of strings"):
        Faults(crashes=1, crashable="p1")


def test_a_targeted_trace_records_its_targets_and_others_keep_two_keys():
    assert Faults(crashes=1).recorded() == {"crashes": 1, "redeliveries": 0}
    assert Faults(crashes=1, crashable=("p1",), crash_at=("w*",)).recorded() == \
        {"crashes": 1, "redeliveries": 0, "crashable": ["p1"], "crash_at": ["w*"]}
    assert "of p1 at w*" in Faults(crashes=1, crashable=("p1",), crash_at=("w*",)).describe()
