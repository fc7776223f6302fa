"""Past an expected violation: how far the main job explores a scenario once its known bug is found.

A scenario that expects invariant X (or any of "X|Y") does not stop when X is found: an
invariant that its schedules break besides X would otherwise stay hidden behind X for as long
as X is known. It goes on and stops at the first violation of an invariant it does not expect
(a mismatch, reported as "expected X, also found Y"), when its strategy has nothing left, at its
budget, or EXTRA executions after the first expected violation, whichever comes first.

The bound is fixed and small: going on to the budget would explore every expected-bug scenario
as long as one that holds. The main job (`explore --seed 1 --no-shrink`) took 43 s of CPU stopping
at the expected bug, 80 s going on for max(200, found-at) more executions, 61 s for 100 more. A
bound that grows with the find would make the scenarios found late (thousands of executions) the
most expensive ones, for no better chance per execution.
"""
from __future__ import annotations

from dataclasses import dataclass

EXTRA = 100   # executions past the first expected violation


@dataclass(frozen=True)
class PastExpected:
    """Go on past violations of `expected`; stop at any other."""
    expected: tuple[str, ...]
    extra: int = EXTRA

    @classmethod
    def of(cls, scenario) -> PastExpected | None:
        """The rule for a scenario that expects a violation; None for one that expects to hold."""
        names = tuple(v for v in scenario.expect.split("|") if v != "hold")
        return cls(names) if names else None

    def stops(self, invariant: str) -> bool:
        return invariant not in self.expected

    def limit(self, found_at: int, budget: int | None) -> int:
        """The last execution to run, given the first expected violation at `found_at`."""
        end = found_at + self.extra
        return end if budget is None else min(budget, end)

    def describe(self, found_at: int) -> str:
        return f"went on past {'|'.join(self.expected)} (found at {found_at})"
