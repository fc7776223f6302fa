"""Past an expected violation: how far the main job explores a scenario once its known bug is found.

A scenario that expects invariant X (or any of "X|Y") does not stop when X is found: an
invariant that its schedules break besides X would otherwise stay hidden behind X for as long
as X is known. It goes on and stops at the first violation of an invariant it does not expect
(a mismatch, reported as "expected X, also found Y"), when its strategy has nothing left, at its
budget, or `extra(n)` executions after the first expected violation at execution n, whichever
comes first. The bound keeps the main job's time near what stopping at X cost: going on to the
full budget would explore every expected-bug scenario as long as one that holds.
"""
from __future__ import annotations

from dataclasses import dataclass

MIN_EXTRA = 200   # executions past the first expected violation, at least ...
FACTOR = 1        # ... or this many times the executions it took to find it, whichever is more


@dataclass(frozen=True)
class PastExpected:
    """Go on past violations of `expected`; stop at any other."""
    expected: tuple[str, ...]
    min_extra: int = MIN_EXTRA
    factor: int = FACTOR

    @classmethod
    def of(cls, scenario) -> PastExpected | None:
        """The rule for a scenario that expects a violation; None for one that expects to hold."""
        names = tuple(v for v in scenario.expect.split("|") if v != "hold")
        return cls(names) if names else None

    def stops(self, invariant: str) -> bool:
        return invariant not in self.expected

    def limit(self, found_at: int, budget: int | None) -> int:
        """The last execution to run, given the first expected violation at `found_at`."""
        end = found_at + max(self.min_extra, self.factor * found_at)
        return end if budget is None else min(budget, end)

    def describe(self, found_at: int) -> str:
        return f"went on past {'|'.join(self.expected)} (found at {found_at})"
