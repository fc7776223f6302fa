"""Dynamic partial-order reduction with sleep sets: source-DPOR (Abdulla et al., POPL 2014), stateless.

Exhaustive like DFS, but it runs one execution per class of equivalent ones: two
executions that only reorder independent transitions (see sim.footprint) reach
the same final state and the same invariant verdicts, so only one is run.

Per execution:
- Decision nodes (one per tape position) keep the enabled transitions and their
  footprints. A new node takes the first transition not asleep (index 0, the
  current actor, when it can: fewer preemptions).
- Before every step (the kernel calls `before_step`, forced steps included) the
  pending transition t of every live actor, blocked ones too, and every offered
  fault is checked against the trail so far (vector clocks, with spawn edges).
  Each race (a step i of another thread, dependent with t, ordered before it
  only directly) is reversed at the node where i was chosen by trying one of
  the threads that can start what follows i without depending on it, then t
  (source sets). Trying "t's thread" instead (Flanagan-Godefroid) loses
  executions once sleep sets are on, when that thread's next step there sleeps.
- Executed steps are compared by what they actually touched in sim-managed state
  (a failed exclusive create only reads); pending and sleeping ones by what
  their points declared, which can only add races (see sim.store).
- Sleep sets: once a transition's subtree is done it sleeps in its siblings'
  subtrees until a dependent transition runs; a node where every enabled
  transition sleeps is redundant, and the execution is pruned.
- Data choices (delivery order, ULID bits) are enumerated fully as in DFS; those
  wider than `data_cap` at their two extremes (`truncated`).
"""
from __future__ import annotations

from sim.strategy.base import Prune, Strategy
from sim.strategy.dfs import ModelNondeterminism
from sim.tape import STEP


class _StepNode:
    __slots__ = ("n", "tids", "fps", "chosen", "backtrack", "done", "sleep", "frozen")

    def __init__(self, fps, sleep):
        self.n = len(fps)
        self.fps = fps
        self.tids = [f.tid for f in fps]
        self.chosen = 0
        self.backtrack = set()
        self.done = set()
        self.sleep = sleep  # tid -> footprint of the transitions asleep on arrival
        self.frozen = False  # a work unit's prefix (sim.units): its other options are other units'


class _DataNode:
    __slots__ = ("n", "value", "two", "frozen")

    def __init__(self, n, two):
        self.n = n
        self.value = 0
        self.two = two  # wide choice: only 0 and n-1
        self.frozen = False


class DPOR(Strategy):
    name = "dpor"
    exhaustive = True
    tracks = True

    def __init__(self, data_cap: int = 16, resume: list | None = None):
        self.data_cap = data_cap
        self._resume = resume or ()  # a work unit (sim.units): the path unit_state() described
        self.truncated = False
        self.executions = 0
        self.pruned = 0
        self.races = 0
        self._nodes: list = []
        self._pos = 0
        self._done = False
        self._dep = None  # the scenario's dependence relation (sim.footprint.Dependence)
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
        # indexes of the trail, so a race check visits only steps that can depend on a transition
        self._readers: dict = {}   # key -> trail indices that read it
        self._writers: dict = {}   # key -> trail indices that wrote it
        self._globs: list = []     # time passing: dependent with everything
        self._all_writers: list = []  # every step that wrote (invariants reading all keys)
        self._mon_writers: list = []  # steps that wrote a key an invariant reads
        self._clocks = []     # vector clock (tid -> latest trail index before it) of each step
        self._thread = {}     # tid -> clock of its latest step
        self._checked = {}    # tid -> [reads, writes, thread clock, trail length] at its last race check
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

    def _races(self, view) -> None:
        """Source-DPOR's race reversal at this state, for every pending transition t.

        A race is an executed step i of another thread, dependent with t, that happens
        before t only directly (through no later step). To reverse it, some thread that
        can start v = (the steps after i that do not happen after i) + t must be tried
        where i was chosen; if none of v's initials is tried or asleep there, one is added.
        """
        trail, dep = self._trail, self._dep
        if not trail:
            return
        # every pending transition, blocked ones and faults included (see View.pending).
        # A transition checked before, with the same footprint and clock, need not be checked
        # again unless a step since is dependent with it: an independent step j can neither race
        # with t nor precede it, and appended at the end of every v it cannot take away an
        # initial from an earlier step of v, so every reversal done before is still done
        # (backtrack sets only grow, sleep sets are fixed per node). A dependent step changes
        # both (t stops being an initial once a new step precedes it): check the whole trail.
        checked, thread, n = self._checked, self._thread, len(trail)
        for fp in view.pending():
            tid = fp.tid
            seen = checked.get(tid)
            if seen is not None and seen[0] == fp.reads and seen[1] == fp.writes and seen[2] is thread.get(tid) \
                    and not fp.glob and not any(dep(trail[j], fp) for j in range(seen[3], n)):
                seen[3] = n
                continue
            checked[tid] = [fp.reads, fp.writes, thread.get(tid), n]
            vc = dict(self._clock_of(fp))
            races = []
            for i in self._candidates(fp):
                fi = trail[i]
                if fi.tid == fp.tid or vc.get(fi.tid, -1) >= i or not dep(fi, fp):
                    continue
                races.append(i)
                for t, c in self._clocks[i].items():
                    if vc.get(t, -1) < c:
                        vc[t] = c
                vc[fi.tid] = i
            for i in races:
                self._reverse(i, fp, vc)

    def _candidates(self, fp) -> list[int]:
        """Trail indices that may be dependent with `fp`, latest first (a superset; dep() decides)."""
        if fp.glob:
            return list(range(len(self._trail) - 1, -1, -1))
        found = set(self._globs)
        readers, writers = self._readers, self._writers
        for k in fp.reads:
            found.update(writers.get(k, ()))
        for k in fp.writes:
            found.update(writers.get(k, ()))
            found.update(readers.get(k, ()))
        if fp.writes:
            dep = self._dep
            if dep.monitor_all:
                found.update(self._all_writers)
            elif dep.monitored and dep.monitored.hits(fp.writes):
                found.update(self._mon_writers)
        return sorted(found, reverse=True)

    def _index(self, j: int, fp) -> None:
        if fp.glob:
            self._globs.append(j)
        for k in fp.reads:
            self._readers.setdefault(k, []).append(j)
        if fp.writes:
            for k in fp.writes:
                self._writers.setdefault(k, []).append(j)
            self._all_writers.append(j)
            m = self._dep.monitored
            if m and m.hits(fp.writes):
                self._mon_writers.append(j)

    def _reverse(self, i: int, fp, t_clock: dict) -> None:
        tp = self._tape_pos[i]
        if tp < 0:  # i was the only option: there is nothing else to try before it
            return
        node = self._nodes[tp]
        trail, clocks, ti = self._trail, self._clocks, self._trail[i].tid
        # v: the steps after i not ordered after it, then t; its initials: no predecessor inside v
        # (x has a predecessor in v iff its clock covers the first v-step of some thread: later steps
        # of that thread follow the first one in program order)
        v = [j for j in range(i + 1, len(trail)) if clocks[j].get(ti, -1) < i]
        initials, first = [], {}
        for j in v:
            t = trail[j].tid
            if t not in first:
                c = clocks[j]
                if not any(c.get(u, -1) >= y for u, y in first.items()):
                    initials.append(t)
                first[t] = j
        if fp.tid not in first and not any(t_clock.get(u, -1) >= y for u, y in first.items()):
            initials.append(fp.tid)
        self.races += 1
        if any(q in node.backtrack or q in node.sleep for q in initials):
            return
        for q in initials:
            if q in node.tids:
                node.backtrack.add(q)
                return
        node.backtrack.update(node.tids)  # no initial was enabled there (blocked): try everything

    def before_step(self, view, option: int, tape_pos: int) -> None:
        if self._dep is None:
            self._dep = view.dependence
        self._races(view)
        self._trail.append(view.footprint(option))  # declared; after_step puts what it really touched
        self._tape_pos.append(tape_pos)

    def after_step(self, view) -> None:
        dep, trail = self._dep, self._trail
        fp = trail[-1] = view.executed(trail[-1])
        j = len(trail) - 1
        vc = dict(self._clock_of(fp))
        for i in self._candidates(fp):
            if i == j:
                continue
            fi = trail[i]
            if fi.tid != fp.tid and vc.get(fi.tid, -1) < i and dep(fi, fp):
                for t, c in self._clocks[i].items():
                    if vc.get(t, -1) < c:
                        vc[t] = c
                vc[fi.tid] = i
        vc[fp.tid] = j
        self._index(j, fp)
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
            node = _DataNode(n, two)
            nodes.append(node)
            if pos < len(self._resume):
                self._restore(node, self._resume[pos])
            return node.value
        view = label
        if self._dep is None:
            self._dep = view.dependence
        if pos < len(nodes):
            node = nodes[pos]
            if not isinstance(node, _StepNode) or node.n != n:
                raise ModelNondeterminism(f"choice {pos} changed with the same prefix")
            return self._enter(node, node.chosen)
        node = _StepNode([view.footprint(i) for i in range(n)], dict(self._sleep))
        if pos < len(self._resume):
            self._restore(node, self._resume[pos])
            nodes.append(node)
            return self._enter(node, node.chosen)
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

    def end_execution(self, view) -> None:
        self.executions += 1
        self._resume = ()  # the first execution rebuilt the resumed path; later nodes are new
        del self._nodes[self._pos:]
        if self._dep is not None:
            self._races(view)  # what is still pending at the end (blocked actors) races too
            if view.violation is not None:
                # cut short: the steps it never ran may race with what it ran, unseen. Explored past a
                # violation, its path is expanded fully (FG's fallback), as DFS would
                for node in self._nodes:
                    if isinstance(node, _StepNode):
                        node.backtrack.update(node.tids)
        self._backtrack()

    def _backtrack(self) -> None:
        nodes = self._nodes
        while nodes:
            node = nodes[-1]
            if node.frozen:
                pass
            elif isinstance(node, _DataNode):
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

    # ---- work units (sim.units) ------------------------------------------------------------

    def unit_state(self) -> list:
        """The next path as plain data: per step choice `("s", n, chosen, done, backtrack, asleep,
        frozen)` (option indices), per data choice `("d", n, value, two, frozen)`. A DPOR built with
        it as `resume` rebuilds these nodes in its first execution and goes on exactly as this one
        would; sim.units freezes some of them to hand their other options to other units."""
        out = []
        for node in self._nodes:
            if isinstance(node, _DataNode):
                out.append(("d", node.n, node.value, node.two, node.frozen))
                continue
            tids = node.tids
            out.append(("s", node.n, node.chosen, tuple(i for i, t in enumerate(tids) if t in node.done),
                        tuple(i for i, t in enumerate(tids) if t in node.backtrack),
                        tuple(i for i, t in enumerate(tids) if t in node.sleep), node.frozen))
        return out

    def _restore(self, node, spec) -> None:
        kind = "d" if isinstance(node, _DataNode) else "s"
        if spec[0] != kind or spec[1] != node.n:
            raise ModelNondeterminism(f"a resumed choice changed: {spec[:2]} became {(kind, node.n)}")
        if kind == "d":
            node.value, node.frozen = spec[2], spec[4]
            return
        _, _, node.chosen, done, backtrack, _, node.frozen = spec
        node.done = {node.tids[i] for i in done}
        node.backtrack = {node.tids[i] for i in (*backtrack, node.chosen)}

    def describe(self):
        return {"name": self.name, "data_cap": self.data_cap}
