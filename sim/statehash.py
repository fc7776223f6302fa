"""A canonical fingerprint of an execution's whole state, for state caching (sim.strategy.cached).

Two states with the same fingerprint have the same futures: the same options at
every later decision, the same invariant verdicts, the same violations. That holds
only if the fingerprint sees everything the future depends on, so it walks the
whole reachable heap of the execution rather than trusting a model to declare
its state:

- the kernel's clock, step count, fault budgets spent, ids minted so far, and the
  counters of `eventually` invariants (what makes a verdict depend on the path);
- the scenario state, every store (as a map: sorted items, since a store has no
  order), queue, lock and process (its volatile state);
- every actor: its label, what it waits for, and its coroutine chain, frame by
  frame: the code position (`f_lasti`), the named locals, and everything else the
  frame holds (the value stack: a `for` loop's iterator, a half-built argument
  list, the awaited coroutine), read with `gc.get_referents`.

Values are walked by content. Mutable objects get a back-reference token when
seen again, so aliasing is part of the state; immutable ones (tuples, strings,
frozensets) are walked by value, so equal values built on different paths match.
Kernel objects (actors, processes, stores) appear by name inside values, and
their state once, as roots. Caches (`Store.version`, `Derived`) are left out.

Anything the walk cannot read faithfully (an object that is neither a plain
Python object nor reducible by pickle's protocol) raises `Unfingerprintable`:
state caching then refuses to run rather than guess. What lies outside the
execution's heap (module globals, the wall clock) is outside the fingerprint,
which is why a model that reads them is nondeterministic anyway.
"""
from __future__ import annotations

import enum
import gc
import hashlib
import types

from sim import kernel as _kernel_module
from sim import store as _store_module
from sim import primitives as _primitives
from sim.runtime import SimUsageError


class Unfingerprintable(SimUsageError):
    """The state holds an object whose content the fingerprint cannot read."""


_ATOMS = frozenset((type(None), bool, int, float, complex, str, bytes, type(Ellipsis), type(NotImplemented)))
_CODE_LIKE = (types.CodeType, types.ModuleType, type, types.BuiltinFunctionType, types.MethodDescriptorType,
              types.WrapperDescriptorType, types.GetSetDescriptorType, types.MemberDescriptorType,
              types.ClassMethodDescriptorType, types.MethodWrapperType)


def _qual(x) -> str:
    return f"{getattr(x, '__module__', '') or ''}.{getattr(x, '__qualname__', getattr(x, '__name__', '?'))}"


class _Walker:
    __slots__ = ("out", "memo", "keep")

    def __init__(self):
        self.out: list = []
        self.memo: dict = {}   # id -> traversal index of a mutable object already walked
        self.keep: list = []   # the walked objects stay alive, so ids are not reused mid-walk

    def _seen(self, x) -> bool:
        i = self.memo.get(id(x))
        if i is not None:
            self.out.append(("@", i))
            return True
        self.memo[id(x)] = len(self.memo)
        self.keep.append(x)
        return False

    def walk(self, x) -> None:  # noqa: C901 (one dispatch over the kinds of values)
        out = self.out
        t = type(x)
        if t in _ATOMS:
            out.append(x)
            return
        if t is tuple:
            out.append(("(", len(x)))
            for v in x:
                self.walk(v)
            return
        if t is list:
            if not self._seen(x):
                out.append(("[", len(x)))
                for v in x:
                    self.walk(v)
            return
        if t is dict:
            if not self._seen(x):
                out.append(("{", len(x)))
                for k, v in x.items():
                    self.walk(k)
                    self.walk(v)
            return
        if t is set or t is frozenset:
            if t is set and self._seen(x):
                return
            out.append(("set", len(x)))
            out.extend(sorted(_alone(v) for v in x))  # sets have no order: their elements, sorted by content
            return
        special = _SPECIAL.get(t, _UNSEEN)
        if special is _UNSEEN:
            special = _special_of(t)
        if special is not None:
            special(self, x)
            return
        if t is types.CoroutineType or t is types.GeneratorType or t is types.AsyncGeneratorType:
            self._frame(x)
            return
        if t is types.FunctionType:
            out.append(("fn", _qual(x)))
            for c in x.__closure__ or ():
                self.walk(c)
            return
        if t is types.CellType:
            if not self._seen(x):
                try:
                    v = x.cell_contents
                except ValueError:
                    out.append("<empty cell>")
                else:
                    self.walk(v)
            return
        if t is types.MethodType:
            out.append(("method", _qual(x.__func__)))
            self.walk(x.__self__)
            return
        if t is types.BuiltinMethodType and not isinstance(x.__self__, types.ModuleType) and x.__self__ is not None:
            out.append(("builtin", x.__name__))
            self.walk(x.__self__)
            return
        if t is types.TracebackType or t is types.FrameType:
            out.append("<where>")   # where an exception was raised, not state the future reads
            return
        if isinstance(x, _CODE_LIKE):
            out.append(("code", _qual(x)))
            return
        if isinstance(x, enum.Enum):
            out.append(("enum", _qual(t), x.name))
            return
        if isinstance(x, BaseException):
            out.append(("exc", _qual(t)))
            self.walk(x.args)
            return
        self._object(x, t)

    def _object(self, x, t) -> None:
        if self._seen(x):
            return
        out = self.out
        if _plain(t):
            out.append(("obj", _qual(t)))
            for name in _slots(t):
                try:
                    v = getattr(x, name)
                except AttributeError:
                    continue
                out.append(name)
                self.walk(v)
            d = getattr(x, "__dict__", None)
            if d:
                for name in sorted(d):
                    out.append(name)
                    self.walk(d[name])
            return
        # a type implemented in C, or a class built on one (a dict subclass): its state is not all in
        # attributes, so only what pickle's protocol says the object is made of can be trusted
        try:
            red = x.__reduce_ex__(4)
        except Exception as e:
            raise Unfingerprintable(f"cannot read the state of a {_qual(t)} object: {e}") from None
        if not isinstance(red, tuple):
            raise Unfingerprintable(f"cannot read the state of a {_qual(t)} object: it reduces to {red!r}")
        out.append(("reduce", _qual(t), len(red)))
        for part in red:
            if callable(part) and not hasattr(part, "__next__"):
                out.append(("callable", _qual(part)))
            elif hasattr(part, "__next__") and type(part) not in (types.GeneratorType,):
                self.walk(list(part))   # list/dict items pickle hands over as an iterator
            else:
                self.walk(part)

    def _frame(self, g) -> None:
        if self._seen(g):
            return
        f = getattr(g, "cr_frame", None) or getattr(g, "gi_frame", None) or getattr(g, "ag_frame", None)
        out = self.out
        if f is None:
            out.append(("ended", g.__qualname__))
            return
        out.append(("frame", g.__qualname__, f.f_code.co_firstlineno, f.f_lasti))
        # named locals say which are bound; the referents add the value stack (iterators, the awaited
        # coroutine, operands of an expression suspended mid-way)
        for name, v in f.f_locals.items():
            out.append(name)
            self.walk(v)
        for v in gc.get_referents(g):
            if type(v) is not types.FrameType:   # its own frame object, once f_locals made one
                self.walk(v)


def _alone(x) -> str:
    w = _Walker()
    w.walk(x)
    return repr(w.out)


_slot_cache: dict = {}
_plain_cache: dict = {}
_HEAPTYPE = 1 << 9


def _plain(t) -> bool:
    """A class defined in Python on top of `object` only: its whole state is its attributes."""
    p = _plain_cache.get(t)
    if p is None:
        p = _plain_cache[t] = all(c is object or c.__flags__ & _HEAPTYPE for c in t.__mro__)
    return p



def _slots(t) -> tuple:
    s = _slot_cache.get(t)
    if s is None:
        names = []
        for c in t.__mro__:
            for n in c.__dict__.get("__slots__", ()):
                if n not in ("__dict__", "__weakref__") and n not in names:
                    names.append(n)
        s = _slot_cache[t] = tuple(names)
    return s


# Kernel objects inside values: by name (their state is walked once, as a root)
def _by_name(tag, attr):
    def token(w, x):
        w.out.append((tag, getattr(x, attr)))
    return token


_SPECIAL = {
    _kernel_module.Actor: _by_name("actor", "name"),
    _kernel_module.Process: _by_name("process", "name"),
    _store_module.Store: _by_name("store", "name"),
    _store_module.Derived: lambda w, x: w.out.append("derived"),   # a cache of what its stores hold
    _kernel_module.Kernel: lambda w, x: w.out.append("kernel"),
    _primitives.Queue: _by_name("queue", "name"),
}


_UNSEEN = object()


def _special_of(t):
    """Subclasses of kernel objects (an engine's kernel) get their base's token; cached per type."""
    h = None
    for base in t.__mro__[1:]:
        if base in _SPECIAL:
            h = _SPECIAL[base]
            break
    _SPECIAL[t] = h
    return h


def _store_items(s) -> list:
    return sorted((_alone(k), k) for k in s._data)


def fingerprint(k) -> bytes:
    """The fingerprint of kernel `k`'s state at a decision (every actor parked at a point)."""
    w = _Walker()
    out = w.out
    out.append(("kernel", k.now, k.step, k.crashes, k.redeliveries, k._ulid_counter, tuple(k.false_for or ())))
    if k.timed_redeliveries:   # runtime.faults_injected counts them
        out.append(("timed redeliveries", k.timed_redeliveries))
    for name in sorted(k.stores):
        s = k.stores[name]
        out.append(("store", name, len(s._data)))
        for key_text, key in _store_items(s):
            out.append(key_text)
            w.walk(s._data[key])
    for q in k.queues:
        out.append(("queue", q.name))
        w.walk(q.messages)
    for lock in k.locks:
        w.walk(lock)
    for p in k.processes:
        out.append(("process", p.name, p.alive, p.incarnation))
        w.walk(p._volatile)
    for a in sorted(k.actors, key=lambda a: a.name):
        out.append(("actor", a.name, a.label, a.state, a.deadline, a.idle, a.timed_out, a.crashing))
        if a.background:   # its timer, and whether the clock may jump to it before a foreground step
            out.append(("background", a.bg, a.fired < k.fg_step))
        w.walk(a.guard)
        w.walk(a.coro)
    out.append(("pending", [a.name for a in k.pending]))
    w.walk(k.state)
    return hashlib.blake2b(repr(out).encode(), digest_size=16).digest()
