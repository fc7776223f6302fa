"""Uncontrolled stress mode: the same actors under trio's own scheduler, with random jitter.

This is the stress test people run today: spawn everything, sprinkle sleeps,
hope the race shows up. It is kept as the baseline the harness is measured
against, so it is deliberately *not* controlled: which task runs next is trio's
choice, each point sleeps a random jitter, and faults are injected at random
points within the scenario's budget. Nothing here is replayable.

Virtual time is trio's MockClock (autojump), so jitter costs no wall time.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass

import trio
import trio.testing

from sim import runtime
from sim.kernel import DONE, Kernel, Violation, _message, step_limit_violation
from sim.strategy.base import Strategy


@dataclass
class StressResult:
    runs: int
    found_at: int | None
    elapsed: float
    violation: Violation | None


class StressKernel(Kernel):
    """Kernel whose points are trio sleeps; faults and choices come from an unrecorded RNG."""

    def __init__(self, scenario, rng: random.Random, jitter: float, fault_rate: float):
        super().__init__(scenario, Strategy())  # no strategy decides here: the base one tracks nothing
        self.rng = rng
        self.jitter = jitter
        self.fault_rate = fault_rate
        self.nursery = None

    def choose(self, kind, n, label):
        if n < 1:
            raise runtime.SimUsageError(f"choose({kind!r}, {n}) needs n >= 1")
        return self.rng.randrange(n)

    def _tick(self) -> None:
        self.now = int(trio.current_time() * 1000)

    async def _park(self, a):
        rng = self.rng
        await trio.sleep(rng.random() * self.jitter)
        self._tick()
        g = a.guard
        deadline = a.deadline if a.bg is None else a.bg   # a background timer is a timer here (no quiescence wait)
        while g is not None and not g():
            if deadline is not None and self.now >= deadline:
                break
            await trio.sleep(0.001)  # poll, as a hand-written stress test would
            self._tick()
        a.timed_out = g is not None and not g()
        a.guard = a.deadline = None
        a.idle = False
        self.running = a
        self.step += 1
        self._maybe_fault()
        self._check()
        self.running = a

    def park(self, a):
        return self._park(a).__await__()

    def _maybe_fault(self) -> None:
        rng = self.rng
        if self.crashes < self.max_crashes and rng.random() < self.fault_rate:
            live = [p for p in self.processes if p.alive and p.actors and self.can_crash(p)]
            if live:
                victim = rng.choice(live)
                for a in self._crash(victim):  # the kernel's crash bookkeeping; we cancel the tasks
                    if a.scope is not None:
                        a.scope.cancel()
                    else:
                        a.coro.close()
                self._start_pending()
        if self.redeliveries < self.max_redeliveries and rng.random() < self.fault_rate:
            opts: list = []
            for q in self.queues:
                q.redelivery_options(opts)
            if opts:
                self.redeliveries += 1
                rng.choice(opts).redeliver(self)

    def _check(self) -> None:
        if self.step >= self.scenario.max_steps:
            self.violation = step_limit_violation(self.scenario, self.state, self.step)
        for inv in self.scenario.always:
            r = inv.fn(self.state)
            if r is not None and r is not True:
                self.violation = Violation(inv.name, self.step, _message(r))
        if self.violation is not None:
            self.nursery.cancel_scope.cancel()

    def _start_pending(self) -> None:
        while self.pending:
            a = self.pending.pop(0)
            self.actors.append(a)
            self.nursery.start_soon(_actor_main, self, a)


async def _actor_main(k: StressKernel, a) -> None:
    with trio.CancelScope() as scope:
        a.scope = scope
        k.running = a
        try:
            await a.coro
        except Exception as e:
            if k.violation is None:
                k.violation = Violation("uncaught-exception", k.step, f"{a.name} raised {type(e).__name__}: {e}")
                k.nursery.cancel_scope.cancel()
    a.state = DONE
    if a in k.actors:
        k.actors.remove(a)
    if a in a.process.actors:
        a.process.actors.remove(a)
    if not a.crashing and k.violation is None:
        k._check()  # the actor's last step had no point after it


STALL_TICKS = 100  # 1 s of virtual time without a step, with nothing sleeping: a deadlock


async def _watch(k: StressKernel) -> None:
    """End the run at quiescence (every live actor waits idle, no queue timer is due) or on a deadlock."""
    last_step, still = -1, 0
    while True:
        await trio.sleep(0.01)
        k._tick()
        k._start_pending()
        for q in k.queues:
            q.fire(k)
        still = still + 1 if k.step == last_step else 0
        last_step = k.step
        blocked = [a for a in k.actors if a.guard is not None and not a.guard() and a.deadline is None]
        if still >= STALL_TICKS and blocked and len(blocked) == len(k.actors):
            stuck = [a for a in blocked if not a.idle]
            if stuck:
                what = ", ".join(f"{a.name} at {a.label!r}" for a in stuck)
                k.violation = Violation("deadlock", k.step, f"no actor can run; blocked: {what}")
                k.nursery.cancel_scope.cancel()
                return
        if any(not a.idle or a.guard is None or a.guard() for a in k.actors):
            continue
        if any(q.next_deadline() is not None for q in k.queues):
            continue
        k._end()
        k.nursery.cancel_scope.cancel()
        return


async def _run(k: StressKernel) -> None:
    async with trio.open_nursery() as nursery:
        k.nursery = nursery
        k.state = k.scenario.setup(k)
        k._start_pending()
        nursery.start_soon(_watch, k)


def run_once(scenario, rng: random.Random, jitter: float = 0.005, fault_rate: float = 0.05) -> StressKernel:
    k = StressKernel(scenario, rng, jitter, fault_rate)
    prev, runtime._kernel = runtime._kernel, k
    try:
        trio.run(_run, k, clock=trio.testing.MockClock(autojump_threshold=0))
    finally:
        runtime._kernel = prev
    return k


def stress(scenario, seed: int = 0, max_runs: int | None = None, time_limit: float | None = None,
           jitter: float = 0.005, fault_rate: float = 0.05) -> StressResult:
    """Run the scenario uncontrolled until a violation, `max_runs` runs or `time_limit` seconds."""
    if max_runs is None and time_limit is None:
        max_runs = 1000
    rng = random.Random(seed)
    t0 = time.perf_counter()
    runs = 0
    while (max_runs is None or runs < max_runs) and (time_limit is None or time.perf_counter() - t0 < time_limit):
        k = run_once(scenario, rng, jitter, fault_rate)
        runs += 1
        if k.violation is not None:
            return StressResult(runs, runs, time.perf_counter() - t0, k.violation)
    return StressResult(runs, None, time.perf_counter() - t0, None)
