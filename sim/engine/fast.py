"""The fast engine: drives actor coroutines itself with `coro.send`, no run-loop turn per step.

It is hosted in `trio.run` (one run for a whole exploration), but trio's
scheduler never decides anything: actors are plain coroutines that park by
yielding to this driver.
"""
from __future__ import annotations

import trio

from sim import runtime
from sim.kernel import DONE, Crashed, Kernel
from sim.strategy.base import Prune


class FastKernel(Kernel):
    direct = True  # runtime.point/wait yield straight to Kernel.steps(direct=True)


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
        """Run `fn()` (many executions) inside a single trio.run."""
        async def main():
            return fn()
        return trio.run(main)

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
