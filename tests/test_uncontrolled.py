"""The uncontrolled stress mode: the baseline the harness is measured against.

It is not replayable, so these tests check what it must do whatever trio's
scheduler decides: find races that most schedules expose, never report a
violation in a correct scenario, and end runs on quiescence or deadlock."""
from __future__ import annotations

import pytest

from sim import Lock, Scenario, at_end, point, registry
from sim.engine.uncontrolled import stress

BUGGY = ["lost-update", "claim-publish", "redelivery-dup", "crash-orphan"]
FIXED = ["lost-update-locked", "claim-publish-xcreate", "redelivery-dup-dedup", "crash-orphan-repaired"]


@pytest.mark.parametrize("name", BUGGY)
def test_stress_finds_races_that_many_schedules_expose(name):
    s = registry.get(name)
    res = stress(s, seed=1, max_runs=500)
    assert res.violation is not None, f"not found in {res.runs} runs"
    assert res.violation.invariant == s.expect


@pytest.mark.parametrize("name", FIXED)
def test_stress_reports_nothing_in_a_correct_scenario(name):
    res = stress(registry.get(name), seed=1, max_runs=60)
    assert res.violation is None and res.runs == 60 and res.found_at is None


def test_stress_ends_a_deadlocked_run_with_a_deadlock_violation():
    def setup(sim):
        a, b = Lock("a"), Lock("b")

        async def one(first, second):
            async with first:
                await point("between locks")
                async with second:
                    await point("both held")

        sim.process("p1", lambda p: p.spawn("ab", one, a, b))
        sim.process("p2", lambda p: p.spawn("ba", one, b, a))
        return {}

    res = stress(Scenario("abba", setup), seed=0, max_runs=200)
    assert res.violation is not None and res.violation.invariant == "deadlock"
    assert "p1/ab" in res.violation.message and "p2/ba" in res.violation.message


def test_stress_checks_at_end_invariants_at_quiescence():
    def setup(sim):
        st = {"done": 0}

        async def worker():
            await point("work")
            st["done"] += 1

        sim.process("p1", lambda p: p.spawn("w", worker))
        return st

    never = Scenario("never", setup, invariants=(at_end("I-NEVER", lambda st: st["done"] == 2 or "only one"),))
    res = stress(never, seed=0, max_runs=3)
    assert res.found_at == 1 and res.violation.invariant == "I-NEVER"
