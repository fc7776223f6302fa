"""The step transitions both worlds implement (domain doc 2.2.4, 2.2.5, 2.3): step_retrying puts a step
back to pending with a retryAfter, and step_started before that instant is refused with 425 (the wait
in ms); after it the step starts again at the next attempt. One actor, no concurrency: the worlds must
agree on the sequential semantics before their races mean anything."""
from __future__ import annotations

import pytest

from models import events as ev
from models.events import TooEarlyError
from models.local.hooks import REVISIONS as LOCAL
from models.postgres.world import REVISIONS as POSTGRES
from sim import Scenario, sleep
from sim.explore import run_tape
from sim.strategy import Replay

RUN = ev.run_id("retry")
CORR = ev.correlation_id("step", RUN, 0)
WORLDS = {"local:L1": LOCAL["L1"], "postgres:P2": POSTGRES["P2"], "postgres:P3": POSTGRES["P3"]}


def _run(rev, script):
    """Run `script(world, out)` in one process against a fresh `rev` with one created step; returns (out, storage)."""
    def setup(sim):
        storage = rev.storage()
        rev.seed_run(storage, RUN)
        rev.seed_step(storage, RUN, CORR, "a")
        rev.seed_event(storage, RUN, ev.STEP_CREATED, CORR, {"stepName": "a"})
        out = {"storage": storage, "results": []}
        sim.process("p1", lambda p: p.spawn("script", script, rev(storage), out["results"]))
        return out

    k = run_tape(Scenario("world-steps", setup), Replay([]))
    assert k.violation is None, k.violation
    return k.state["results"], k.state["storage"]


async def _attempt(world, results, t, data=None):
    try:
        res = await world.events_create(RUN, {"eventType": t, "correlationId": CORR, "eventData": data or {}})
        results.append((t, "ok", (res.get("step") or {}).get("attempt")))
    except TooEarlyError as e:
        results.append((t, "425", e.wait_ms))


@pytest.mark.parametrize("model", WORLDS)
def test_step_retrying_then_too_early_then_started_again(model):
    async def script(world, results):
        await _attempt(world, results, ev.STEP_STARTED)
        await _attempt(world, results, ev.STEP_RETRYING, {"error": "boom", "retryAfter": 500})
        await _attempt(world, results, ev.STEP_STARTED)        # at t=0: 500 ms too early
        await sleep(500)
        await _attempt(world, results, ev.STEP_STARTED)        # at t=500: starts attempt 2
        await _attempt(world, results, ev.STEP_COMPLETED, {"result": "ok"})

    results, storage = _run(WORLDS[model], script)
    assert [r[:2] for r in results] == [(ev.STEP_STARTED, "ok"), (ev.STEP_RETRYING, "ok"), (ev.STEP_STARTED, "425"),
                                        (ev.STEP_STARTED, "ok"), (ev.STEP_COMPLETED, "ok")]
    assert results[2][2] == 500 and results[0][2] == 1 and results[3][2] == 2
    view = WORLDS[model].view(storage)
    types = [e["eventType"] for e in view.log(RUN)]
    assert types[-5:] == [ev.STEP_CREATED, ev.STEP_STARTED, ev.STEP_RETRYING, ev.STEP_STARTED, ev.STEP_COMPLETED]
    assert (view.step(RUN, CORR)["status"], view.step(RUN, CORR)["attempt"]) == ("completed", 2)
