"""Durable state managed by sim: a key-value store whose accesses are recorded.

Models may keep state in plain Python objects and declare footprints by hand.
State kept in a `Store` also tells sim what each step actually touched, which
buys two things:

- partial-order reduction uses what executed steps really read and wrote (a
  failed exclusive create only reads), not only what their points declared;
- `explore(..., check_footprints=True)` (`--check-footprints`) reports a step
  that touches a store key its point did not declare: DPOR is only as sound as
  the footprints it is given.

The footprint key of `store[k]` is `(store.name, k)`; `store.key(k)` builds it.

Invariants read stores with `peek`/`snapshot`, which record nothing (they are not
steps), except under `--check-footprints`, where the kernel records what each
`always`/`eventually` invariant reads to check it against its declared reads
(sim.reads). `Derived` memoises what invariants compute from stores (a run's log)
until one of the stores is written.
"""
from __future__ import annotations

from sim import runtime


class Store:
    def __init__(self, name: str, initial: dict | None = None):
        """Create it in a scenario's setup (state belongs to one execution)."""
        self.name = name
        self._data = dict(initial or {})
        self.version = 0   # bumped by every write through the store (see Derived)
        stores = runtime._k().stores
        if name in stores:   # their footprint keys would be one: DPOR would see two stores as one
            raise runtime.SimUsageError(f"two Stores named {name!r} in one execution: give each its own name")
        stores[name] = self

    def key(self, k) -> tuple:
        return (self.name, k)

    # Accesses are recorded only while a strategy or the footprint check wants them; the
    # check is inlined (no call, no key tuple otherwise): stores sit on models' hot paths.
    def get(self, k, default=None):
        kern = runtime._kernel
        if kern is not None and kern.touched is not None:
            kern.touched[0].add((self.name, k))
        return self._data.get(k, default)

    def __getitem__(self, k):
        kern = runtime._kernel
        if kern is not None and kern.touched is not None:
            kern.touched[0].add((self.name, k))
        return self._data[k]

    def __contains__(self, k) -> bool:
        kern = runtime._kernel
        if kern is not None and kern.touched is not None:
            kern.touched[0].add((self.name, k))
        return k in self._data

    def __setitem__(self, k, v) -> None:
        kern = runtime._kernel
        if kern is not None and kern.touched is not None:
            kern.touched[1].add((self.name, k))
        self._data[k] = v
        self.version += 1

    def __delitem__(self, k) -> None:
        kern = runtime._kernel
        if kern is not None and kern.touched is not None:
            kern.touched[1].add((self.name, k))
        del self._data[k]
        self.version += 1

    def create(self, k, v) -> bool:
        """Exclusive create: True if `k` was absent and is now `v`; a failed create only reads."""
        if k in self:  # recorded as a read
            return False
        self[k] = v
        return True

    def peek(self, k, default=None):
        """Read without recording an access: for invariants and footprint callables, which are not steps."""
        return self._data.get(k, default)

    def snapshot(self) -> dict:
        """The whole content, for invariants (no access is recorded: invariants are not steps)."""
        return dict(self._data)

    def record_peeks(self, into: set) -> None:
        """From now on `peek` and `snapshot` add the keys they read to `into` (--check-footprints only:
        instance attributes shadow the methods, so the usual path pays nothing)."""
        name, data = self.name, self._data

        def peek(k, default=None):
            into.add((name, k))
            return data.get(k, default)

        def snapshot():
            into.update((name, k) for k in data)
            return dict(data)

        self.peek = peek
        self.snapshot = snapshot


class Derived:
    """Values computed from stores' content (a run's log, sorted), kept until one of the stores is written:
    several invariants asking the same question of one state compute it once.

    Content written into a store's `_data` directly (setup-time seeding) bumps no version: derive
    only after setup. While `--check-footprints` records invariants' reads, nothing is kept, so each
    invariant's own reads are recorded."""

    def __init__(self, *stores: Store):
        self.stores = stores
        self._memo: dict = {}
        self._at = -1   # the stores' total version the memo holds values of (versions only grow)

    def get(self, key, compute):
        at = 0
        for s in self.stores:
            at += s.version
        memo = self._memo
        if at != self._at:
            memo.clear()
            self._at = at
        else:
            hit = memo.get(key, _MISSING)
            if hit is not _MISSING:
                return hit
        value = compute()
        kern = runtime._kernel
        if kern is None or kern.recorded_reads is None:
            memo[key] = value
        return value


_MISSING = object()
