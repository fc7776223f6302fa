"""The strategy protocol: an oracle that answers choices and executes nothing.

A strategy sees a `sim.view.View` of the execution, never the kernel: for a
`step` choice, `view.options[i]` for i in `[0, view.n_run)` are enabled actors
(the current actor first), options from `view.n_run` on are deviations (time
passing, redelivery, crash). For other kinds `label` is a short string.
Strategies must not keep a view past the call that got it.

The whole protocol is `PROTOCOL` (methods) and `ATTRIBUTES` (what the kernel
and `explore` read), declared once here. `Wrapper` forwards every one of them
by construction, so a wrapper cannot hide a hook from the kernel or claim
another completeness than its inner strategy's; tests check that every name
on `Strategy` is in one of the two lists.
"""
from __future__ import annotations

# Methods, in the order the kernel and explore call them.
PROTOCOL = ("next_execution", "choose", "before_step", "after_step", "end_execution", "describe")
# Read-only facts about the strategy.
ATTRIBUTES = ("name", "exhaustive", "tracks", "points", "complete", "truncated")


class Prune(Exception):
    """Raised by a strategy's `choose` to end an execution it knows is redundant (no verdict)."""


class Strategy:
    """The protocol every strategy follows: an oracle that answers choices and executes nothing.

    The explorer calls `next_execution`, then the kernel calls `choose` at every decision
    (a scheduling step, a delivery order, ULID bits...), and `end_execution` with a `View`
    of what happened. Subclass it (or `Wrapper`) to write one; see README's "Writing a strategy".

    Example:

    ```python
    class AlwaysFirst(sim.Strategy):
        name = "first"

        def __init__(self):
            self.left = 1

        def next_execution(self):
            self.left -= 1
            return self.left >= 0

        def choose(self, kind, n, label):
            return 0                      # no deviation: the simplest schedule
    ```
    """
    name = "strategy"
    exhaustive = False  # True: runs until `complete` unless a budget stops it first
    tracks = False      # True: the kernel calls before_step/after_step for every step (partial-order reduction)
    points = None       # a set: the kernel adds (actor name, label) of every actor step to it (statistics)
    truncated = False   # an exhaustive strategy explored wide data choices only at their extremes

    def next_execution(self) -> bool:
        """Start another execution; False when the strategy has nothing left to try."""
        return True

    def choose(self, kind: str, n: int, label) -> int:
        raise NotImplementedError

    def before_step(self, view, option: int, tape_pos: int) -> None:
        """With `tracks`: called before every step, forced or chosen, with the index of the option
        that runs; `tape_pos` is the position of the choice that picked it, or -1 when it was the
        only option."""

    def after_step(self, view) -> None:
        """With `tracks`: called after every step (and the actors it started); `view.executed`
        then gives what it actually read and wrote."""

    def end_execution(self, view) -> None:
        """Called after every execution with a view of it (tape, steps, verdict, state)."""

    def describe(self) -> dict:
        """What a trace records about how it was found."""
        return {"name": self.name}

    @property
    def complete(self) -> bool:
        """True only once an exhaustive strategy has enumerated its whole space."""
        return False


class Wrapper(Strategy):
    """A strategy that answers as `inner` does: every name of the protocol is forwarded to `inner`
    unless the subclass overrides it (a watching wrapper overrides a method, calls the inner one
    and looks at the result). Attributes are read from `inner` each time, so a wrapper claims
    exactly the completeness, truncation and tracking of what it wraps.

    Example: `class Record(sim.Wrapper): def end_execution(self, view): ...; self.inner.end_execution(view)`."""

    def __init__(self, inner: Strategy):
        self.inner = inner


def _forward_method(name):
    def forward(self, *args):
        return getattr(self.inner, name)(*args)
    forward.__name__ = name
    forward.__doc__ = f"Forwarded to the inner strategy's {name}."
    return forward


def _forward_attribute(name):
    return property(lambda self: getattr(self.inner, name), doc=f"The inner strategy's {name}.")


for _name in PROTOCOL:
    setattr(Wrapper, _name, _forward_method(_name))
for _name in ATTRIBUTES:
    setattr(Wrapper, _name, _forward_attribute(_name))
del _name
