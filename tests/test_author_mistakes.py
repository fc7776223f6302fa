"""Mistakes a model author makes are refused with a message, not answered with a misleading verdict."""
from __future__ import annotations

import pytest

from sim import DFS, Scenario, Store, at_end, explore, point
from sim.runtime import SimUsageError


def test_an_async_start_function_is_refused():
    async def start(p):            # the actor itself given where the start function goes
        await point("never runs")

    def setup(k):
        k.process("p1", start)
        return {}
    with pytest.raises(SimUsageError, match="start function of process 'p1' is a coroutine function"):
        explore(Scenario("async-start", setup), DFS())


def test_a_misspelt_expectation_is_refused_when_registered(monkeypatch):
    from sim import registry
    registry.all_scenarios()
    monkeypatch.setattr(registry, "_registry", {})
    inv = at_end("I-ONE", lambda s: True)
    with pytest.raises(ValueError, match=r"expect='I-0NE': 'I-0NE' is neither 'hold'.*\(I-ONE\)"):
        registry.register(Scenario("typo", lambda k: {}, invariants=(inv,), expect="I-0NE"))
    registry.register(Scenario("fine", lambda k: {}, invariants=(inv,), expect="I-ONE|deadlock"))   # built-ins count


def test_two_stores_with_one_name_are_refused():
    def setup(k):
        Store("state")
        Store("state")

        async def w():
            await point("x")
        k.process("p1", lambda p: p.spawn("w", w))
        return {}
    with pytest.raises(SimUsageError, match="two Stores named 'state'"):
        explore(Scenario("two-stores", setup), DFS())
