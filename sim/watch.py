"""Incremental invariant checking: which `always`/`eventually` invariants a step may have changed.

An invariant is a function of the keys it declares it reads (sim.reads), so after a
step that wrote none of them its verdict is the one it gave before, and the kernel
does not evaluate it again. What a step wrote:

- the sim-managed keys it actually wrote (`kernel.touched`, sim.store), including
  what the actors it started did up to their first point;
- the keys it declared it writes that no store manages (plain state: the model's word);
- a crash or a redelivery: its footprint (sim.footprint) as well;
- time passing: everything (any invariant may read the clock).

Invariants without declared reads are evaluated after every step. Under
`--check-footprints` every invariant is evaluated after every step (and its reads
recorded), and `Kernel.check_every_step` forces that too, to compare the two.
"""
from __future__ import annotations

from sim import footprint, reads

ALL = "all"  # a step after which every invariant is evaluated


class Watch:
    """The resolved reads of one execution's `always` + `eventually` invariants, in that order."""

    __slots__ = ("stores", "groups", "base", "n")

    def __init__(self, invariants, state, stores: dict):
        self.stores = stores
        self.n = len(invariants)
        self.base = [inv.reads is None for inv in invariants]   # evaluated after every step
        groups: list = []   # [resolved reads, indices]: invariants sharing one read set test it once
        for j, inv in enumerate(invariants):
            if inv.reads is None:
                continue
            r = reads.resolve(inv.reads, state)
            for g in groups:
                if g[0] is r or (isinstance(r, reads.KeySet) and isinstance(g[0], reads.KeySet) and g[0].keys == r.keys):
                    g[1].append(j)
                    break
            else:
                groups.append([r, [j]])
        self.groups = groups

    def before(self, kernel, option, is_actor: bool):
        """What the step about to run writes beyond what the stores will record (call before it runs)."""
        if is_actor:
            w = option.writes
            if not w:
                return None
            if callable(w):
                w = footprint.declared(kernel, w)
            stores = self.stores
            return [k for k in w if not (type(k) is tuple and k and k[0] in stores)] or None
        kind = getattr(option, "kind", None)
        if kind == "crash" or kind == "redeliver":
            return footprint.of_option(kernel, option).writes
        return ALL

    def stale(self, written, extra) -> list | None:
        """Per invariant: may the step that wrote `written` (+ `extra`) have changed it? None: all may."""
        if extra is ALL:
            return None
        out = self.base
        if not written and not extra:
            return out
        out = list(out)
        for r, idx in self.groups:
            if r.hits(written) or (extra and r.hits(extra)):
                for j in idx:
                    out[j] = True
        return out


class ReadsOutside(Exception):
    """An invariant read a store key outside its declared reads (--check-footprints)."""


def recording(kernel, inv, resolved, rec: set):
    """`inv.fn`, recording the store keys it reads into `rec` and raising ReadsOutside for any its
    declared reads (`resolved`) do not cover."""
    fn, name = inv.fn, inv.name

    def checked(state):
        rec.clear()
        saved, kernel.touched = kernel.touched, (rec, set())   # get/[]/in record reads too
        try:
            r = fn(state)
        finally:
            wrote, kernel.touched = kernel.touched[1], saved
        bad = sorted(map(str, (k for k in rec if k not in resolved)))
        if wrote:
            raise ReadsOutside(f"invariant {name} wrote {', '.join(sorted(map(str, wrote)))}: invariants must only read")
        if bad:
            raise ReadsOutside(f"invariant {name} read {', '.join(bad)} outside its declared reads ({resolved!r})")
        return r

    return checked
