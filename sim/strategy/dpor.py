"""Dynamic partial-order reduction with sleep sets (Flanagan & Godefroid, POPL 2005; stateless).

Exhaustive like DFS, but it runs one execution per class of equivalent ones: two
executions that only reorder independent transitions (see sim.footprint) reach
the same final state and the same invariant verdicts, so only one is run.

Per execution:
- Decision nodes (one per tape position) keep the enabled transitions and their
  footprints. A new node takes the first transition not asleep (index 0, the
  current actor, when it can: fewer preemptions).
- Before every step (the kernel calls `before_step`, forced steps included) the
  pending transition of every live actor, blocked ones too, and every offered
  fault is checked against the trail so far: the latest dependent transition i
  of another thread that does not happen-before it (vector clocks, with spawn
  edges) is a race, and the node where i was chosen must also try this thread,
  or every transition enabled there if this thread was not enabled then.
- Sleep sets: once a transition's subtree is done it sleeps in its siblings'
  subtrees until a dependent transition runs; a node where every enabled
  transition sleeps is redundant, and the execution is pruned.
- Data choices (delivery order, ULID bits) are enumerated fully as in DFS; those
  wider than `data_cap` at their two extremes (`truncated`).
"""
from __future__ import annotations

from sim.footprint import Dependence, of_option
from sim.strategy.base import Prune, Strategy
from sim.strategy.dfs import ModelNondeterminism
from sim.tape import STEP


class _StepNode:
    __slots__ = ("n", "tids", "fps", "chosen", "backtrack", "done", "sleep")

    def __init__(self, fps, sleep):
        self.n = len(fps)
        self.fps = fps
        self.tids = [f.tid for f in fps]
        self.chosen = 0
        self.backtrack = set()
        self.done = set()
        self.sleep = sleep  # tid -> footprint of the transitions asleep on arrival


class _DataNode:
    __slots__ = ("n", "value", "two")

    def __init__(self, n, two):
        self.n = n
        self.value = 0
        self.two = two  # wide choice: only 0 and n-1


class DPOR(Strategy):
    name = "dpor"
    exhaustive = True
    tracks = True

    def __init__(self, data_cap: int = 16):
        self.data_cap = data_cap
        self.truncated = False
        self.executions = 0
        self.pruned = 0
        self.races = 0
        self._nodes: list = []
        self._pos = 0
        self._done = False
        self._dep: Dependence | None = None
        self._sleep: dict = {}

    @property
    def complete(self) -> bool:
        return self._done

    def next_execution(self) -> bool:
        if self._done:
            return False
        self._pos = 0
        self._sleep = {}
        self._trail = []      # footprint of each executed step
        self._tape_pos = []   # the tape position that chose it, or -1
        self._clocks = []     # vector clock (tid -> latest trail index before it) of each step
        self._thread = {}     # tid -> clock of its latest step
        return True

    # ---- during an execution ----------------------------------------------------------------

    def _clock_of(self, fp) -> dict:
        """What a thread that has not run yet has seen: nothing, or what its spawning step saw."""
        c = self._thread.get(fp.tid)
        if c is not None:
            return c
        born = fp.born
        if born > 0 and born <= len(self._trail):
            c = dict(self._clocks[born - 1])
            c[self._trail[born - 1].tid] = born - 1
            return c
        return {}

    def _races(self, kernel) -> None:
        """FG's race check at this state, for every pending transition."""
        trail, dep, nodes = self._trail, self._dep, self._nodes
        if not trail:
            return
        pending = [of_option(kernel, a) for a in kernel.actors]
        pending += [of_option(kernel, o) for o in kernel.options if getattr(o, "kind", None) is not None]
        for fp in pending:
            seen = self._clock_of(fp)
            for i in range(len(trail) - 1, -1, -1):
                fi = trail[i]
                if fi.tid == fp.tid or not dep(fi, fp) or seen.get(fi.tid, -1) >= i:
                    continue
                tp = self._tape_pos[i]
                if tp >= 0:
                    node = nodes[tp]
                    if fp.tid in node.tids:
                        node.backtrack.add(fp.tid)
                    else:
                        node.backtrack.update(node.tids)
                    self.races += 1
                break

    def before_step(self, kernel, option, tape_pos: int) -> None:
        if self._dep is None:
            self._dep = Dependence(kernel.scenario)
        dep = self._dep
        self._races(kernel)
        fp = of_option(kernel, option)
        trail = self._trail
        vc = dict(self._clock_of(fp))
        for i in range(len(trail) - 1, -1, -1):
            fi = trail[i]
            if fi.tid != fp.tid and vc.get(fi.tid, -1) < i and dep(fi, fp):
                for t, c in self._clocks[i].items():
                    if vc.get(t, -1) < c:
                        vc[t] = c
                vc[fi.tid] = i
        vc[fp.tid] = len(trail)
        trail.append(fp)
        self._tape_pos.append(tape_pos)
        self._clocks.append(vc)
        self._thread[fp.tid] = vc
        sleep = self._sleep
        if sleep:
            for tid in [t for t, f in sleep.items() if t == fp.tid or dep(f, fp)]:
                del sleep[tid]

    def _enter(self, node: _StepNode, index: int) -> int:
        """Take option `index` at `node`: its siblings already done (and those asleep) sleep below it."""
        chosen = node.fps[index]
        dep = self._dep
        child = {t: f for t, f in node.sleep.items() if not dep(f, chosen)}
        for t in node.done:
            f = node.fps[node.tids.index(t)]
            if t != chosen.tid and not dep(f, chosen):
                child[t] = f
        self._sleep = child
        return index

    def choose(self, kind, n, label):
        pos = self._pos
        self._pos = pos + 1
        nodes = self._nodes
        if kind is not STEP:
            if pos < len(nodes):
                node = nodes[pos]
                if not isinstance(node, _DataNode) or node.n != n:
                    raise ModelNondeterminism(f"choice {pos} changed with the same prefix")
                return node.value
            two = n > self.data_cap
            self.truncated |= two
            nodes.append(_DataNode(n, two))
            return 0
        kernel = label
        if self._dep is None:
            self._dep = Dependence(kernel.scenario)
        if pos < len(nodes):
            node = nodes[pos]
            if not isinstance(node, _StepNode) or node.n != n:
                raise ModelNondeterminism(f"choice {pos} changed with the same prefix")
            return self._enter(node, node.chosen)
        node = _StepNode([of_option(kernel, o) for o in kernel.options], dict(self._sleep))
        for i, t in enumerate(node.tids):
            if t not in node.sleep:
                break
        else:
            self.pruned += 1
            raise Prune()
        node.chosen = i
        node.backtrack.add(node.tids[i])
        nodes.append(node)
        return self._enter(node, i)

    # ---- after an execution -------------------------------------------------------------

    def end_execution(self, kernel) -> None:
        self.executions += 1
        if self._dep is not None:
            kernel.options.clear()
            self._races(kernel)  # what is still pending at the end (blocked actors) races too
        del self._nodes[self._pos:]
        self._backtrack()

    def _backtrack(self) -> None:
        nodes = self._nodes
        while nodes:
            node = nodes[-1]
            if isinstance(node, _DataNode):
                if node.two:
                    if node.value == 0:
                        node.value = node.n - 1
                        return
                elif node.value + 1 < node.n:
                    node.value += 1
                    return
            else:
                node.done.add(node.tids[node.chosen])
                for i, t in enumerate(node.tids):
                    if t in node.backtrack and t not in node.done and t not in node.sleep:
                        node.chosen = i
                        return
            nodes.pop()
        self._done = True

    def describe(self):
        return {"name": self.name, "data_cap": self.data_cap}
