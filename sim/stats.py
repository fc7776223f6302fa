"""Exploration statistics: how much of the scenario an exploration saw.

`Observed(strategy)` answers exactly as `strategy` does (its `choose` is the
inner strategy's own bound method: no extra call per decision) and collects,
per execution, the scheduling points actors stepped from and a fingerprint of
the terminal state. A terminal state is the content of the scenario's
sim-managed stores (`sim.Store`), canonicalised so that the same data reached
in a different insertion order counts once; a scenario without stores has no
fingerprint ("n/a"). Points are `(actor, label)` with process incarnations and
ids folded (`p1#1/consumer` is `p1/consumer`; ULIDs and numbers in a label are
`*` and `N`), so "points covered" counts code locations, not data.
"""
from __future__ import annotations

import hashlib
import re

from sim.strategy import Wrapper

_INCARNATION = re.compile(r"#\d+/")
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
_NUMBER = re.compile(r"\d+")


class Observed(Wrapper):
    points = None  # overridden: the kernel fills this wrapper's own set (see __init__)

    def __init__(self, inner):
        super().__init__(inner)
        # the inner strategy's own methods: the kernel calls them directly
        self.choose = inner.choose
        self.next_execution = inner.next_execution
        self.before_step = inner.before_step
        self.after_step = inner.after_step
        self.points: set = set()
        self.states: set = set()
        self.fingerprinted = 0

    def end_execution(self, view) -> None:
        self.inner.end_execution(view)
        fp = fingerprint(view)
        if fp is not None:
            self.fingerprinted += 1
            self.states.add(fp)

    def distinct_points(self) -> int:
        return distinct(self.points)

    def distinct_states(self) -> int | None:
        return len(self.states) if self.fingerprinted else None


def distinct(points) -> int:
    """How many code locations `(actor, label)` points name (incarnations, ids and numbers folded)."""
    return len({(_INCARNATION.sub("/", a), _NUMBER.sub("N", _ULID.sub("*", label))) for a, label in points})


def fingerprint(view) -> str | None:
    stores = view.stores
    if not stores:
        return None
    raw = repr([(name, _canon(stores[name]._data)) for name in sorted(stores)])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _canon(v):
    """A value whose repr does not depend on insertion order (dicts and sets sorted)."""
    if isinstance(v, dict):
        return ("{", tuple(sorted(((_canon(k), _canon(x)) for k, x in v.items()), key=repr)))
    if isinstance(v, (set, frozenset)):
        return ("set", tuple(sorted((_canon(x) for x in v), key=repr)))
    if isinstance(v, (list, tuple)):
        return tuple(_canon(x) for x in v)
    return v
