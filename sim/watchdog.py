"""The step watchdog: an execution whose step never reaches its next point ends with a clear error.

An actor that loops without awaiting `point()` (or a setup or invariant that never returns) would
hang both engines: nothing in the kernel runs until the actor yields. A daemon thread watches the
running execution's step counter and, when it has not moved for `timeout` seconds of wall time,
interrupts the main thread; the host turns that interrupt into `StepTimeout`, a SimUsageError naming
the actor and where it was.

Wall time decides only whether sim gives up on a model that does not yield, never a schedule or a
verdict: a step is atomic, so no interleaving depends on how long it took. The thread reads two
attributes per tick, so the kernel's step loop pays nothing. `SIM_STEP_TIMEOUT` (seconds; 0 turns
it off) changes the default, and `--step-timeout` sets it from the command line.
"""
from __future__ import annotations

import _thread
import os
import threading
import time

from sim import runtime

DEFAULT_TIMEOUT = 60.0


class StepTimeout(runtime.SimUsageError):
    """A step ran longer than the watchdog's timeout without reaching a point."""


def timeout_from_env() -> float:
    raw = os.environ.get("SIM_STEP_TIMEOUT", "")
    try:
        return float(raw) if raw.strip() else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


class Watchdog:
    """Context manager around an engine's host call (see sim.explore)."""

    def __init__(self, timeout: float | None = None):
        self.timeout = timeout_from_env() if timeout is None else timeout
        self.fired: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self):
        if self.timeout > 0 and threading.current_thread() is threading.main_thread():
            self._thread = threading.Thread(target=self._watch, name="sim-step-watchdog", daemon=True)
            self._thread.start()
        return self

    def _watch(self) -> None:
        tick = min(1.0, self.timeout / 4)
        last, since = None, time.monotonic()
        while not self._stop.wait(tick):
            k = runtime._kernel
            mark = None if k is None else (k, k.step)
            now = time.monotonic()
            if mark is None or mark != last:
                last, since = mark, now
                continue
            if now - since >= self.timeout:
                a = k.running
                who = f"{a.name} (after {a.label!r})" if a is not None else "setup"
                self.fired = (f"no step completed for {self.timeout:g} s at step {k.step + 1}; last running: {who}. "
                              f"An actor, the setup or an invariant loops without awaiting point()? "
                              f"(--step-timeout / SIM_STEP_TIMEOUT change the limit)")
                break
        # the model may catch the interrupt and go on looping: interrupt again every tick; a model that
        # swallows every interrupt for another `timeout` seconds leaves no way out but ending the process
        # (sim's promise is no hang: the message still says why)
        if self.fired is None:
            return
        give_up = time.monotonic() + self.timeout
        while True:
            _thread.interrupt_main()
            if self._stop.wait(tick):
                return
            if time.monotonic() > give_up:
                os.write(2, f"sim: error: {self.fired} The model swallows every interrupt: sim exits.\n".encode())
                os._exit(2)

    def __exit__(self, exc_type, exc, tb):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.fired is not None and exc_type is not None and _is_interrupt(exc):
            raise StepTimeout(self.fired) from None
        return False


def _is_interrupt(exc) -> bool:
    """KeyboardInterrupt, possibly inside an exception group (trio's nursery)."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    return any(_is_interrupt(e) for e in getattr(exc, "exceptions", ()))
