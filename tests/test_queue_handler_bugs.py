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


@pytest.mark.parametrize("handler, needle", [(one_arg, "is called as handler(payload, delivery)"),
                                             (not_async, "must be an `async def handler(payload, delivery)`")])
def test_a_wrong_handler_is_refused_at_consume(handler, needle):
    with pytest.raises(SimUsageError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        explore(queue_scenario(handler), DFS())


def test_a_bug_in_the_handler_is_an_uncaught_exception_not_a_livelock():
    res = explore(queue_scenario(two_args), RandomWalk(1), budget=1)
    assert res.violation is not None and res.violation.invariant == "uncaught-exception"
    assert "NameError" in res.violation.message and res.steps < 10
