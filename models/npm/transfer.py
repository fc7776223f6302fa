"""A schedule of one world carried over to another: the model's trace of a workload steering the released
package on the same workload (`Transfer`), for differential testing (benchmarks/npm_differential_pg.py).

The two tapes are not interchangeable: the package takes steps the model does not (`begin`, a statement
waiting for a lock) and the model takes steps the package does not (P1m's `getEventId()`). It works
either way: a package trace can steer the model too. What carries over is the order in which the actors take their steps of the same kind. A step's kind is
its verb and table (`SELECT runs …` in the model, `select workflow_runs` in the package, both
`select runs`), or its label's first two words outside the database (`receive runs`, `step body`).

At every scheduling decision the enabled actor whose next step of the model's schedule comes first runs
(its steps are consumed as its steps in the package match them); an actor whose next package step has
no counterpart (`begin`) runs when its next model step is due. A decision the model's schedule does not
decide is answered as the source's decision of the same kind answered it, in order (`choices`: which
message a delivery hands out, since both worlds' queues are the same model), and otherwise (a process's
seed, which only the package draws) from a generator seeded with `seed`, so two processes do not share
a seed; where no enabled actor has a model step left, the current one goes on.
Nothing is forced: where the package waits for a lock the model did not, the next
actor in the model's order runs instead, so the package's own constraints decide what is reachable.
"""
from __future__ import annotations

import random
import re

from sim.strategy.base import Strategy
from sim.tape import STEP

# steps one world takes and the other does not (the package's BEGIN; P1m's getEventId(), which the package
# does inside the step before its call) or that go with the statements around them (COMMIT, ROLLBACK):
# they run when their actor's next matched step is due and are never part of an order
UNMATCHED = ("begin", "commit", "rollback", "geteventid()")
MINT = "geteventid()"


def kind_of(label: str) -> str:
    """A step's kind, the same for the model's and the package's label of one statement."""
    words = label.replace("⇥", " ").split()
    if not words:
        return ""
    verb = words[0].lower()
    if verb in ("select", "update", "insert", "delete") and len(words) > 1:
        table = words[1].lower()
        if table in ("into", "from") and len(words) > 2:
            table = words[2].lower()
        table = re.sub(r"^workflow_", "", table.strip('"'))
        return f"{verb} {table}"
    return " ".join(w.lower() for w in words[:2])


def source_choices(trace) -> list[tuple[str, int]]:
    """(kind, value) of every decision of `trace` that is not a scheduling step (deliveries, seeds)."""
    return [(kind, v) for kind, _n, v in trace.tape if kind != STEP]


def model_order(trace) -> list[tuple[str, str]]:
    """The (actor, kind) of every actor step of `trace`, in order, without the unmatched ones. A model's
    separate id mint (`getEventId()`) moves its actor's step before it to where the mint is: the package
    mints in the continuation of that step, so that step is what fixes its id's time."""
    order: list[tuple[str, str]] = []
    for st in trace.steps:
        if not st.actor or st.kind != "run":
            continue
        k = kind_of(st.label)
        if k == MINT:
            before = max((i for i, (a, _k) in enumerate(order) if a == st.actor), default=None)
            if before is not None:
                order.append(order.pop(before))
        elif k not in UNMATCHED:
            order.append((st.actor, k))
    return order


class Transfer(Strategy):
    """Steers one execution by `order` (model_order of another world's trace of the same workload) and
    `choices` (its source_choices)."""
    name = "transfer"

    def __init__(self, order: list[tuple[str, str]], seed: int = 1, choices: list[tuple[str, int]] = ()):
        self.order = order
        self.seed = seed
        self.choices: dict[str, list[int]] = {}
        for kind, v in choices:
            self.choices.setdefault(kind, []).append(v)
        self._rng = random.Random(seed)
        self.taken = [False] * len(order)
        self._used = False

    def next_execution(self) -> bool:
        if self._used:
            return False
        self._used = True
        return True

    def _due(self, actor: str, kind: str) -> int:
        """The index in `order` of the actor's first untaken step (len(order) if none)."""
        for i, (a, _k) in enumerate(self.order):
            if a == actor and not self.taken[i]:
                return i
        return len(self.order)

    def choose(self, kind, n, view):
        if kind is not STEP:
            same = self.choices.get(kind)
            if same:
                v = same.pop(0)
                if v < n:
                    return v
            return int(self._rng.random() * n)
        if view.n_run == 0:
            return 0
        best, best_due = 0, None
        for i in range(view.n_run):
            a = view.options[i]
            due = self._due(a.name, kind_of(a.label))
            if best_due is None or due < best_due:
                best, best_due = i, due
        a = view.options[best]
        self._take(a.name, kind_of(a.label))
        return best

    def _take(self, actor: str, kind: str) -> None:
        """The package's step `kind` of `actor` consumes the actor's model steps up to the first of that
        kind among its next few (none when it is unmatched or has no counterpart nearby)."""
        if kind in UNMATCHED:
            return
        mine = [i for i, (a, _k) in enumerate(self.order) if a == actor and not self.taken[i]]
        for j, i in enumerate(mine[:4]):
            if self.order[i][1] == kind:
                for t in mine[:j + 1]:
                    self.taken[t] = True
                return

    def describe(self) -> dict:
        return {"name": self.name, "seed": self.seed, "steps": len(self.order)}
