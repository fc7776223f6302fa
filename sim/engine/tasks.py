"""The trio-task engine: every actor is a real trio task, parked and released by a controller.

Exactly one task is runnable at any moment (the controller or the one actor it
released), so trio's own scheduling order never decides anything. Actors may use
trio checkpoints inside a step; blocking *between* actors must go through sim's
primitives. It is slower than the fast engine (a run-loop turn per step, a
`trio.run` per execution) and exists for models that need trio, and to
cross-check the fast engine: both are driven by the same `Kernel.steps`.
"""
from __future__ import annotations

import trio
import trio.testing
from trio.lowlevel import Abort, current_task, reschedule, wait_task_rescheduled

from sim import runtime
from sim.kernel import DONE, PARKED, Kernel
from sim.tape import Divergence


def _abort(_raise_cancel):
    # SUCCEEDED: a cancelled parked task wakes with Cancelled (FAILED would hang trio.run)
    return Abort.SUCCEEDED


class TaskKernel(Kernel):
    controller = None
    _controller_waiting = False

    def _wake_controller(self) -> None:
        if self._controller_waiting:
            self._controller_waiting = False
            reschedule(self.controller)

    async def _park(self, a):
        if a.crashing:  # dying: let the cancellation through, never hand control back twice
            await trio.lowlevel.checkpoint()
        self._wake_controller()
        await wait_task_rescheduled(_abort)

    def park(self, a):
        return self._park(a).__await__()

    async def wait_for_actor(self) -> None:
        self._controller_waiting = True
        await wait_task_rescheduled(_abort)


async def _actor_main(k: TaskKernel, a) -> None:
    a.task = current_task()
    with trio.CancelScope() as scope:
        a.scope = scope
        if a.crashing:
            scope.cancel()
        try:
            await a.coro
        except Exception as e:
            a.error = e
    a.state = DONE
    k._wake_controller()


async def _control(k: TaskKernel) -> None:
    k.controller = current_task()
    async with trio.open_nursery() as nursery:
        try:
            for a in k.steps():
                if a.task is None:
                    if a.crashing:  # never started: nothing to cancel
                        a.coro.close()
                        a.state = DONE
                        continue
                    nursery.start_soon(_actor_main, k, a)
                elif a.crashing:
                    a.scope.cancel()
                else:
                    reschedule(a.task)
                await k.wait_for_actor()
                if a.state != DONE:
                    a.state = PARKED
        finally:
            for a in k.leftovers():
                a.crashing = True
                if a.task is None:
                    a.coro.close()
            nursery.cancel_scope.cancel()


class TaskEngine:
    name = "trio"

    def host(self, fn):
        return fn()

    def execute(self, scenario, strategy, record: bool = False) -> Kernel:
        k = TaskKernel(scenario, strategy, record)
        prev, runtime._kernel = runtime._kernel, k
        try:
            # a fresh run per execution isolates every execution; MockClock keeps any trio.sleep
            # an actor does inside a step virtual
            trio.run(_control, k, clock=trio.testing.MockClock(autojump_threshold=0))
        except Divergence as d:
            if d.step is None:
                d.step = k.step
            raise
        finally:
            runtime._kernel = prev
        return k
