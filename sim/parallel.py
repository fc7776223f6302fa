"""Explorations on several processes or a Dask cluster, with the same result for any number of jobs.

The coordinator runs the work units of sim.units (in-process with one job, else on a
process pool or a Dask cluster) and folds their results in key order. Results beyond
the point where the outcome is decided in that order are discarded: a violation in a
unit is final once every unit before it is done without one; a budget counts the
first N executions in key order; a DPOR member that has covered its whole tree ends
the exploration once its last unit is folded. So the verdict, the first violation
(its tape, and its index: executions of the units before it plus its place in its
unit) and every count are those of one canonical order, whoever ran what when.
"""
from __future__ import annotations

import concurrent.futures as cf
import heapq
import multiprocessing
import time

from sim.explore import DEFAULT_BUDGET, Exploration, Found
from sim.keepgoing import PastExpected
from sim.stats import distinct
from sim.units import Spec, Unit, UnitResult, chunk_unit, first_units, run_unit, samplers


class ClusterError(Exception):
    """A cluster could not be reached or started (a usage error for the command line)."""


class _Done:
    """An in-process result that looks like a future."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class Inline:
    """One job: units run here, one at a time, in key order; no pool, no pickling."""
    slots = 1

    def __init__(self, scenario=None, on_execution=None):
        self.scenario = scenario
        self.on_execution = on_execution

    def run_unit(self, spec: Spec, unit: Unit):
        return _Done(run_unit(spec, unit, self.scenario, self.on_execution))

    def submit(self, fn, *args):
        return _Done(fn(*args))

    def wait(self, futures):
        return list(futures)

    def cancel(self, future) -> None:
        pass

    def close(self) -> None:
        pass


class Pool:
    """Local worker processes. Forked where the system can: they start at once and inherit the
    registry, scenarios registered in-process included; spawned ones rebuild scenarios by name."""

    def __init__(self, jobs: int, load=(), path=()):
        from sim.units import prepare
        self.jobs = jobs
        self.slots = 2 * jobs   # one queued behind each running unit: no worker waits for the coordinator
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self.ex = cf.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method),
                                         initializer=prepare, initargs=(tuple(load), tuple(path)))
        self.ex.submit(int).result()  # start the workers now, before a progress bar's thread runs

    def run_unit(self, spec: Spec, unit: Unit):
        return self.ex.submit(run_unit, spec, unit)

    def submit(self, fn, *args):
        return self.ex.submit(fn, *args)

    def wait(self, futures):
        return cf.wait(futures, return_when=cf.FIRST_COMPLETED).done

    def cancel(self, future) -> None:
        future.cancel()

    def close(self) -> None:
        self.ex.shutdown(wait=True, cancel_futures=True)


class Dask:
    """A Dask distributed cluster: one at ADDRESS, or a LocalCluster of `jobs` worker processes."""

    def __init__(self, address: str, jobs: int, timeout: float = 20.0):
        try:
            import distributed
        except ImportError:
            raise ClusterError("--cluster needs Dask: pip install 'sim[dask]' (or -e '.[dask]' in a checkout)") from None
        self._distributed = distributed
        self.cluster = None
        try:
            if address == "local":
                self.cluster = distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                                        dashboard_address=None)
                self.client = distributed.Client(self.cluster)
            else:
                self.client = distributed.Client(address, timeout=timeout)
        except Exception as e:  # unreachable, refused, malformed: one line for the user
            self.close()
            raise ClusterError(f"cannot use Dask cluster {address!r}: {type(e).__name__}: {e}") from None
        threads = sum(self.client.nthreads().values()) or jobs
        self.jobs = threads
        self.slots = 2 * threads

    def run_unit(self, spec: Spec, unit: Unit):
        return self.client.submit(run_unit, spec, unit, pure=False)

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def wait(self, futures):
        return self._distributed.wait(list(futures), return_when="FIRST_COMPLETED").done

    def cancel(self, future) -> None:
        future.cancel()

    def close(self) -> None:
        for c in (getattr(self, "client", None), self.cluster):
            if c is not None:
                try:
                    c.close()
                except Exception:  # closing a half-started cluster: nothing left to tell the user
                    pass


def backend(jobs: int, cluster: str | None = None, load=(), path=()):
    """The executor for `--jobs`/`--cluster`: in-process, a local pool, or Dask."""
    if cluster is not None:
        return Dask(cluster, jobs)
    return Inline() if jobs == 1 else Pool(jobs, load, path)


class _Fold:
    """Unit results folded in key order into the exploration's counts and findings."""

    def __init__(self, res: Exploration, budget: int | None, stop: bool, stats: bool,
                 past: PastExpected | None = None):
        self.res, self.budget, self.stop, self.stats, self.past = res, budget, stop, stats, past
        self.states: set = set()
        self.points: set = set()
        self.fingerprinted = 0

    def add(self, r: UnitResult) -> str | None:
        """Fold one unit; the reason the outcome is decided, if it is."""
        res = self.res
        found = {i: (v, tape) for i, v, tape in r.found}
        counted = 0
        decided = None
        for i, (steps, decisions, crashes, redeliveries, pruned) in enumerate(r.rows, 1):
            if self.budget is not None and res.executions >= self.budget:
                decided = "budget"
                break
            counted = i
            res.executions += 1
            res.steps += steps
            res.decisions += decisions
            res.crashes += crashes
            res.redeliveries += redeliveries
            res.pruned += bool(pruned)
            if self.stats and r.prints[i - 1] is not None:
                self.fingerprinted += 1
                self.states.add(r.prints[i - 1])
            hit = found.get(i)
            if hit is not None:
                v, tape = hit
                if res.violation is None:
                    res.violation, res.found_at, res.tape = v, res.executions, tape
                    res.strategy = r.describe
                if v.invariant not in res.violations:
                    res.violations[v.invariant] = Found(res.executions, tape, v, r.describe)
                if self.stop:
                    if self.past is None or self.past.stops(v.invariant):
                        decided = "violation"
                        break
                    if res.went_on is None:
                        res.went_on = res.executions
                        self.budget = self.past.limit(res.executions, self.budget)
        if counted:
            res.truncated |= r.truncated
            if res.violation is None:
                res.strategy = r.describe
            if self.stats:
                self.points.update(r.points[:r.seen[counted - 1]])
        return decided


def explore(scenario, spec: Spec, *, executor=None, budget: int | None = None, time_limit: float | None = None,
            progress=None) -> Exploration:
    """Explore `scenario` by the units of `spec` on `executor` (default: in-process).

    The same options give the same Exploration (verdict, first violation, counts) for any
    executor and number of jobs; only `elapsed` (and a `time_limit`'s reach) differ.
    """
    ex = executor or Inline(scenario)
    if budget is None and time_limit is None and not spec.exhaustive:
        budget = scenario.budget or DEFAULT_BUDGET
    if budget is not None and budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    res = Exploration(scenario, {"name": spec.strategy}, spec.engine, check_footprints=spec.check_footprints)
    fold = _Fold(res, budget, spec.stop_on_violation, spec.stats, PastExpected(spec.past) if spec.past else None)

    units: dict = {}          # key -> Unit, known and not yet folded
    order: list = []          # heap of those keys: what is folded next
    ready: list = []          # heap of keys not yet submitted
    results: dict = {}        # key -> UnitResult, done and not yet folded
    inflight: dict = {}       # future -> key
    trees = 0                 # subtree units not yet folded
    planned = 0               # executions known or expected (for how many chunks to make ahead)
    sampling = samplers(spec)
    next_chunk = 0            # sampling: the next round of chunks to make
    ran = 0

    def add(u: Unit) -> None:
        nonlocal trees, planned
        units[u.key] = u
        heapq.heappush(order, u.key)
        heapq.heappush(ready, u.key)
        trees += u.tree
        planned += spec.split if u.tree else spec.chunk

    def make_round() -> None:
        nonlocal next_chunk
        for m in sampling:
            add(chunk_unit(spec, m, next_chunk))
        next_chunk += 1

    for u in first_units(spec):
        add(u)
    decided = None
    try:
        while decided is None:
            late = deadline is not None and time.perf_counter() > deadline
            if sampling and not late:
                # chunks before the next unit to fold must exist before it is folded; more keep workers busy
                while (not order or chunk_unit(spec, sampling[0], next_chunk).key < order[0]
                       or (len(ready) + len(inflight) < ex.slots and (fold.budget is None or planned < fold.budget))):
                    make_round()
            while ready and len(inflight) < ex.slots and not late:
                key = heapq.heappop(ready)
                inflight[ex.run_unit(spec, units[key])] = key
            if not inflight:
                decided = "time" if late and order else "done"
                break
            for f in ex.wait(list(inflight)):
                key = inflight.pop(f)
                r = f.result()
                results[key] = r
                ran += len(r.rows)
                planned += len(r.rows) - (spec.split if units[key].tree else spec.chunk)
                for c in r.children:
                    add(c)
            if progress is not None:
                progress(ran)
            while order and order[0] in results and decided is None:
                key = heapq.heappop(order)
                u = units.pop(key)
                decided = fold.add(results.pop(key))
                if u.tree:
                    trees -= 1
                    if decided is None and trees == 0:
                        decided = "covered"  # the tree member has nothing left: exhaustive
                if decided is None and fold.budget is not None and res.executions >= fold.budget:
                    decided = "budget"
    finally:
        for f in inflight:
            ex.cancel(f)
    res.complete = decided == "covered"
    res.elapsed = time.perf_counter() - t0
    if spec.stats:
        res.terminal_states = len(fold.states) if fold.fingerprinted else None
        res.points = distinct(fold.points)
    return res
