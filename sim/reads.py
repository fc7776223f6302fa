"""What an `always`/`eventually` invariant reads: the keys whose writes can change its verdict.

An invariant declares them as `reads=`, in one of three spellings:

- a collection of footprint keys: `reads=(("log", "events"),)`;
- a callable taking the scenario's state (what setup returned) and giving the keys,
  for keys that exist only once setup has made them: `reads=lambda env: env.view.log_keys()`;
  it may also give a `keys_where` predicate;
- `keys_where(pred)`: every key `k` with `pred(k)` true, for key spaces that grow
  while the execution runs (every event file of every run). The predicate is asked
  once per key (the answer is cached), so it must depend on the key alone.

DPOR uses them to tell which writes an invariant can see (sim.footprint), and the
kernel re-evaluates an invariant only after a step that wrote one of them.
`--check-footprints` checks them: a store key an invariant read that its reads do
not cover is a "footprint" violation.
"""
from __future__ import annotations

from typing import Callable, Hashable, Iterable


CACHE_LIMIT = 1 << 16   # keys minted per execution (ULIDs) would otherwise grow a cache without bound


class KeysWhere:
    """The keys for which `pred(key)` is true (see keys_where). Not callable, so it cannot be mistaken
    for a callable giving the keys."""

    __slots__ = ("pred", "_cache")

    def __init__(self, pred: Callable[[Hashable], object]):
        if not callable(pred):
            raise TypeError(f"keys_where needs a predicate on keys, got {pred!r}")
        self.pred = pred
        self._cache: dict = {}

    def _ask(self, k) -> bool:
        c = self._cache
        if len(c) >= CACHE_LIMIT:
            c.clear()
        v = c[k] = bool(self.pred(k))
        return v

    def __contains__(self, k) -> bool:
        v = self._cache.get(k)
        return self._ask(k) if v is None else v

    def hits(self, keys: Iterable) -> bool:
        """Is any of `keys` one of these?"""
        c = self._cache
        for k in keys:
            v = c.get(k)
            if v is None:
                v = self._ask(k)
            if v:
                return True
        return False

    def __repr__(self):
        return f"keys_where({getattr(self.pred, '__qualname__', self.pred)})"


def keys_where(pred: Callable[[Hashable], object]) -> KeysWhere:
    """Declare an invariant's reads as every footprint key `k` with `pred(k)` true.

    `always("I-H1", one_hook_created, reads=keys_where(lambda k: k[0] == "events"))`
    declares that it reads every key of the `events` store, including keys created later.

    Example: `reads=sim.keys_where(lambda key: key[0] == "billing")`."""
    return KeysWhere(pred)


class KeySet:
    """A fixed collection of keys, with the interface of KeysWhere."""

    __slots__ = ("keys",)

    def __init__(self, keys: Iterable):
        self.keys = frozenset(keys)

    def __contains__(self, k) -> bool:
        return k in self.keys

    def hits(self, keys: Iterable) -> bool:
        return not self.keys.isdisjoint(keys)

    def __repr__(self):
        return repr(sorted(map(str, self.keys)))


def union(parts) -> KeysWhere | None:
    """The keys read by any of several invariants (None: there are none), each key's answer cached."""
    parts = tuple(parts)
    return KeysWhere(lambda k: any(k in p for p in parts)) if parts else None


def declare(reads):
    """Normalise an `always`/`eventually` `reads=` argument (before any state exists)."""
    if reads is None or callable(reads) or isinstance(reads, KeysWhere):
        return reads
    if isinstance(reads, (str, bytes)):
        raise TypeError(f"reads must be a collection of keys, a callable or keys_where(...), not the string {reads!r}")
    return tuple(reads)


def resolve(reads, state):
    """An invariant's declared reads in this execution: None (it reads everything), or an object with
    `k in r` and `r.hits(keys)`. A callable is evaluated with the state setup returned."""
    if reads is None:
        return None
    if callable(reads):
        reads = reads(state)
        if reads is None:
            raise TypeError("an invariant's reads callable gave None: give the keys, or keys_where(...)")
        if callable(reads):
            raise TypeError("an invariant's reads callable gave a callable: give the keys, or keys_where(...)")
    if isinstance(reads, KeysWhere):
        return reads
    if isinstance(reads, (str, bytes)):
        raise TypeError(f"an invariant's reads callable gave the string {reads!r}, not a collection of keys")
    return KeySet(reads)
