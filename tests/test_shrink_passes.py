"""Each pass of the shrinker (sim.shrink.Shrinker) on its own, on hand-made tapes of a lost update.

The model: each actor reads a counter, writes it back plus one, then counts its increment
(`done`); I-COUNT says the counter equals the count. Two actors that both read before either
writes lose an update (n < done), which needs a preemption; a process that crashes between
its write and its count breaks it the other way (n > done). Each process runs one actor, and a
crashed one does not restart.

Tapes are read decision by decision: a decision is asked when there are two options or more,
the running actor first (0: keep running it), then the other enabled actors in spawn order,
then crashes. Every pass is run where it must make progress, with the tape it must produce
worked out from that schedule, and on a tape it must leave alone.
"""
from __future__ import annotations

import pytest

import sim
from sim import Scenario, at_end, point
from sim import engine as engines
from sim.scenario import Faults
from sim.shrink import Guided, Shrinker, measure

LOST_UPDATE = [0, 1, 0, 0]   # p0 reads; p1 preempts it and reads the same 0, then writes and counts


def counter(actors: int = 2, crashes: int = 0) -> Scenario:
    async def inc(state):
        await point("read n")
        v = state["n"]
        await point("write n")
        state["n"] = v + 1
        await point("count the increment")
        state["done"] += 1

    def setup(k):
        state = {"n": 0, "done": 0}
        for i in range(actors):
            k.process(f"p{i}", lambda p: p.spawn("inc", inc, state), restart=False)
        return state

    def counted(s):
        return s["n"] == s["done"] or f"n={s['n']} done={s['done']}"

    return Scenario(f"counter-{actors}-{crashes}", setup, invariants=(at_end("I-COUNT", counted),),
                    faults=Faults(crashes=crashes))


def steps(scenario, tape) -> list[str]:
    """The schedule a tape makes: `actor label` (or `crash p`) per step."""
    tr = sim.make_trace(scenario, tape, strategy={"name": "test"})
    return [f"{st.actor} {st.label}" if st.kind == "run" else st.label for st in tr.steps]


def fails(scenario, tape) -> bool:
    """Does `tape` (0s past its end) break I-COUNT?"""
    k = engines.make("fast").execute(scenario, Guided(list(tape)))
    return k.violation is not None and k.violation.invariant == "I-COUNT"


def unchanged_by(pass_name: str, scenario, tape) -> None:
    sh = Shrinker(scenario, tape)
    before = list(sh.best)
    assert getattr(sh, pass_name)() is False
    assert sh.best == before
    assert sh.result.executions > 1, "the pass tried nothing"


def test_the_model_reads_as_documented():
    s = counter()
    assert steps(s, LOST_UPDATE) == ["p0/inc read n", "p1/inc read n", "p1/inc write n",
                                     "p1/inc count the increment", "p0/inc write n", "p0/inc count the increment"]
    assert fails(s, LOST_UPDATE) and not fails(s, [])
    assert measure(s, LOST_UPDATE).preemptions == 1


# ---- drop_faults --------------------------------------------------------------------------

def test_drop_faults_drops_a_crash_the_violation_does_not_need():
    # the lost update between p0 and p1, then p2's process crashes before p2 ever reads (once
    # only p2 can run, the options are p2 and crashing p2)
    s = counter(actors=3, crashes=1)
    tape = [0, 1, 0, 0, 0, 0, 1]
    assert steps(s, tape)[-1] == "crash p2" and measure(s, tape).faults == 1
    sh = Shrinker(s, tape)
    assert sh.drop_faults() is True
    # the crash choice answered 0 instead: p2 runs its three steps, each a decision (crashing is
    # still possible), and the lost update stays
    assert sh.best == tape[:6] + [0, 0, 0]
    assert (sh.best_shape.faults, sh.best_shape.preemptions) == (0, 1)
    assert fails(s, sh.best)


def test_drop_faults_keeps_a_crash_the_violation_needs():
    # p0 runs through, p1 reads and writes, then its process crashes before it counts: n > done
    s = counter(actors=2, crashes=1)
    tape = [0, 0, 0, 0, 0, 1]
    assert steps(s, tape)[-1] == "crash p1" and fails(s, tape)
    unchanged_by("drop_faults", s, tape)


# ---- cut_tail -----------------------------------------------------------------------------

NEEDLESS_TAIL = [0, 1, 1, 1, 1, 1]   # the race at choice 2, then a preemption at every later choice


def test_cut_tail_keeps_the_shortest_failing_prefix():
    s = counter(actors=3)
    assert measure(s, NEEDLESS_TAIL).preemptions == 4
    sh = Shrinker(s, NEEDLESS_TAIL)
    assert sh.cut_tail() is True
    # once p0 and p1 have both read 0 the update is lost whatever follows: [0, 1] and the default
    assert sh.best[:2] == [0, 1] and not any(sh.best[2:])
    assert sh.best_shape.preemptions == 1 and fails(s, sh.best)


def test_cut_tail_leaves_a_tape_without_a_tail():
    unchanged_by("cut_tail", counter(), LOST_UPDATE)


# ---- delete_runs --------------------------------------------------------------------------

def test_delete_runs_deletes_a_run_of_needless_deviations():
    s = counter(actors=3)
    sh = Shrinker(s, NEEDLESS_TAIL)
    assert sh.delete_runs() is True
    # deleting the run from choice 2 on leaves [0, 1]: the same race, answered by 0s after it
    assert sh.best[:2] == [0, 1] and not any(sh.best[2:])
    assert sh.best_shape.deviations == 1 and fails(s, sh.best)


def test_delete_runs_keeps_the_one_deviation_the_race_needs():
    unchanged_by("delete_runs", counter(), LOST_UPDATE)


# ---- lower_deviations ---------------------------------------------------------------------

def test_lower_deviations_sets_a_needless_pick_to_the_default():
    # p2 goes first (a pick, not a preemption: nobody ran yet) and runs through, then p1
    # preempts p0 between its read and its write
    s = counter(actors=3)
    tape = [2, 0, 0, 0, 1, 0, 0]
    assert steps(s, tape)[0] == "p2/inc read n" and fails(s, tape)
    sh = Shrinker(s, tape)
    assert sh.lower_deviations() is True
    # with p0 first instead, the preemption at choice 5 makes p2 race p1: still a lost update
    assert sh.best == [0] + tape[1:]
    assert sh.best_shape.deviations == 1 and fails(s, sh.best)


def test_lower_deviations_lowers_a_pick_when_zero_does_not_fail():
    # three actors: p0 reads, then p2 preempts it (option 2); the lower option 1 (p1) races p0 just
    # the same, and 0 (p0 goes on) loses no update
    s = counter(actors=3)
    tape = [0, 2, 0, 0, 0, 0]
    assert steps(s, tape)[1] == "p2/inc read n" and fails(s, tape)
    sh = Shrinker(s, tape)
    assert sh.lower_deviations() is True
    assert sh.best[:2] == [0, 1] and not any(sh.best[2:]) and fails(s, sh.best)


def test_lower_deviations_keeps_the_needed_preemption():
    unchanged_by("lower_deviations", counter(), LOST_UPDATE)


# ---- move_deviations ----------------------------------------------------------------------

def test_move_deviations_moves_a_preemption_where_it_saves_another():
    # the race, then p0 preempts p1 before p1 counts, and p1 preempts p0 back: three preemptions
    s = counter()
    tape = [0, 1, 0, 1, 1]
    assert steps(s, tape)[3:5] == ["p0/inc write n", "p1/inc count the increment"]
    assert measure(s, tape).preemptions == 3
    sh = Shrinker(s, tape)
    assert sh.move_deviations() is True
    # the switch back to p0 one choice earlier (before p1 writes) lets p0 write and count in one
    # go: two preemptions, and nothing after p0 is done is a choice any more
    assert sh.best == [0, 1, 1, 0]
    assert steps(s, sh.best)[2:4] == ["p0/inc write n", "p0/inc count the increment"]
    assert sh.best_shape.preemptions == 2 and fails(s, sh.best)


def test_move_deviations_keeps_a_preemption_that_only_works_where_it_is():
    # one choice earlier p1 runs first and alone; one later p0 has written already
    unchanged_by("move_deviations", counter(), LOST_UPDATE)


# ---- bounded_search -----------------------------------------------------------------------

def test_bounded_search_finds_the_fewest_preemptions_and_says_so():
    s = counter()
    sh = Shrinker(s, [0, 1, 0, 1, 1])
    assert sh.best_shape.preemptions == 3
    assert sh.bounded_search(0, 2, budget=100) is True
    assert sh.best_shape.preemptions == 1 and fails(s, sh.best)
    assert sh.result.proofs[-1].startswith("I-COUNT with 1 preemption(s) and at most 0 fault(s); none with 0 or fewer")


def test_bounded_search_proves_there_is_nothing_below():
    s = counter()
    sh = Shrinker(s, LOST_UPDATE)
    assert sh.bounded_search(0, 0, budget=100) is False
    assert sh.best == LOST_UPDATE
    proof = sh.result.proofs[-1]
    assert proof.startswith("no schedule with at most 0 preemption(s) and 0 fault(s) fails I-COUNT")
    assert "exhaustive" in proof


def test_bounded_search_claims_nothing_when_its_budget_runs_out():
    # 3 actors without preemptions have 3! schedules: a budget of 2 covers only part of them
    s = counter(actors=3)
    sh = Shrinker(s, [0, 1, 0, 0, 0, 0])
    assert sh.bounded_search(0, 0, budget=2) is False
    assert sh.result.proofs == []


# ---- what every pass relies on ------------------------------------------------------------

def test_attempt_adopts_only_a_cheaper_tape_failing_the_target():
    s = counter(actors=3)
    sh = Shrinker(s, NEEDLESS_TAIL)
    n = sh.result.executions
    assert sh.attempt([]) is False                  # the default schedule passes
    assert sh.attempt(NEEDLESS_TAIL + [0]) is False  # fails, but costs as much (it runs the same schedule)
    assert sh.attempt([0, 1]) is True and sh.best_shape.preemptions == 1
    assert sh.attempt([0, 1]) is False              # tried before: not run again
    assert sh.result.executions == n + 3


def test_a_spent_budget_stops_every_pass():
    s = counter(actors=3)
    sh = Shrinker(s, NEEDLESS_TAIL, max_candidates=1)   # the original execution spent it
    for name in ("drop_faults", "cut_tail", "delete_runs", "lower_deviations", "move_deviations"):
        assert getattr(sh, name)() is False
    assert sh.result.executions == 1


def test_a_tape_that_does_not_fail_is_refused():
    with pytest.raises(ValueError, match="does not fail"):
        Shrinker(counter(), [])
