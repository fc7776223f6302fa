"""The decision tape: every nondeterministic choice of an execution, in order.

A choice is `(kind, n, value)` with `0 <= value < n`; value 0 is always "no
deviation" (keep running the current actor, no fault, the oldest message, the
lowest random value), so a tape with more zeros is a simpler schedule.
"""
from __future__ import annotations

STEP = "step"        # which option runs next: an actor, time passing, a redelivery or a crash
DELIVER = "deliver"  # which visible queue message a consumer receives
ULID = "ulid"        # ordering bits of a ULID minted in the same millisecond
RAND = "rand"        # any other random value a model draws


class Divergence(Exception):
    """Replaying a tape asked a different question than the one recorded."""

    def __init__(self, position: int, expected: str, got: str):
        self.position = position
        self.expected = expected
        self.got = got
        self.step = None  # filled in by the engine: the execution step it happened at
        self.log = None   # filled in by the engine when recording: the steps run before it
        super().__init__(f"replay diverged at choice {position}: trace has {expected}, execution asked {got}")

    def __str__(self):
        where = f"step {self.step}, " if self.step is not None else ""
        return (f"replay diverged at {where}choice {self.position}: the trace recorded {self.expected}, "
                f"the model now asks {self.got}")
