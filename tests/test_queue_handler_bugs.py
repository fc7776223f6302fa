"""A queue handler's own bug is not a failed delivery: a wrong signature is refused at `consume`, and
a TypeError/NameError/AttributeError/AssertionError raised by the handler ends the execution as
`uncaught-exception` instead of redelivering until livelock."""
from __future__ import annotations

import pytest

from sim import DFS, Queue, RandomWalk, Scenario, explore
from sim.runtime import SimUsageError


def queue_scenario(handler) -> Scenario:
    def setup(k):
        q = Queue("jobs", visibility_timeout=10)
        q.push({"n": 1})
        k.process("worker", lambda p: q.consume(p, handler))
        return {}
    return Scenario("queue-bug", setup)


async def two_args(payload, delivery):
    raise NameError("name 'pyload' is not defined")


async def one_arg(payload):
    return None


def not_async(payload, delivery):
    return None


def test_a_handler_with_a_wrong_signature_is_refused_at_consume():
    with pytest.raises(SimUsageError, match=r"is called as handler\(payload, delivery\)"):
        explore(queue_scenario(one_arg), DFS())


def test_a_handler_that_returns_no_awaitable_is_an_uncaught_exception():
    res = explore(queue_scenario(not_async), RandomWalk(1), budget=1)
    assert res.violation is not None and res.violation.invariant == "uncaught-exception"
    assert "TypeError" in res.violation.message


def test_a_bug_in_the_handler_is_an_uncaught_exception_not_a_livelock():
    res = explore(queue_scenario(two_args), RandomWalk(1), budget=1)
    assert res.violation is not None and res.violation.invariant == "uncaught-exception"
    assert "NameError" in res.violation.message and res.steps < 10
