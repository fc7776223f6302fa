"""DPOR: sound (same final states and violations as plain DFS) and reducing.

Soundness is checked on programs Hypothesis generates: 2 to 4 actors, reads,
writes and read-modify-writes over a few keys, properly nested locks (so lock
order deadlocks happen too), an `always` invariant over declared keys and an
`at_end` one. Every value written depends on everything its actor read before,
so the order of any two dependent steps shows in the final state.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import DFS, Faults, Lock, Queue, Scenario, Store, always, at_end, explore, keys_where, point
from sim import sleep as sim_sleep
from sim import wait as sim_wait
from sim.engine import make as make_engine
from sim.strategy import DPOR
from scenarios.engine_toys import claim_then_publish, crash_orphan, lost_update, redelivery_duplicate

KEYS = ("a", "b", "c")
MOD = 1_000_003


def _salt(me) -> int:
    return me + 1 if isinstance(me, int) else len(me)


class Machine:
    """The generated programs' interpreter (one per execution). Every value a step writes depends
    on everything its actor read before, so the order of any two dependent steps shows.

    `managed`: the state lives in a sim Store (footprint key ("m", k)), so what steps actually
    touched is recorded; otherwise in a plain dict, known only by the points' declarations."""

    def __init__(self, lock_names=(), managed: bool = False):
        self.store = Store("m", {k: 0 for k in KEYS}) if managed else None
        self.state = self.store if managed else {k: 0 for k in KEYS}
        self.acc = {}
        self.locks = {name: Lock(name) for name in lock_names}

    def key(self, k):
        return k if self.store is None else self.store.key(k)

    def result(self) -> dict:
        return {"state": self.state if self.store is None else self.store._data, "acc": self.acc}

    async def run(self, me, ops):
        state, acc = self.state, self.acc
        for op in ops:
            kind = op[0]
            if kind == "lock":
                async with self.locks[op[1]]:
                    await self.run(me, op[2])
            elif kind == "sleep":
                await sim_sleep(op[1])
                acc[me] = (acc.get(me, 1) * 3 + op[1]) % MOD
            elif kind == "wait a":
                ok = await sim_wait("wait a", lambda: state["a"] != 0, timeout=op[1], reads=(self.key("a"),))
                acc[me] = (acc.get(me, 1) * 5 + (1 if ok else 2)) % MOD
            else:
                key = op[1]
                await point(f"{kind} {key}", reads=(self.key(key),) if "r" in kind else (),
                            writes=(self.key(key),) if "w" in kind else ())
                if "r" in kind:
                    acc[me] = (acc.get(me, 1) * 31 + state[key]) % MOD
                if "w" in kind:
                    state[key] = (acc.get(me, 1) * 7 + _salt(me)) % MOD  # only what this actor read


SPELLINGS = ("keys", "callable", "where")


def watched_reads(watched, spelling: str, managed: bool = False):
    """The keys `watched` as an invariant's `reads`, in one of the spellings `always` accepts."""
    keys = tuple(("m", k) for k in watched) if managed else tuple(watched)
    if spelling == "keys":
        return keys
    if spelling == "callable":
        return lambda state: keys          # evaluated once setup has built the state
    return keys_where(lambda k: k in keys)


def program_scenario(actors, watched, bad, lock_names, crashes: int = 0, spelling: str = "keys",
                     managed: bool = False, extra=(), target=((), ())) -> Scenario:
    """`actors`: per actor a list of ops ("r"|"w"|"rw", key) or ("lock", name, [ops]); `extra`
    invariants are added to the generated ones."""

    def setup(sim):
        m = Machine(lock_names, managed)
        for i, ops in enumerate(actors):
            sim.process(f"p{i}", lambda p, i=i, ops=ops: p.spawn("a", m.run, i, ops))
        return m.result()

    def watched_ok(s):
        return sum(s["state"][k] for k in watched) % 5 != bad or f"watched sum = {bad} mod 5"

    faults = Faults(crashes=crashes, crashable=target[0], crash_at=target[1])
    return Scenario("generated", setup, max_steps=200, faults=faults, invariants=(
        always("I-WATCHED", watched_ok, reads=watched_reads(watched, spelling, managed)),
        at_end("I-END", lambda s: s["state"]["a"] % 7 != 3 or "a = 3 mod 7"),
        *extra,
    ))


def outcomes(scenario: Scenario, strategy) -> tuple[set, set, int]:
    """Run the strategy to completion, without stopping at violations."""
    eng = make_engine("fast")
    finals, violations, runs = set(), set(), 0

    def loop():
        nonlocal runs
        while strategy.next_execution():
            k = eng.execute(scenario, strategy)
            strategy.end_execution(k.view())
            runs += 1
            record(k, finals, violations)
            assert runs < 50_000, "program too large for the test"

    eng.host(loop)
    assert strategy.complete
    return finals, violations, runs


def record(k, finals: set, violations: set) -> None:
    """An execution's outcome: the invariant it violated, or its final state (pruned ones: none)."""
    if k.pruned:
        return
    if k.violation is not None:
        violations.add(k.violation.invariant)
    else:
        s = k.state
        finals.add((tuple(sorted(s["state"].items())), tuple(sorted(s["acc"].items()))))


CRASH_TARGETS: list = []  # the crash targets of every generated program with a crash budget
COMPARED: list = []  # (steps, actors, spelling, managed) of every generated program compared (checked below)
simple_op = st.tuples(st.sampled_from(["r", "w", "rw"]), st.sampled_from(KEYS))


def _size(ops) -> int:
    return sum(2 + _size(op[2]) if op[0] == "lock" else 1 for op in ops)


@st.composite
def actor_program(draw, max_steps: int, outer_lock: str | None = None):
    """At most `max_steps` steps (a lock costs 2 plus its body); a nested lock is the other one."""
    ops = []
    left = max_steps
    while left > 0 and (not ops or draw(st.booleans())):
        others = [name for name in ("L1", "L2") if name != outer_lock]
        if left >= 3 and others and draw(st.integers(0, 2)) == 0:
            name = draw(st.sampled_from(others))
            body = draw(actor_program(min(left - 2, 3), name))
            ops.append(("lock", name, body))
        else:
            ops.append(draw(simple_op))
        left = max_steps - _size(ops)
    return ops


@st.composite
def programs(draw):
    n = draw(st.integers(2, 4))
    remaining = {2: 10, 3: 9, 4: 8}[n]  # total steps: keeps plain DFS in the thousands of executions
    actors = []
    for i in range(n):  # 5 steps fit two nested locks around an op: lock order deadlocks
        actors.append(draw(actor_program(min(5, remaining - (n - i - 1)))))
        remaining -= _size(actors[-1])
    return actors


@st.composite
def lock_orders(draw):
    """Two actors that each nest both locks, in an order drawn for each (AB/BA deadlocks), maybe a third."""
    actors = []
    for _ in range(2):
        first = draw(st.sampled_from(["L1", "L2"]))
        second = "L2" if first == "L1" else "L1"
        actors.append([("lock", first, [("lock", second, [draw(simple_op)])])])
    if draw(st.booleans()):
        actors.append([draw(simple_op)])
    return actors


@settings(max_examples=220, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=st.one_of(programs(), programs(), programs(), lock_orders()), watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4), spelling=st.sampled_from(SPELLINGS), managed=st.booleans())
def test_dpor_reaches_the_same_final_states_and_violations_as_dfs(actors, watched, bad, spelling, managed):
    # the invariant's reads in each spelling `always` accepts, over plain or sim-managed state
    COMPARED.append((sum(_size(a) for a in actors), len(actors), spelling, managed))
    scn = program_scenario(actors, tuple(watched), bad, ("L1", "L2"), spelling=spelling, managed=managed)
    dfs_finals, dfs_violations, dfs_runs = outcomes(scn, DFS())
    dpor_finals, dpor_violations, dpor_runs = outcomes(scn, DPOR())
    assert dpor_finals == dfs_finals
    assert dpor_violations == dfs_violations
    assert dpor_runs <= dfs_runs


def test_at_least_200_generated_programs_were_compared():
    if not COMPARED:
        test_dpor_reaches_the_same_final_states_and_violations_as_dfs()
    assert len(COMPARED) >= 200, len(COMPARED)
    assert {c[1] for c in COMPARED} == {2, 3, 4}
    assert {(c[2], c[3]) for c in COMPARED} == {(s, m) for s in SPELLINGS for m in (False, True)}


def test_generated_programs_exercise_what_they_should():
    # the generator is only worth something if programs deadlock, violate and differ in final state
    deadlock = program_scenario([[("lock", "L1", [("lock", "L2", [("w", "a")])])],
                                 [("lock", "L2", [("lock", "L1", [("w", "b")])])]], ("a",), 9, ("L1", "L2"))
    finals, violations, _ = outcomes(deadlock, DPOR())
    assert violations == {"deadlock"} and len(finals) == 1  # no reads: both lock orders write the same
    racy = program_scenario([[("r", "a"), ("w", "a")], [("rw", "a")], [("w", "b")]], ("b",), 9, ())
    dfs_finals, _, dfs_runs = outcomes(racy, DFS())
    dpor_finals, _, dpor_runs = outcomes(racy, DPOR())
    assert dpor_finals == dfs_finals and len(dfs_finals) > 1
    assert dfs_runs == math.factorial(4) // math.factorial(2) and dpor_runs < dfs_runs  # 12 vs 3 classes


@pytest.mark.parametrize("scenario", [lost_update(), claim_then_publish(), crash_orphan(), redelivery_duplicate()],
                         ids=lambda s: s.name)
def test_dpor_finds_every_engine_bug(scenario):
    res = explore(scenario, DPOR())
    assert res.violation is not None and res.violation.invariant == scenario.expect


@pytest.mark.parametrize("workers,dfs_count,dpor_count", [(3, 36, 3), (4, 240, 4)])
def test_dpor_reduction_on_the_exclusive_claim(workers, dfs_count, dpor_count):
    # The claim lives in a sim Store and the xcreate point declares what it would write if it ran
    # now: nothing once the claim exists. Failed creates only read, so they commute with each
    # other; what matters is who wins: one execution per worker. (With a static footprint, every
    # create "writes" and DPOR needs workers! executions: one per claim order.)
    s = claim_then_publish(workers, exclusive=True)
    dfs, dpor = explore(s, DFS()), explore(s, DPOR())
    assert dfs.ok and dpor.ok and dfs.complete and dpor.complete
    assert (dfs.executions, dpor.executions) == (dfs_count, dpor_count)
    assert dpor_count == workers and dfs.executions >= 10 * dpor.executions


def test_dpor_on_independent_workers_runs_one_execution():
    s = lost_update(points=6, workers=2)
    disjoint = Scenario("disjoint", _disjoint_setup)
    assert explore(disjoint, DFS()).executions == math.comb(12, 6)
    assert explore(disjoint, DPOR()).executions == 1


def _disjoint_setup(sim):
    async def worker(me):
        for i in range(6):
            await point(f"write {me}", writes=(me,))

    for name in ("x", "y"):
        sim.process(name, lambda p, me=name: p.spawn("w", worker, me))
    return {}


def test_keep_going_collects_each_distinct_violation_once_under_dfs_and_dpor():
    def setup(sim):
        st = {"x": 0, "first": None}

        async def worker(me):
            await point("read x", reads=("x",))
            v = st["x"]
            await point("write x", writes=("x", "first"))
            st["x"] = v + 1
            st["first"] = st["first"] or me

        for name in ("p1", "p2"):
            sim.process(name, lambda p, me=name: p.spawn("w", worker, me))
        return st

    two_bugs = Scenario("two-bugs", setup, invariants=(
        at_end("I-COUNTER", lambda st: st["x"] == 2 or f"x = {st['x']}"),
        at_end("I-P1-FIRST", lambda st: st["first"] == "p1" or f"{st['first']} wrote first"),
    ))
    found = {}
    for strategy in (DFS(), DPOR()):
        res = explore(two_bugs, strategy, stop_on_violation=False)
        assert res.complete and res.bounds().startswith("exhaustive")
        found[strategy.name] = set(res.violations)
        first = res.violations[res.violation.invariant]
        assert first.execution == res.found_at and first.tape == res.tape
    assert found["dfs"] == found["dpor"] == {"I-COUNTER", "I-P1-FIRST"}


@pytest.mark.parametrize("actors,watched,bad", [
    # Flanagan-Godefroid's "try the racing thread" loses an execution with sleep sets on: the thread
    # it names (A) sleeps where the race must be reversed; source sets try D there instead
    ([[("r", "a"), ("r", "b")], [("r", "a")], [("w", "b")], [("w", "a")]], ("a",), 2),
    # checking a pending transition only against steps added since its last check is unsound: B was
    # the initial reversing a race until D's read came before it, and then D must be tried
    ([[("r", "a"), ("lock", "L1", [("w", "a")])], [("w", "a")], [("r", "b"), ("r", "a")], [("r", "a")]],
     ("a",), 1),
], ids=["fg-backtrack-with-sleep-sets", "incremental-race-check"])
def test_programs_that_broke_earlier_dpor_versions(actors, watched, bad):
    scn = program_scenario(actors, watched, bad, ("L1", "L2"))
    dfs, dpor = outcomes(scn, DFS()), outcomes(scn, DPOR())
    assert dpor[:2] == dfs[:2] and dpor[2] < dfs[2]


@st.composite
def small_programs(draw):
    """2-3 actors and at most 6 steps: a crash option at every step multiplies DFS's tree."""
    n = draw(st.integers(2, 3))
    remaining, actors = 6, []
    for i in range(n):
        actors.append(draw(actor_program(min(3, remaining - (n - i - 1)))))
        remaining -= _size(actors[-1])
    return actors


# crash targets: any process anywhere; only p0; only just before a step whose label matches (so a step
# of the process enables or disables the crash); both
TARGETS = (((), ()), (("p0",), ()), ((), ("w*", "acquire*")), (("p1",), ("r*",)))


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=small_programs(), watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4), spelling=st.sampled_from(SPELLINGS), managed=st.booleans(),
       target=st.sampled_from(TARGETS))
def test_dpor_with_a_crash_budget_matches_dfs(actors, watched, bad, spelling, managed, target):
    # a crash kills a process's actor, releases its locks and restarts it from the start; its
    # dependence (the process key every step of its actors reads, the locks it holds) must be right
    CRASH_TARGETS.append(target)
    scn = program_scenario(actors, tuple(watched), bad, ("L1", "L2"), crashes=1, spelling=spelling, managed=managed,
                           target=target)
    dfs_finals, dfs_violations, dfs_runs = outcomes(scn, DFS())
    dpor_finals, dpor_violations, dpor_runs = outcomes(scn, DPOR())
    assert dpor_finals == dfs_finals
    assert dpor_violations == dfs_violations
    assert dpor_runs <= dfs_runs


def queue_scenario(messages, handler_ops, other_ops, watched, bad, crashes, timed: bool = False,
                   redeliveries: int = 1) -> Scenario:
    """Consumers in two processes handle `messages` from one queue, each with `handler_ops[msg]`;
    an independent actor runs `other_ops`. `redeliveries` redelivery faults are allowed (and `crashes`
    crashes). `timed`: a visibility timeout of 2 ticks, which a handler that sleeps can outlast."""

    def setup(sim):
        m = Machine()
        # timed: a handler that outlasts the timeout loses the message to the next one, which can outlast it
        # too: two deliveries at most keep the search finite
        q = Queue("q", visibility_timeout=2, max_deliveries=2) if timed else Queue("q", visibility_timeout=10)
        for msg in messages:
            q.push(msg)

        async def handle(msg, delivery):
            await m.run(f"{msg}@{delivery.attempt}", handler_ops[msg])

        for name in ("c1", "c2"):
            sim.process(name, lambda p: q.consume(p, handle))
        if other_ops:
            sim.process("o", lambda p: p.spawn("a", m.run, "o", other_ops))
        return m.result()

    def watched_ok(s):
        return sum(s["state"][k] for k in watched) % 5 != bad or f"watched sum = {bad} mod 5"

    return Scenario("generated-queue", setup, max_steps=200, faults=Faults(crashes=crashes, redeliveries=redeliveries),
                    invariants=(always("I-WATCHED", watched_ok, reads=watched),))


@st.composite
def queue_programs(draw):
    """Small by construction (DFS stays in the thousands): one message with at most 3 ops in all
    (2 with a crash budget), or two messages with one op each, nothing else and no crash."""
    if draw(st.booleans()):
        crashes = draw(st.integers(0, 1))
        total = 2 if crashes else 3
        m1 = draw(st.lists(simple_op, min_size=1, max_size=total))
        other = draw(st.lists(simple_op, max_size=total - len(m1)))
        return ["m1"], {"m1": m1}, other, crashes
    return ["m1", "m2"], {"m1": [draw(simple_op)], "m2": [draw(simple_op)]}, [], 0


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(program=queue_programs(), watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4))
def test_dpor_with_queues_redeliveries_and_crashes_matches_dfs(program, watched, bad):
    # deliveries, acks, redelivery faults (while the first consumer still runs) and crashes that
    # orphan an in-flight message: their dependence (the queue key, the budgets) must be right
    msgs, handler_ops, other_ops, crashes = program
    scn = queue_scenario(msgs, handler_ops, other_ops, tuple(watched), bad, crashes)
    dfs_finals, dfs_violations, dfs_runs = outcomes(scn, DFS())
    dpor_finals, dpor_violations, dpor_runs = outcomes(scn, DPOR())
    assert dpor_finals == dfs_finals
    assert dpor_violations == dfs_violations
    assert dpor_runs <= dfs_runs


@st.composite
def timed_queue_programs(draw):
    """One message whose handler may sleep past the visibility timeout (timed redelivery), another
    actor that may sleep too; redelivery faults 0 or 1."""
    handler = [("sleep", draw(st.integers(1, 3)))]
    if draw(st.booleans()):
        handler.insert(draw(st.integers(0, 1)), draw(simple_op))
    other = draw(st.lists(simple_op, max_size=1))   # its steps give the clock jumps more places to go
    return ["m1"], {"m1": handler}, other, 0, draw(st.integers(0, 1))


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(program=timed_queue_programs(), watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True),
       bad=st.integers(0, 4))
def test_dpor_with_timed_redelivery_matches_dfs(program, watched, bad):
    # a message held past its visibility timeout is visible again at the clock jump (time is dependent
    # with every step), and the jump stops at that timeout
    msgs, handler_ops, other_ops, crashes, redeliveries = program
    scn = queue_scenario(msgs, handler_ops, other_ops, tuple(watched), bad, crashes, timed=True,
                         redeliveries=redeliveries)
    dfs, dpor = outcomes(scn, DFS()), outcomes(scn, DPOR())
    assert dpor[:2] == dfs[:2] and dpor[2] <= dfs[2]


timed_op = st.one_of(simple_op, st.tuples(st.just("sleep"), st.integers(1, 3)),
                     st.tuples(st.just("wait a"), st.integers(1, 3)))


def timed_scenario(actors, watched, bad, heartbeat=None) -> Scenario:
    """Reads and writes, sleeps, and waits for `a != 0` with a timeout: time passing is an option
    the scheduler offers while anything sleeps, and it is dependent with every step. `heartbeat`:
    (period, op) of a background actor that loops forever: sleep(period, background=True), then op."""

    def setup(sim):
        m = Machine()
        for i, ops in enumerate(actors):
            sim.process(f"p{i}", lambda p, i=i, ops=ops: p.spawn("a", m.run, i, ops))
        if heartbeat is not None:
            sim.process("hb", lambda p: p.spawn("beat", beat, m))
        return m.result()

    async def beat(m):
        period, op = heartbeat
        while True:
            await sim_sleep(period, "heartbeat", background=True)
            await m.run(9, [op])   # an int like the other actors: acc keys must sort

    return Scenario("generated-timed", setup, max_steps=200, invariants=(
        always("I-WATCHED", lambda s: sum(s["state"][k] for k in watched) % 5 != bad or "hit", reads=watched),
        at_end("I-END", lambda s: s["state"]["a"] % 7 != 3 or "a = 3 mod 7")))


HEARTBEATS: list = []   # the heartbeat of every generated timed program (checked below)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actors=st.lists(st.lists(timed_op, min_size=1, max_size=2), min_size=2, max_size=3),
       watched=st.lists(st.sampled_from(KEYS), min_size=1, max_size=2, unique=True), bad=st.integers(0, 4),
       heartbeat=st.one_of(st.none(), st.tuples(st.integers(1, 3), simple_op)))
def test_dpor_with_sleeps_timeouts_and_background_timers_matches_dfs(actors, watched, bad, heartbeat):
    if heartbeat is not None and len(actors) == 3:
        actors = actors[:2]   # a heartbeat fires between any two foreground steps: keeps DFS small
    HEARTBEATS.append(heartbeat)
    scn = timed_scenario(actors, tuple(watched), bad, heartbeat)
    dfs, dpor = outcomes(scn, DFS()), outcomes(scn, DPOR())
    assert "livelock" not in dfs[1]   # background timers keep the search finite
    assert dpor[:2] == dfs[:2] and dpor[2] <= dfs[2]


def test_the_generators_covered_background_timers_and_crash_targets():
    if not HEARTBEATS:
        test_dpor_with_sleeps_timeouts_and_background_timers_matches_dfs()
    if not CRASH_TARGETS:
        test_dpor_with_a_crash_budget_matches_dfs()
    assert sum(h is not None for h in HEARTBEATS) >= 20
    assert set(CRASH_TARGETS) == set(TARGETS)


def test_dpor_survives_a_step_that_ends_the_execution_with_an_uncaught_exception():
    # the step that raised still has to reach the strategy's after_step, or DPOR's trail and
    # clocks fall out of step and its race analysis indexes past the end (found by the hook model)
    def setup(sim):
        st = {"x": 0}

        async def write_x():
            await point("write x", writes=("x",))
            st["x"] += 1

        async def fail():
            await point("read y", reads=("y",))
            raise RuntimeError("boom")

        for name, fn in (("a", write_x), ("b", fail), ("c", write_x)):
            sim.process(name, lambda p, fn=fn: p.spawn("w", fn))
        return st

    res = explore(Scenario("raise-after-race", setup), DPOR(), stop_on_violation=False)
    assert res.complete and set(res.violations) == {"uncaught-exception"}
    assert res.executions >= 2   # a and c race on x: reversed at least once
