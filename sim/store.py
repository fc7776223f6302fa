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

Scans. A store made with `Store(name, scans=True)` offers `keys(prefix)` and
`items(prefix)`: the keys (tuples) that start with the components `prefix`. A scan's
result depends on keys it returns and on keys it does not return (an insert under
the prefix would change it), so it reads a range key, `store.range_key(prefix)` =
`(name, "prefix", prefix)`, besides each key it returns; and every write or delete of
a key `k` of such a store also writes the range key of each prefix of `k`
(`store.ranges(k)`). DPOR then sees a scan race with an insert, a delete or an update
under its prefix. A key that is not a tuple has one prefix, `()`: the whole store.
A step that scans declares `reads=(store.range_key(prefix),)` (it covers the keys the
scan returns); its writes are declared as `store.key(k)` (the range keys are added).
"""
from __future__ import annotations

from sim import runtime


PREFIX = "prefix"   # the middle of a range key: (name, PREFIX, prefix); a store key is a pair, never a triple


class Store:
    """Durable key-value state whose accesses sim records (see the module's text).

    Create it in a scenario's setup: state belongs to one execution. Steps read and
    write it like a dict; the footprint key of `store[k]` is `(store.name, k)`,
    which is what a point declares and an invariant's `reads=` names.

    Example:

        def setup(k):
            accounts = sim.Store("accounts", {"A": 100, "B": 0})

            async def pay():
                await sim.point("debit A", reads=(accounts.key("A"),), writes=(accounts.key("A"),))
                accounts["A"] -= 10

            k.process("p1", lambda p: p.spawn("pay", pay))
            return accounts

        sim.always("I-NONNEG", lambda a: a.peek("A") >= 0, reads=(("accounts", "A"),))

    With `scans=True` the store also offers `keys(prefix)` and `items(prefix)` (tuple
    keys by leading components), each write then also writing the range keys a scan
    reads, so that partial-order reduction sees a scan conflict with an insert.
    """

    def __init__(self, name: str, initial: dict | None = None, *, scans: bool = False):
        self.name = name
        self.scans = scans
        self._data = dict(initial or {})
        if scans:
            runtime._k().scanning = True   # declared writes get their range keys (with_ranges)
        self.version = 0   # bumped by every write through the store (see Derived)
        stores = runtime._k().stores
        if name in stores:   # their footprint keys would be one: DPOR would see two stores as one
            raise runtime.SimUsageError(f"two Stores named {name!r} in one execution: give each its own name")
        stores[name] = self

    def key(self, k) -> tuple:
        """The footprint key of `store[k]`: `(name, k)`. Points declare it, invariants' `reads=` name it.

        Example: `await sim.point("read x", reads=(store.key("x"),))`."""
        return (self.name, k)

    def range_key(self, prefix: tuple = ()) -> tuple:
        """The footprint key a scan of `prefix` reads: `(name, "prefix", prefix)`; every write of a key
        under `prefix` writes it. Example: `await sim.point("list run r1", reads=(s.range_key(("r1",)),))`."""
        return (self.name, PREFIX, tuple(prefix))

    def ranges(self, k) -> list:
        """The range keys a write of `k` also writes (a store made with `scans=True`): one per prefix of
        `k`, the whole store's `()` first. Example: `s.ranges(("r1", 2))` is the range keys of `()`,
        `("r1",)` and `("r1", 2)`."""
        name = self.name
        if type(k) is not tuple:
            return [(name, PREFIX, ())]
        return [(name, PREFIX, k[:i]) for i in range(len(k) + 1)]

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
            if self.scans:
                kern.touched[1].update(self.ranges(k))
        self._data[k] = v
        self.version += 1

    def __delitem__(self, k) -> None:
        kern = runtime._kernel
        if kern is not None and kern.touched is not None:
            kern.touched[1].add((self.name, k))
            if self.scans:
                kern.touched[1].update(self.ranges(k))
        del self._data[k]
        self.version += 1

    def keys(self, prefix: tuple = ()) -> list:
        """The keys that start with `prefix` (tuple keys, by leading components; `()`: every key),
        sorted (by their repr when they do not compare): never in insertion or hash order.

        Records a read of each key returned and of the range key of `prefix` (the keys not
        returned), so DPOR orders the scan against every write under the prefix. Example:
        `await sim.point("list r1", reads=(runs.range_key(("r1",)),))`, then `runs.keys(("r1",))`."""
        if not self.scans:
            raise runtime.SimUsageError(f"store {self.name!r} was not made with scans=True: "
                                        f"Store({self.name!r}, scans=True) makes every write record what a scan reads")
        prefix = tuple(prefix)
        n = len(prefix)
        if n:
            found = [k for k in self._data if type(k) is tuple and k[:n] == prefix]
        else:
            found = list(self._data)
        try:
            found.sort()
        except TypeError:   # keys of mixed types: their repr still orders them the same way in every process
            found.sort(key=repr)
        kern = runtime._kernel
        if kern is not None and kern.touched is not None:
            r = kern.touched[0]
            r.add((self.name, PREFIX, prefix))
            name = self.name
            r.update((name, k) for k in found)
        return found

    def items(self, prefix: tuple = ()) -> list:
        """`(key, value)` pairs of `keys(prefix)`, recorded as `keys` is. Example: `sum(v for _, v in s.items(("r1",)))`."""
        data = self._data
        return [(k, data[k]) for k in self.keys(prefix)]

    def create(self, k, v) -> bool:
        """Exclusive create: True if `k` was absent and is now `v`; a failed create only reads."""
        if k in self:  # recorded as a read
            return False
        self[k] = v
        return True

    def unrecorded(self) -> dict:
        """The store's map itself, for a model's own bookkeeping that is not a step's access: seeding
        state before the run, a ghost, an index a recorded write keeps in step. Nothing read or written
        through it is recorded, so DPOR and `--check-footprints` never see it: a step's real accesses
        must go through `store[k]`/`get`/`del`.

        Example: `db.rows.unrecorded()[("runs", run)] = row` seeds a row in setup."""
        return self._data

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


def with_ranges(stores: dict, keys) -> list:
    """Declared keys plus the range keys each key of a store made with `scans=True` implies: a point
    declares `store.key(k)`, and what it writes is that and `store.ranges(k)`."""
    out = list(keys)
    for k in keys:
        if type(k) is tuple and len(k) == 2:
            s = stores.get(k[0])
            if s is not None and s.scans:
                out.extend(s.ranges(k[1]))
    return out


def covers(stores: dict, declared_reads, key) -> bool:
    """Does a declared range key cover `key`, a store key or range key a scan read? A scan's reads
    are declared as the range key of its prefix (or of a shorter one), not as the keys it returns."""
    if type(key) is not tuple or not key:
        return False
    s = stores.get(key[0])
    if s is None or not s.scans:
        return False
    if len(key) == 3 and key[1] == PREFIX:   # a scan of ('r1', 1) is within a declared scan of ('r1',)
        q = key[2]
        return any((s.name, PREFIX, q[:i]) in declared_reads for i in range(len(q) + 1))
    return len(key) == 2 and any(r in declared_reads for r in s.ranges(key[1]))


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
