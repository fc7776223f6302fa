"""The fast engine: drives actor coroutines itself with `coro.send`, no run-loop turn per step.

Actors are plain coroutines that park by yielding to this driver, so nothing
needs an event loop: an exploration runs in the caller's thread, without trio.
A model that awaits trio anyway is refused with ForeignAwait: inside a trio run
its await would yield to this driver, outside one trio raises RuntimeError at
once, and both are reported the same way.
"""
from __future__ import annotations

import os

from sim import runtime
from sim.kernel import DONE, Crashed, Kernel, ForeignAwait, foreign_await_message
from sim.strategy.base import Prune

_TRIO = os.sep + "trio" + os.sep


def _raised_by_trio(e: BaseException) -> bool:
    """Did trio raise `e` because no trio run is active (a trio primitive awaited or called)?"""
    if type(e) is not RuntimeError:
        return False
    tb = e.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and _TRIO in last.tb_frame.f_code.co_filename


class FastKernel(Kernel):
    direct = True  # runtime.point/wait yield straight to Kernel.steps(direct=True)

    def _retire(self, a) -> None:
        if a.error is not None and _raised_by_trio(a.error):
            raise ForeignAwait(foreign_await_message(a)) from a.error
        super()._retire(a)


def _kill(a) -> None:
    a.crashing = True
    coro = a.coro
    try:
        coro.throw(Crashed())
    except BaseException:  # Crashed itself, StopIteration, or whatever cleanup raised: the actor is gone
        pass
    else:
        try:
            coro.close()  # it awaited again while dying: a dead process runs nothing more
        except RuntimeError:
            pass
    a.state = DONE


class FastEngine:
    name = "fast"

    def host(self, fn):
        """Run `fn()` (many executions): in this thread, nothing to set up."""
        return fn()

    def execute(self, scenario, strategy, record: bool = False, check_footprints: bool = False) -> Kernel:
        k = FastKernel(scenario, strategy, record, check_footprints)
        prev, runtime._kernel = runtime._kernel, k
        try:
            try:
                for a in k.steps():  # the kernel resumes actors itself (direct); it hands over only the dying
                    _kill(a)
                if k.fatal is not None:
                    raise k.fatal
            except Prune:  # a redundant execution: it has no verdict
                k.pruned = True
                k.violation = None
        finally:
            if k.actors or k.pending:
                for a in k.leftovers():
                    k.running = a
                    _kill(a)
                for p in k.processes:
                    p.actors.clear()  # break actor<->process cycles so refcounting frees the execution
            runtime._kernel = prev
        return k
