"""The main job goes on past an expected violation (sim.keepgoing), and a scenario's own budget."""
from __future__ import annotations

import dataclasses

import pytest

import sim
from sim import Scenario, at_end, parallel, point
from sim import strategy as strategies
from sim.keepgoing import PastExpected
from sim.units import Spec
from tests.test_cli import own_registry, run_cli  # noqa: F401  (a fixture)


def first_writer(expect: str = "I-A-FIRST", name: str = "first-writer") -> Scenario:
    """Three processes append their letter to one list. I-A-FIRST breaks when a's append lands first,
    which is the first schedule DFS tries (choice 0 everywhere); I-C-FIRST when c's does, later."""

    def setup(k):
        order: list[str] = []

        async def append(letter):
            await point(f"append {letter}", writes=("order",))
            order.append(letter)

        for letter in "abc":
            k.process(letter, lambda p, x=letter: p.spawn("append", append, x))
        return order

    return Scenario(name=name, setup=setup, expect=expect, invariants=(
        at_end("I-A-FIRST", lambda o: o[0] != "a" or f"a first: {o}"),
        at_end("I-C-FIRST", lambda o: o[0] != "c" or f"c first: {o}")))


def always_broken(budget: int | None = None) -> Scenario:
    """Every schedule breaks I-ALWAYS: how far the exploration goes is the bound's alone."""

    def setup(k):
        async def step():
            await point("step")
        k.process("p", lambda p: p.spawn("step", step))
        return None

    return Scenario(name="always-broken", setup=setup, expect="I-ALWAYS", budget=budget,
                    invariants=(at_end("I-ALWAYS", lambda _s: "broken"),))


def test_a_second_invariant_after_the_expected_one_is_a_mismatch(own_registry, tmp_path, capsys):
    own_registry(first_writer())
    code, out, _ = run_cli(capsys, "explore", "--strategy", "dfs", "--out", tmp_path, "--no-shrink")
    assert code == 1
    tail = out[out.index("did not match"):]
    assert "first-writer: expected I-A-FIRST, also found I-C-FIRST (at execution" in tail
    # both are saved: the unexpected one is the one to look at
    saved = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".json")
    assert len(saved) == 2


def test_alternatives_named_by_the_expectation_are_not_mismatches(own_registry, tmp_path, capsys):
    own_registry(first_writer(expect="I-A-FIRST|I-C-FIRST"))
    code, out, _ = run_cli(capsys, "explore", "--strategy", "dfs", "--out", tmp_path, "--no-shrink")
    assert code == 0, out
    assert "all 1 scenario(s) matched" in out


def test_one_named_scenario_still_stops_at_its_first_violation(own_registry, tmp_path, capsys):
    own_registry(first_writer())
    code, out, _ = run_cli(capsys, "explore", "--scenario", "first-writer", "--strategy", "dfs", "--out", tmp_path,
                           "--no-shrink")
    assert code == 1 and "stopped at the first violation" in out
    assert len([p for p in tmp_path.iterdir() if p.suffix == ".json"]) == 1


def test_going_on_is_bounded_by_the_find_and_the_budget():
    sc = always_broken()
    rule = PastExpected.of(sc)
    res = sim.explore(sc, strategies.make("random", 3), budget=1000, past=rule)
    # found at execution 1, then `extra` more
    assert (res.found_at, res.went_on, res.executions) == (1, 1, 1 + rule.extra)
    res = sim.explore(sc, strategies.make("random", 3), budget=50, past=rule)
    assert res.executions == 50
    tight = dataclasses.replace(rule, extra=5)
    assert sim.explore(sc, strategies.make("random", 3), budget=1000, past=tight).executions == 6
    assert rule.limit(400, 1000) == 500 and rule.limit(950, 1000) == 1000 and rule.limit(10, None) == 110


def test_a_hold_scenario_has_no_rule_and_alternatives_are_all_expected():
    assert PastExpected.of(dataclasses.replace(always_broken(), expect="hold")) is None
    rule = PastExpected.of(first_writer(expect="I-A-FIRST|I-C-FIRST"))
    assert not rule.stops("I-A-FIRST") and not rule.stops("I-C-FIRST") and rule.stops("I-OTHER")


@pytest.mark.parametrize("jobs", [1, 2])
def test_units_go_on_past_the_expected_violation_the_same_for_any_jobs(jobs, own_registry):
    sc = first_writer()
    own_registry(sc)  # forked workers inherit it
    spec = Spec(sc.name, "dfs", 1, past=PastExpected.of(sc).expected, split=2)
    ex = parallel.Inline(sc) if jobs == 1 else parallel.Pool(jobs)
    try:
        res = parallel.explore(sc, spec, executor=ex)
    finally:
        ex.close()
    seq = sim.explore(sc, strategies.make("dfs"), past=PastExpected.of(sc))
    assert list(res.violations) == list(seq.violations) == ["I-A-FIRST", "I-C-FIRST"]
    assert res.executions == seq.executions and res.violations["I-C-FIRST"].execution == \
        seq.violations["I-C-FIRST"].execution


def test_a_scenario_budget_replaces_the_default_and_is_shown(own_registry, tmp_path, capsys):
    held = dataclasses.replace(always_broken(budget=7), name="own-budget", expect="hold", invariants=())
    own_registry(held, first_writer())
    code, out, _ = run_cli(capsys, "explore", "--strategy", "random", "--out", tmp_path, "--no-shrink")
    row = next(ln for ln in out.splitlines() if ln.lstrip().startswith("own-budget"))
    assert " 7 " in row and "7 (own)" in row
    code, out, _ = run_cli(capsys, "explore", "--strategy", "random", "--budget", "3", "--out", tmp_path,
                           "--no-shrink")
    row = next(ln for ln in out.splitlines() if ln.lstrip().startswith("own-budget"))
    assert " 3 " in row and "(own)" not in row
    code, out, _ = run_cli(capsys, "list")
    row = next(ln for ln in out.splitlines() if "own-budget" in ln)
    assert " 7 " in row


def test_a_bad_budget_is_refused():
    with pytest.raises(ValueError, match="budget must be a whole number >= 1"):
        always_broken(budget=0)


def test_dpor_goes_on_past_a_violation_with_a_footprint_that_reads_the_clock():
    """A step whose footprint is a callable reading now() is still pending when an execution ends in a
    violation; DPOR's race analysis of that final state evaluates it after the execution (it raised
    'no simulated execution is running here' and ended the exploration)."""

    def setup(k):
        state = {"x": 0}

        async def writer():
            await point("set x", writes=("x",))
            state["x"] = 1

        async def stamper():
            await point("stamp", writes=lambda: (("stamp", sim.now()),))

        k.process("a", lambda p: p.spawn("writer", writer))
        k.process("b", lambda p: p.spawn("stamper", stamper))
        return state

    sc = Scenario(name="clock-footprint", setup=setup, expect="I-X",
                  invariants=(sim.always("I-X", lambda s: s["x"] == 0 or "x set"),))
    res = sim.explore(sc, strategies.make("dpor"), stop_on_violation=False)
    assert res.complete and list(res.violations) == ["I-X"]


def test_the_library_takes_a_scenario_budget_as_its_default():
    sc = dataclasses.replace(always_broken(budget=9), expect="hold", invariants=())
    assert sim.explore(sc, strategies.make("random", 1)).executions == 9
    assert sim.explore(sc, strategies.make("random", 1), budget=4).executions == 4
    assert parallel.explore(sc, Spec(sc.name, "random", 1, chunk=4)).executions == 9


def test_going_on_records_the_member_that_found_it_so_the_trace_is_the_one_a_stopping_run_writes():
    """A portfolio moves on to other members while going on: the trace of the first find must name the
    member that found it, as a run stopping there does (the main job and `--scenario NAME` then write
    the same file)."""
    sc = sim.registry.get("lost-update")
    stopping = sim.explore(sc, strategies.make("portfolio", 1))
    going = sim.explore(sc, strategies.make("portfolio", 1), stop_on_violation=True,
                        past=PastExpected.of(sc), budget=200)
    assert going.executions > stopping.executions          # it did go on
    found = going.violations["I-COUNTER"]
    assert found.strategy == stopping.strategy and found.tape == stopping.tape
