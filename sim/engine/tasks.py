"""The trio-task engine: every actor is a real trio task, parked and released by a controller.

Exactly one task is runnable at any moment (the controller or the one actor it
released), so trio's own scheduling order never decides anything. Actors may use
trio checkpoints inside a step; blocking *between* actors must go through sim's
primitives. It is slower than the fast engine (a run-loop turn per step, a
`trio.run` per execution) and exists for models that need trio, and to
cross-check the fast engine: both are driven by the same `Kernel.steps`.
"""
from __future__ import annotations

import outcome
import trio
import trio.testing
from trio.lowlevel import Abort, current_task, reschedule, wait_task_rescheduled

from sim import runtime
from sim.kernel import DONE, Crashed, Kernel
from sim.runtime import SimUsageError
from sim.strategy.base import Prune


def _abort(_raise_cancel):
    # SUCCEEDED: if the run is torn down, a parked task wakes with Cancelled (FAILED would hang trio.run)
    return Abort.SUCCEEDED


class _Dead(BaseException):
    """Raised into a crashed process's actor that caught sim.Crashed and awaited again."""


class TaskKernel(Kernel):
    controller = None
    _controller_waiting = False

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._undying: set = set()   # membership only, never iterated

    def _wake_controller(self) -> None:
        if self._controller_waiting:
            self._controller_waiting = False
            reschedule(self.controller)

    async def _park(self, a):
        if a.crashing:  # a dying actor that caught Crashed and awaits again: it stays dead
            if a in self._undying:   # it caught _Dead too: it will not end, and the run cannot go on
                if self.fatal is None:
                    self.fatal = SimUsageError(f"actor {a.name} went on after its process crashed: it caught "
                                               f"sim.Crashed and every later exception, and awaited again")
                self._wake_controller()
                await wait_task_rescheduled(_abort)
            self._undying.add(a)
            raise _Dead()   # as the fast engine closes such a coroutine
        self._wake_controller()
        await wait_task_rescheduled(_abort)

    def park(self, a):
        return self._park(a).__await__()

    async def wait_for_actor(self) -> None:
        self._controller_waiting = True
        await wait_task_rescheduled(_abort)


async def _actor_main(k: TaskKernel, a) -> None:
    a.task = current_task()
    try:
        await a.coro
    except (Crashed, _Dead):
        pass
    except (KeyboardInterrupt, trio.Cancelled):
        raise
    except BaseException as e:   # SystemExit too: a model never ends sim's process
        a.error = e
    a.state = DONE
    k._wake_controller()


async def _kill(k: TaskKernel, a) -> None:
    """Throw sim.Crashed into a parked actor (as the fast engine does) and wait until it is gone."""
    a.crashing = True
    if a.task is None:  # never started: nothing ran, nothing to unwind
        a.coro.close()
        a.state = DONE
        return
    if a.state != DONE:
        reschedule(a.task, outcome.Error(Crashed()))
        await k.wait_for_actor()
        if a.state != DONE and k.fatal is not None:
            raise k.fatal


async def _control(k: TaskKernel) -> None:
    k.controller = current_task()
    error = None
    async with trio.open_nursery() as nursery:
        try:
            for a in k.steps():
                if a.crashing:
                    await _kill(k, a)
                    continue
                if a.task is None:
                    nursery.start_soon(_actor_main, k, a)
                else:
                    reschedule(a.task)
                await k.wait_for_actor()
            for a in k.leftovers():
                k.running = a
                await _kill(k, a)
        except Exception as e:  # re-raised outside the nursery, so callers never see an ExceptionGroup
            error = e
            nursery.cancel_scope.cancel()
    if error is not None:
        raise error
    if k.fatal is not None:
        raise k.fatal


class TaskEngine:
    name = "trio"

    def host(self, fn):
        return fn()

    def execute(self, scenario, strategy, record: bool = False, check_footprints: bool = False) -> Kernel:
        k = TaskKernel(scenario, strategy, record, check_footprints)
        prev, runtime._kernel = runtime._kernel, k
        try:
            # a fresh run per execution isolates every execution; MockClock keeps any trio.sleep
            # an actor does inside a step virtual
            trio.run(_control, k, clock=trio.testing.MockClock(autojump_threshold=0))
        except Prune:  # a redundant execution: it has no verdict
            k.pruned = True
            k.violation = None
        finally:
            runtime._kernel = prev
        return k
