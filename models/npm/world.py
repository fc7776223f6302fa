"""The released @workflow/world-local as a world: `local-npm:VERSION`.

Storage is real: each simulated process has its own Node worker (models/npm/workers.py) running the
package's `createStorage(dir)` over one data directory the processes share. Every `fs.promises` call the
package makes waits at a gate, and releasing it is one scheduling point of the calling actor, with a
footprint from (operation, path): DPOR and the shrinker work on the released code. What stays
modelled is everything above storage (the runtime, the queue, the workflow), as on the model worlds.

The world speaks the interface of `models.local.world.LocalWorld` (`events_create`, `events_list`,
`runs_get`, `hooks_get_by_token`, `active_run_ids`, the seeding class methods and `view`), with
results and errors translated into the model's shapes (event dicts with `createdAt` in virtual ms,
`models.events` error classes).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
import zlib
from datetime import datetime, timezone
from pathlib import Path

from models import events as ev
from models.events import (EntityConflictError, HookNotFoundError, RunExpiredError, TooEarlyError,
                           WorkflowRunNotFoundError, WorkflowWorldError, WorldError)
from models.npm import workers
from models.npm.workers import pool
from sim import Crashed, Store, choose, current_process, keys_where, note, now, point, wait
from sim.kernel import ULID_EPOCH_MS
from sim.tape import RAND

READS = frozenset({"readFile", "readdir", "stat", "lstat", "access", "open"})
SEED_BITS = 1 << 16   # a worker's Math.random seed: a wide tape choice (DFS and DPOR try its extremes)
CLOCK = ("npm-clock", "minted")   # the quiet clock's store key: read and written by every step that reads the time
# events.create calls that may read the time after their start (a step_started's retryAfter check, the
# resilient run_started's run_created id) in some pinned version; any call reads it at its start
LATE_CLOCK = frozenset({"step_started", "run_started"})
# world-local's temporary files (`write`, `writeExclusive`): `NAME.tmp.ULID`, never read back by name by another
# process, filtered out of every listing the package uses, only ever seen as names in a raw readdir
_TMP = re.compile(r"\.tmp\.[0-9A-HJKMNP-TV-Z]{26}$")


def process_worker(workers: dict, pool, reset, drawn: bool = True):
    """The calling simulated process's worker: a fresh one from `pool` for each incarnation (a crash
    killed the last), its Math.random seed handed to `reset(worker, seed)`: drawn from the tape, or
    (`drawn=False`, where no id's order depends on its random part) fixed per incarnation."""
    p = current_process()
    key = (p.name, p.incarnation)
    w = workers.get(key)
    if w is None or not w.alive:
        seed = (choose(RAND, SEED_BITS, f"Math.random seed of {p.name}#{p.incarnation}") if drawn
                else incarnation_seed("random", p))
        w = workers[key] = pool.take()
        reset(w, seed)
    return w


def incarnation_seed(use: str, p) -> int:
    """A seed fixed by what it is for and the process incarnation (never Python's hash: traces replay
    across interpreters)."""
    return zlib.crc32(f"{use}:{p.name}#{p.incarnation}".encode()) % SEED_BITS
SETUP_TIME = -1       # seeded state is minted one millisecond before the exploration's clock starts


def parent(path: str) -> str:
    return path.rpartition("/")[0]


def is_temp(path: str) -> bool:
    return _TMP.search(path) is not None


def footprint(op: dict, exists=lambda path: True, below=lambda path: ()) -> tuple[tuple, tuple]:
    """(reads, writes) of one gated operation if it were released now: `exists(path)` says whether a path
    exists in the data directory now, `below(path)` lists what is under a directory (for `rm -r`).

    Keys: ("fs", path) is a file's or directory's existence and content; ("dir", d) the names in d's
    listing other than temporary files, and d's existence for what is created in it; ("tmpdir", d) the
    temporary names in d. `readdir` does not return temporary names (the worker leaves them out: every
    listing of the package filters them), so it only reads ("dir", d). Temporary names are observed only
    by what removes d or asks about d itself (`rm`, `rmdir`, `stat`), so their creation and removal are
    encoded the other way round: they read ("tmpdir", d) and those write it. Creates of two temporary
    files then commute (they do), and each conflicts with the removal of its directory. An operation that
    changes nothing now (mkdir -p of an existing directory, a write over an existing file, a link onto an
    existing name, an unlink of a missing file) does not write the listing; it reads what decided that."""
    kind, path = op["kind"], op["path"]
    if kind == "readdir":
        return (("dir", path),), ()
    if kind in ("stat", "lstat"):   # a directory's stat changes with its listing
        return (("fs", path), ("dir", path)), (("tmpdir", path),)
    if kind in READS:
        return (("fs", path),), ()
    reads, writes = [], []

    def made(p):    # p comes into existence (or goes out of it): its listing entry changes
        writes.append(("fs", p))
        if is_temp(p):
            reads.append(("tmpdir", parent(p)))
        else:
            writes.append(("dir", parent(p)))

    def replaced(p):   # p's content changes, its listing entry stays
        reads.append(("dir", parent(p)) if not is_temp(p) else ("tmpdir", parent(p)))
        writes.append(("fs", p))

    if kind == "mkdir":
        chain = [path]
        while op.get("recursive") and chain[-1] and not exists(chain[-1]):
            chain.append(parent(chain[-1]))   # mkdir -p looks up until an existing ancestor
        reads += [("fs", p) for p in chain] + [("fs", parent(path))]
        if not exists(path) and (op.get("recursive") or exists(parent(path))):
            for p in chain:
                if p and not exists(p):
                    made(p)
                    writes += [("dir", p), ("tmpdir", p)]
        return tuple(reads), tuple(writes)
    if kind in ("rm", "rmdir"):
        reads.append(("fs", path))
        if exists(path):
            for p in (path, *below(path)):
                made(p)
                writes += [("dir", p), ("tmpdir", p)]
        return tuple(reads), tuple(writes)
    if kind == "unlink":
        reads.append(("fs", path))
        if exists(path):
            made(path)
        return tuple(reads), tuple(writes)
    if kind in ("rename", "link", "copyFile"):
        src, dst = path, op["path2"]
        reads += [("fs", src), ("fs", dst)]
        if not exists(src):   # ENOENT: nothing changes
            return tuple(reads), ()
        writes.append(("fs", src))   # link counts, a moved source
        if kind == "rename":
            made(src)
        if kind == "link" and exists(dst):   # EEXIST
            return tuple(reads), tuple(writes)
        (replaced if exists(dst) else made)(dst)
        return tuple(reads), tuple(writes)
    # writeFile, appendFile, truncate, utimes: create or replace the file
    reads.append(("fs", path))
    (replaced if exists(path) else made)(path)
    return tuple(reads), tuple(writes)


def _ms(iso) -> int | None:
    """A serialized Date as virtual ms."""
    if not isinstance(iso, str):
        return iso
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000) - ULID_EPOCH_MS


def _iso(ms: int) -> str:
    """Virtual ms as the serialized Date the package keeps (the inverse of `_ms`)."""
    t = ULID_EPOCH_MS + ms
    return datetime.fromtimestamp(t // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t % 1000:03d}Z"


def package_request(req: dict) -> dict:
    """A request in the package's shape: a wait's resumeAt is a Date, which its event schema parses
    from a serialized one (virtual ms would read as 1970 and come back as a string); a run's creation
    data names its deployment."""
    d = req.get("eventData")
    if d and isinstance(d.get("resumeAt"), int):
        return {**req, "eventData": {**d, "resumeAt": _iso(d["resumeAt"])}}
    if d and req["eventType"] in (ev.RUN_CREATED, ev.RUN_STARTED) and "deploymentId" not in d:
        # the runtime always sends its deployment; the package's run schema requires it, and its resilient
        # start (run_started creating the run) only runs with it (seed_run sends the same)
        return {**req, "eventData": {"deploymentId": "sim", **d}}
    return req


def model_event(e: dict) -> dict:
    """A stored event in the model's shape (models.events.event)."""
    data = dict(e.get("eventData") or {})
    if isinstance(data.get("resumeAt"), str):
        data["resumeAt"] = _ms(data["resumeAt"])
    return {"eventId": e["eventId"], "runId": e["runId"], "eventType": e["eventType"],
            "correlationId": e.get("correlationId"), "eventData": data, "createdAt": _ms(e.get("createdAt"))}


def model_entity(d: dict | None) -> dict | None:
    if d is None:
        return None
    return {**d, **{k: _ms(d[k]) for k in ("createdAt", "updatedAt", "startedAt", "completedAt", "resumeAt")
                    if k in d}}


_ERRORS = {"EntityConflictError": EntityConflictError, "RunExpiredError": RunExpiredError,
           "HookNotFoundError": HookNotFoundError, "WorkflowRunNotFoundError": WorkflowRunNotFoundError,
           "WorkflowWorldError": WorkflowWorldError}


def model_error(err: dict, basedir: str) -> Exception:
    msg = err.get("message", "").replace(basedir + "/", "")   # traces must not name the temp folder
    if err.get("name") == "TooEarlyError":
        return TooEarlyError(int(err.get("retryAfter") or 1) * 1000)
    cls = _ERRORS.get(err.get("name"))
    if cls is None:
        e = WorldError(f"{err.get('name')}: {msg}")
        return e
    return cls(msg)


def footprint_now(op: dict, data) -> callable:
    """`footprint(op)` in the data directory's current state, memoised while nothing is released."""
    memo = {}

    def fp():
        if memo.get("at") != data.version_no:
            memo["at"], memo["fp"] = data.version_no, footprint(op, data.exists, data.below)
        return memo["fp"]
    return fp


# ---- the durable state of one execution --------------------------------------------------------------

_base = None
_counter = itertools.count()
_live = None   # the storage of the running execution (the previous one is released when the next is made)
_seeded: dict = {}   # (version, seeding calls so far) -> (the last call's result, the data directory after it)


def _snapshot(root: str) -> dict:
    files = {}
    for d, _, names in os.walk(root):
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                files[os.path.relpath(os.path.join(d, n), root)] = f.read()
    return files


def _restore(root: str, files: dict) -> None:
    shutil.rmtree(root)
    os.makedirs(root)
    for rel, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)


class NpmData:
    """The data directory every process's storage instance shares, and each process incarnation's worker."""

    def __init__(self, version: str):
        global _base, _live
        if _live is not None:
            _live.release()
        if _base is None:
            _base = tempfile.mkdtemp(prefix="sim-npm-")
        self.version = version
        self.pool = pool(version)
        self.dir = os.path.join(_base, f"x{next(_counter)}")
        os.makedirs(self.dir)
        self.workers: dict[tuple, object] = {}   # (process name, incarnation) -> Worker
        self.version_no = 0                      # bumped by every write: the view's cache key
        self.ticks = 0                           # steps that read the time (the quiet clock's milliseconds)
        self.minted = Store(CLOCK[0], {CLOCK[1]: 0})   # DPOR sees which steps read the quiet clock
        self.quiet = True
        self.clock_calls: dict = {}              # process name -> {call: may read the time again} not done reading
        self.writers: dict = {}                  # no ghost stamps on real code (I-ORPHAN for waits: see README)
        self.observed = None
        self._setup = None
        _live = self

    def exists(self, rel: str) -> bool:
        return os.path.exists(os.path.join(self.dir, rel)) if rel else True

    def below(self, rel: str) -> list:
        root = os.path.join(self.dir, rel)
        out = []
        for d, dirs, names in os.walk(root):
            out += [os.path.relpath(os.path.join(d, n), self.dir) for n in sorted(dirs) + sorted(names)]
        return sorted(out)

    def release(self) -> None:
        for w in self.workers.values():
            self.pool.give_back(w)
        if self._setup is not None:
            self.pool.give_back(self._setup)
        self.workers.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- seeding: the released code writes it, every operation let through at once. Seeding is
    # deterministic (fixed seed and clock), so each sequence of seeding calls is run once per Python
    # process; later executions restore the data directory it left and its results
    def setup_call(self, method: str, *args):
        self._history = getattr(self, "_history", ()) + (json.dumps([method, args], sort_keys=True),)
        key = (self.version, self._history)
        hit = _seeded.get(key)
        if hit is None:
            hit = _seeded[key] = (self._setup_call(method, *args), _snapshot(self.dir))
        else:
            _restore(self.dir, hit[1])
        self.version_no += 1
        out = hit[0]
        if not out["ok"]:
            raise model_error(out["error"], self.dir)
        return out["value"]

    def _setup_call(self, method: str, *args) -> dict:
        if self._setup is None:
            self._setup = self.pool.take()
            self._setup.reset(self.dir, 0, ULID_EPOCH_MS + SETUP_TIME)
            for earlier in self._history[:-1]:   # a directory restored from the memo: redo its calls here
                m, a = json.loads(earlier)
                self._run_setup(m, a)
        return self._run_setup(method, list(args))

    def _run_setup(self, method: str, args: list) -> dict:
        w = self._setup
        w.calls += 1
        call = w.calls
        w.send({"cmd": "call", "call": call, "method": method, "args": args, "now": ULID_EPOCH_MS + SETUP_TIME})
        while call not in w.done:
            if not w.pending:
                raise WorkflowWorldError(f"seeding {method} blocked with no operation waiting")
            w.send({"cmd": "go", "op": w.pending[0]["op"]})
        return w.done.pop(call)

    # -- the processes' workers
    def worker(self):
        def reset(w, seed):
            p = current_process()
            w.reset(self.dir, seed, self.clock(), temp_seed=incarnation_seed("temp", p), temp_time=ULID_EPOCH_MS)
        # quiet: every id has a millisecond of its own, so no order depends on a random part
        return process_worker(self.workers, self.pool, reset, drawn=not self.quiet)

    def pkey(self) -> tuple:
        """The calling process incarnation (a restarted process's calls start afresh)."""
        p = current_process()
        return (p.name, p.incarnation)

    def tick(self, reply: dict, declared: bool) -> None:
        """After a worker's reply: if the package read the time since the last one, the quiet clock moves
        on, as a recorded read and write of `CLOCK`, so that only steps which read the time are ordered
        by the clock. A step declares `CLOCK` only where it may read the time (`NpmWorld._call`: one of the
        process's calls has not read it yet, or may read it again, `LATE_CLOCK`); a reading the step did
        not declare would make DPOR unsound, so it stops the execution."""
        readers = reply.get("clock")
        if reply["done"] and self.quiet:
            calls = self.clock_calls.get(self.pkey(), {})
            for d in reply["done"]:
                calls.pop(d["call"], None)
        if not readers or not self.quiet:
            return
        if not declared:
            raise WorkflowWorldError(f"world-local read the time at a step that did not declare it (calls "
                                     f"{readers}): models.npm.world.LATE_CLOCK must name the call")
        calls = self.clock_calls.get(self.pkey(), {})
        for c in readers:
            if calls.get(c) is False:   # its one reading is done
                del calls[c]
        self.ticks = self.minted[CLOCK[1]] + 1
        self.minted[CLOCK[1]] = self.ticks

    def clock(self) -> int:
        """The package's Date.now(). Quiet (the plain versions): every step that reads the time takes one
        millisecond, so every id is minted in its own millisecond, in the order of the steps that minted
        them, as the model's shared clock has it; such a step reads and writes `CLOCK` (`NpmWorld._tick`),
        so DPOR orders every two of them, and a step that does not read the time is independent of the
        clock. A storm (the `u` twins): the clock is sim's virtual time and stands still between timers,
        so ids of two processes in one millisecond order as their seeded factories draw them."""
        return ULID_EPOCH_MS + now() + (self.ticks if self.quiet else 0)

    def wkey(self) -> tuple:
        """The in-memory state of the calling process's package instance (caches, pending promises)."""
        p = current_process()
        return ("npm", p.name)


class NpmView:
    """What invariants read of the data directory, straight from disk (cached per write)."""
    hook_fields = ("runId", "hookId", "token", "metadata", "isWebhook", "createdAt")
    # what the view reads: listings of visible names and files other than temporary ones (models.npm.world.
    # footprint's keys), so that writing a temporary file is not a write an invariant sees
    log_reads = keys_where(lambda k: k[0] in ("dir", "fs") and (k[1] == "events" or k[1].startswith("events/"))
                           and not is_temp(k[1]))
    entity_reads = keys_where(lambda k: k[0] in ("dir", "fs") and not is_temp(k[1]) and (
        k[1] in ("events", "hooks") or k[1].startswith("events/") or
        (k[1].startswith("hooks/") and k[1].count("/") == 1)))
    wait_reads = keys_where(lambda k: k[0] in ("dir", "fs") and k[1].split("/")[0] in ("events", "waits", ".locks")
                            and not is_temp(k[1]))

    def __init__(self, data: NpmData):
        self.fs = data
        self._cache = (-1, {})

    def _memo(self, key, fn):
        version, memo = self._cache
        if version != self.fs.version_no:
            memo = {}
            self._cache = (self.fs.version_no, memo)
        if key not in memo:
            memo[key] = fn()
        return memo[key]

    def _json(self, rel: str):
        try:
            with open(os.path.join(self.fs.dir, rel)) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return None

    def _names(self, rel: str) -> list:
        try:
            return sorted(n[:-5] for n in os.listdir(os.path.join(self.fs.dir, rel)) if n.endswith(".json"))
        except FileNotFoundError:
            return []

    def _events(self) -> dict:
        def read():
            logs: dict = {}
            for name in self._names("events"):
                e = self._json(f"events/{name}.json")
                if e is not None:
                    logs.setdefault(e["runId"], []).append(model_event(e))
            return {r: sorted(es, key=ev.log_order) for r, es in logs.items()}
        return self._memo("events", read)

    def runs(self) -> tuple:
        return tuple(sorted(self._events()))

    def log_key(self, run: str) -> tuple:
        return ("dir", "events")

    def log(self, run: str) -> list:
        return self._events().get(run, [])

    def run(self, run: str):
        return self._memo(("run", run), lambda: model_entity(self._json(f"runs/{run}.json")))

    def hook(self, hook: str):
        return self._memo(("hook", hook), lambda: model_entity(self._json(f"hooks/{hook}.json")))

    def hooks(self) -> list:
        return [h for h in (self.hook(n) for n in self._names("hooks")) if h]

    def step(self, run: str, corr: str):
        return model_entity(self._json(f"steps/{run}-{corr}.json"))

    def steps(self) -> list:
        return [model_entity(self._json(f"steps/{n}.json")) for n in self._names("steps")]

    def waits(self) -> list:
        return [model_entity(self._json(f"waits/{n}.json")) for n in self._names("waits")]

    @property
    def writers(self) -> dict:
        return self.fs.writers

    def run_ids(self) -> list:
        return sorted(set(self.runs()) | set(self._names("runs")))

    def _exists(self, rel: str) -> bool:
        return os.path.exists(os.path.join(self.fs.dir, rel))

    def wait_side_records(self, run: str, corr: str, t: str) -> list:
        name, entity = f"{run}-{corr}", self._json(f"waits/{run}-{corr}.json")
        if t == ev.WAIT_CREATED:
            return ["entity"] if entity is not None else []
        return [what for what, ok in (("completed lock", self._exists(f".locks/waits/{name}.completed")),
                                       ("entity completed", bool(entity) and entity.get("status") == "completed")) if ok]

    def hook_side_records(self, run: str, hook: str, token: str) -> list:
        claim = self._json(f"hooks/tokens/{hashlib.sha256(token.encode()).hexdigest()}.json")
        mine = claim is not None and (claim.get("runId"), claim.get("hookId")) == (run, hook)
        return [what for what, ok in (("claim", mine), ("entity", self.hook(hook) is not None)) if ok]

    def step_side_records(self, run: str, corr: str) -> list:
        return ["entity"] if self.step(run, corr) is not None else []


class NpmWorld:
    """Storage instance of one process, over the released package. Subclassed per version (`world_class`)."""

    version = "?"
    revision = "?"
    in_process_queue = True    # world-local's queue: one in-memory queue per process (models.queues)
    process_ulids = False      # True (the `u` twins): the clock stands still, a storm's id order (NpmData.clock)
    entity_after_event = False

    def __init__(self, data: NpmData):
        self.fs = data

    @classmethod
    def storage(cls) -> NpmData:
        data = NpmData(cls.version)
        data.quiet = not cls.process_ulids
        return data

    view = NpmView

    # ---- seeding (before any actor runs): the package's own writes, not explored --------------------
    @classmethod
    def seed_run(cls, data: NpmData, run: str, status: str = "running") -> None:
        data.setup_call("events.create", run, {"eventType": ev.RUN_CREATED, "eventData": {
            "deploymentId": "sim", "workflowName": "workflow", "input": []}})
        if status == "running":
            data.setup_call("events.create", run, {"eventType": ev.RUN_STARTED})

    @classmethod
    def seed_event(cls, data: NpmData, run: str, t: str, corr: str | None = None, data_: dict | None = None) -> dict:
        if t == ev.STEP_CREATED:
            data_ = {"input": [], **(data_ or {})}
        req = {"eventType": t, **({"correlationId": corr} if corr else {}), **({"eventData": data_} if data_ else {})}
        return model_event(data.setup_call("events.create", run, cls.to_package(req))["event"])

    @classmethod
    def seed_wait(cls, data: NpmData, run: str, corr: str, resume_at: int) -> dict:
        return cls.seed_event(data, run, ev.WAIT_CREATED, corr, {"resumeAt": resume_at})

    @classmethod
    def seed_step(cls, data: NpmData, run: str, corr: str, name: str, status: str = "pending", attempt: int = 0,
                  **fields) -> None:
        """Nothing: the package writes a step's entity only with its events, and the workloads seed those
        (step_created and its history) next; the entity is then what the package makes of them."""

    # ---- one call through the gate -------------------------------------------------------------------
    async def _call(self, method: str, *args):
        data = self.fs
        wkey = data.wkey()
        # the call's synchronous start (events.create mints its eventId there) is a step of its own, so
        # that what it touches is declared: the process's instance and, where it may read it, the clock
        clock = data.quiet and method == "events.create"
        mine = data.clock_calls.setdefault(data.pkey(), {})   # the process's calls that may read the time

        def own(start=False):   # evaluated when the scheduler considers the step: who may read the time then
            return (wkey, CLOCK) if start or mine else (wkey,)
        await point(f"call {method}", reads=lambda: own(clock), writes=lambda: own(clock))
        w = data.worker()
        w.calls += 1
        call = w.calls
        if clock:   # until its reading of the time is done (or to its end, if it may read it again)
            mine[call] = isinstance(args[1], dict) and args[1].get("eventType") in LATE_CLOCK
        data.tick(w.send({"cmd": "call", "call": call, "method": method, "args": list(args), "now": data.clock()}),
                  CLOCK in own(clock))
        try:
            while call not in w.done:
                ops = [op for op in w.pending if op["call"] == call]
                if not ops:   # parked on an in-process promise another call of this process will settle
                    await wait(f"{method} waits in-process", lambda: call in w.done or any(
                        op["call"] == call for op in w.pending), reads=(wkey,))
                    continue
                op = ops[0]   # one call's own concurrent operations are released oldest first
                target = op["path"] + (f" -> {op['path2']}" if "path2" in op else "")
                # evaluated when the scheduler considers releasing it: what it would touch now
                fp = footprint_now(op, data)
                await point(f"{op['kind']} {target}", reads=lambda: fp()[0] + own(), writes=lambda: fp()[1] + own())
                declared = CLOCK in own()
                if op["kind"] not in READS:
                    data.version_no += 1
                data.tick(w.send({"cmd": "go", "op": op["op"], "now": data.clock()}), declared)
        except Crashed:
            if w.alive and not w.retired:   # the process dies between two filesystem operations
                w.retired = True            # its worker is not used again in this execution (see release)
                workers.crashed += 1
            raise
        out = w.done.pop(call)
        if not out["ok"]:
            raise model_error(out["error"], data.dir)
        return out["value"]

    # ---- the interface the runtime calls --------------------------------------------------------------
    to_package = staticmethod(lambda req: req)   # world_class: package_request (world-local's dates)

    async def events_create(self, run: str, req: dict) -> dict:
        res = await self._call("events.create", run, self.to_package(req))
        out = dict(res)
        if res.get("event"):
            out["event"] = model_event(res["event"])
            note(f"published {ev.describe(out['event'])}")
        for k in ("run", "step", "hook", "wait"):
            if res.get(k):
                out[k] = model_entity(res[k])
        if req["eventType"] == ev.RUN_STARTED and res.get("run") and "events" not in res:
            # run_started on a running run returns no preloaded events: the runtime lists them itself
            out["events"] = await self.events_list(run)
        elif res.get("events") is not None:
            out["events"] = [model_event(e) for e in res["events"]]
        return out

    async def events_list(self, run: str, after: str | None = None) -> list:
        """All of the run's events in log order; `after` (a cursor page, as the model's): only those above
        that event id, the whole log listed and filtered here (the package's cursor pages read it again)."""
        events, cursor = [], None
        while True:
            page = await self._call("events.list", {"runId": run, "pagination": {"cursor": cursor} if cursor else {}})
            events += [model_event(e) for e in page["data"]]
            cursor = page.get("cursor")
            if not page.get("hasMore") or not cursor:
                break
        if after is not None:
            mark = (ev.created_at_of(after), after)
            events = [e for e in events if ev.log_order(e) > mark]
        ev.observe_log(self.fs.observed, run, events, page=after is not None)
        return events

    async def runs_get(self, run: str):
        try:
            return model_entity(await self._call("runs.get", run))
        except (WorkflowRunNotFoundError, WorldError) as e:
            if "not found" in str(e).lower():
                return None
            raise

    async def hooks_get_by_token(self, token: str) -> dict:
        return model_entity(await self._call("hooks.getByToken", token))

    async def active_run_ids(self) -> list:
        page = await self._call("runs.list", {"pagination": {"limit": 1000}})
        return [r["runId"] for r in page["data"] if not ev.is_terminal(r)]


def world_class(version: str, storm: bool = False) -> type:
    rev = version + ("u" if storm else "")
    return type(f"NpmWorld_{rev.replace('.', '_')}", (NpmWorld,),
                {"version": version, "revision": rev, "process_ulids": storm,
                 "to_package": staticmethod(package_request)})
