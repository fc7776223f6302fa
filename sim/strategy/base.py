"""The strategy protocol: an oracle that answers choices and executes nothing.

For a `step` choice, `label` is the kernel's view of the decision: options
`[0, label.n_run)` are enabled actors (`label.options[i]`, current actor first),
options from `label.n_run` on are deviations (time passing, redelivery, crash).
For other kinds `label` is a short string. Strategies must not keep `label`.
"""
from __future__ import annotations


class Prune(Exception):
    """Raised by a strategy's `choose` to end an execution it knows is redundant (no verdict)."""


class Strategy:
    name = "strategy"
    exhaustive = False  # True: runs until `complete` unless a budget stops it first
    tracks = False      # True: the kernel calls before_step for every step (partial-order reduction)

    def next_execution(self) -> bool:
        """Start another execution; False when the strategy has nothing left to try."""
        return True

    def choose(self, kind: str, n: int, label) -> int:
        raise NotImplementedError

    def before_step(self, kernel, option, tape_pos: int) -> None:
        """With `tracks`: called before every step, forced or chosen; `tape_pos` is the
        position of the choice that picked it, or -1 when it was the only option."""

    def after_step(self, kernel) -> None:
        """With `tracks`: called after every step (and the actors it started), when
        `kernel.touched` holds the sim-managed keys it actually read and wrote."""

    def end_execution(self, kernel) -> None:
        """Called after every execution with its kernel (tape, steps, log if recorded)."""

    def describe(self) -> dict:
        """What a trace records about how it was found."""
        return {"name": self.name}

    @property
    def complete(self) -> bool:
        """True once an exhaustive strategy has covered its whole space."""
        return False



class Wrapper(Strategy):
    """A strategy that answers as `inner` does and only watches: what it does not override is the
    inner strategy's (next_execution, choose, end_execution, describe, complete, truncated)."""

    def __init__(self, inner: Strategy):
        self.inner = inner
        self.name = inner.name
        self.exhaustive = inner.exhaustive

    def next_execution(self) -> bool:
        return self.inner.next_execution()

    def choose(self, kind, n, label):
        return self.inner.choose(kind, n, label)

    def end_execution(self, kernel) -> None:
        self.inner.end_execution(kernel)

    def describe(self) -> dict:
        return self.inner.describe()

    @property
    def complete(self) -> bool:
        return self.inner.complete

    @property
    def truncated(self) -> bool:
        return bool(getattr(self.inner, "truncated", False))
