"""How many distinct states do random executions of a scenario visit? (Research for state caching.)

    python benchmarks/state_space_probe.py 'hook-pairs@local:L1[pairs=1]' [--histories] [--runs 500,1000,2000]

Before every step it fingerprints the state and prints the running count of
distinct fingerprints after each batch of executions (random walk, faults at
0.2). A count that levels off says executions converge on few states, so caching
visited states would pay; one that grows linearly says it would not.

- Default: an approximate state. It includes the stores' contents, every actor's
  label, the queues' message states and the fault budgets spent. Actor-local state
  is left out, so this is a lower bound, and a cache keyed on it would be unsound.
- `--histories`: each process's local state is stood in for by a hash of its
  history of inputs (every store value read, every choice, every step label).
  That is the obvious sound stand-in, and it is a property of the path.

Measured on hook-pairs@local:L1[pairs=1] (1 crash, 1 redelivery), 15,500
executions: about 10,600 approximate states, levelling off; 476,000 with
histories, growing by about 30 per execution. The input history is what stops
convergence. A cache needs actor-local state that forgets how it got there.

This monkeypatches `sim.Store` reads and `Kernel.choose` in its own process: a
measurement tool, not part of sim.
"""
from __future__ import annotations

import argparse
import hashlib

from sim import RandomWalk, explore, registry, runtime
from sim import kernel as kernel_module
from sim.stats import _canon
from sim.store import Store
from sim.strategy.base import Wrapper

_history: dict = {}   # (process, incarnation) -> hash of its inputs so far


def _note(x) -> None:
    k = runtime._kernel
    if k is None or k.running is None:
        return
    p = k.running.process
    key = (p.name, p.incarnation)
    _history[key] = hashlib.blake2b(_history.get(key, b"") + repr(x).encode(), digest_size=12).digest()


def _record_inputs() -> None:
    for name in ("get", "__getitem__", "__contains__"):
        orig = getattr(Store, name)

        def read(self, k, *default, _orig=orig, _name=name):
            v = _orig(self, k, *default)
            _note((self.name, k, _name, _canon(v)))
            return v
        setattr(Store, name, read)
    orig_choose = kernel_module.Kernel.choose

    def choose(self, kind, n, label):
        v = orig_choose(self, kind, n, label)
        _note(("choose", kind, v))
        return v
    kernel_module.Kernel.choose = choose


class _Probe(Wrapper):
    tracks = True   # the kernel calls before_step: where the state is fingerprinted

    def __init__(self, inner, seen: set, histories: bool):
        super().__init__(inner)
        self.seen, self.histories = seen, histories

    def next_execution(self) -> bool:
        _history.clear()
        return self.inner.next_execution()

    def before_step(self, view, option: int, tape_pos: int) -> None:
        k = view._k   # a research probe looks behind the view on purpose
        if self.histories and option < view.n_run:
            o = view.options[option]
            _note(("step", o.name, o.label))
        state = (repr([(n, _canon(k.stores[n]._data)) for n in sorted(k.stores)]),
                 tuple(sorted((a.name, a.label) for a in k.actors)),
                 tuple(sorted(_history.items())) if self.histories else (),
                 repr([(m.state, m.deliveries) for q in k.queues for m in q.messages]), k.crashes, k.redeliveries)
        self.seen.add(hashlib.blake2b(repr(state).encode(), digest_size=16).digest())

    def after_step(self, view) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("--histories", action="store_true", help="include each process's history of inputs")
    ap.add_argument("--runs", default="500,1000,2000,4000,8000", help="executions per batch (one seed each)")
    args = ap.parse_args()
    scenario = registry.get(args.scenario)
    if args.histories:
        _record_inputs()
    seen: set = set()
    total = 0
    print("executions  distinct states")
    for n in map(int, args.runs.split(",")):
        explore(scenario, _Probe(RandomWalk(n, fault_rate=0.2), seen, args.histories), budget=n)
        total += n
        print(f"{total:>10,}  {len(seen):,}", flush=True)


if __name__ == "__main__":
    main()
