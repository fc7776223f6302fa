"""world-local's filesystem primitives (domain doc section 2.1), one atomic step each.

Every primitive starts with its own scheduling point, which is also its crash
point: a process can die before any of them. The data directory is durable and
shared by the storage instances of every process; mutexes are volatile.

Paths are strings like `events/<runId>/<eventId>`. A directory listing is state of
its own (`dir/<path>`), written by whatever creates or removes an entry, so a
SCAN's footprint is the listing plus the files it reads.
"""
from __future__ import annotations

from sim import Lock, Store, current_process, note, point
from models import events as ev
from models.events import EntityConflictError


def parent(path: str) -> str:
    return path.rpartition("/")[0]


def _add_entry(path: str, get, put) -> None:
    """List `path` in its directory; a new directory is listed in its parent in turn (mkdir -p)."""
    d, _, name = path.rpartition("/")
    while d:
        names = get(d)
        if names is not None and name in names:
            return
        put(d, tuple(sorted((names or ()) + (name,))))
        if names is not None:
            return
        d, _, name = d.rpartition("/")


class DataDir:
    """The files under `basedir`. `files[path]` is a file's content (a dict, never mutated)."""

    def __init__(self, initial: dict | None = None):
        self.files = Store("fs")
        self.dirs = Store("dir")
        self.clock = Store("clock", {"ids": 0, "wall": None})   # ids minted, the machine's clock: LocalWorld.mint
        self.flocks: dict[str, Lock] = {}
        self.writers: dict = {}   # ghost, for invariants: record -> (process, incarnation) that wrote it
        self.observed: dict | None = None   # ghost, for I-LOG2 when checked: models.events.observe_log
        self.frontiers: ev.WriterFrontiers | None = None   # ghost, for I-LOG3 when checked
        # the simulated processes are separate OS processes, each with its ULID factory (LocalWorld.mint)
        self.separate_os_processes = False
        for path, value in (initial or {}).items():
            self.seed(path, value)

    # -- setup-time writes (before any actor runs: no points)
    def seed(self, path: str, value) -> None:
        self.files.unrecorded()[path] = value
        _add_entry(path, self.dirs.unrecorded().get, self.dirs.unrecorded().__setitem__)

    def seed_event_id(self) -> str:
        """An eventId for an event that exists before the exploration starts (minted in order)."""
        self.clock.unrecorded()["ids"] += 1
        return ev.event_id_at(0, self.clock.unrecorded()["ids"])

    # -- footprints
    def fkey(self, path: str) -> tuple:
        return ("fs", path)

    def dkey(self, path: str) -> tuple:
        return ("dir", path)

    def _entry_keys(self, path: str) -> tuple:
        """The listings that creating `path` changes: its directory, and each new ancestor's parent."""
        keys = []
        d = parent(path)
        while d:
            keys.append(self.dkey(d))
            if self.dirs.peek(d) is not None:
                break
            d = parent(d)
        return tuple(keys)

    def _create_writes(self, path: str):
        return lambda: () if self.files.peek(path) is not None else (self.fkey(path),) + self._entry_keys(path)

    def _put_writes(self, path: str):
        return lambda: (self.fkey(path),) + (() if self.files.peek(path) is not None else self._entry_keys(path))

    # -- the effects, inside a step
    def _write(self, path: str, value) -> None:
        new = path not in self.files
        self.files[path] = value
        if new:
            _add_entry(path, self.dirs.get, self.dirs.__setitem__)

    # -- primitives
    async def xcreate(self, path: str, value, why: str = "") -> bool:
        """[A] create-if-absent (temp file + hard link; EEXIST = False)."""
        await point(f"XCREATE {path}{why}", reads=(self.fkey(path),), writes=self._create_writes(path))
        if path in self.files:
            note(f"exists: {path}")
            return False
        self._write(path, value)
        return True

    async def put(self, path: str, value, why: str = "") -> None:
        """[A] replace (temp file + rename): last writer wins."""
        await point(f"PUT {path}{why}", reads=(self.fkey(path),), writes=self._put_writes(path))
        self._write(path, value)

    async def put_nx_racy(self, path: str, value, why: str = "") -> None:
        """`writeJSON` without overwrite: check, then rename. NOT atomic: two writers can both pass the
        check, and the later rename silently wins. The in-process "already created" set is updated only
        after the rename."""
        proc = current_process()
        await point(f"PUT_NX check {path}{why}", reads=(self.fkey(path),))
        written = proc.volatile.setdefault("written", set())
        if path in written or path in self.files:
            note(f"exists: {path}")
            raise EntityConflictError(f"{path} already exists")
        await point(f"PUT_NX rename {path}{why}", reads=(self.fkey(path),), writes=self._put_writes(path))
        self._write(path, value)
        written.add(path)

    async def delete(self, path: str, why: str = "") -> None:
        """[A] unlink, ENOENT ignored."""
        await point(f"DEL {path}{why}", reads=(self.fkey(path),),
                    writes=lambda: (self.fkey(path), self.dkey(parent(path))) if self.files.peek(path) is not None else ())
        if path in self.files:
            del self.files[path]
            d, _, name = path.rpartition("/")
            self.dirs[d] = tuple(n for n in self.dirs[d] if n != name)

    async def read(self, path: str, why: str = ""):
        """[A] a snapshot of one file (files appear only via link or rename), or None."""
        await point(f"READ {path}{why}", reads=(self.fkey(path),))
        return self.files.get(path)

    async def listdir(self, d: str, why: str = "") -> tuple:
        await point(f"LIST {d}{why}", reads=(self.dkey(d),))
        return self.dirs.get(d, ())

    async def scan(self, d: str, why: str = "", immutable: bool = False) -> list:
        """SCAN: readdir, then read each file; not atomic (may miss or include concurrent changes).

        `immutable=True` (the events directory: files appear once by link and never change or
        go away) reads the files in the listing's step: reading them later would return the
        same bytes, so one step is an exact reduction, not an approximation."""
        if immutable:
            await point(f"SCAN {d}{why}", reads=lambda: (self.dkey(d),) + tuple(
                self.fkey(f"{d}/{n}") for n in self.dirs.peek(d, ())))
            return [self.files[f"{d}/{n}"] for n in self.dirs.get(d, ())]
        out = []
        for n in await self.listdir(d, why):
            v = await self.read(f"{d}/{n}", why)
            if v is not None:
                out.append(v)
        return out

    def flock(self, name: str) -> Lock:
        """FLOCK (proper-lockfile): cross-process; the OS releases a dead holder's lock (sim does too)."""
        lock = self.flocks.get(name)
        if lock is None:
            lock = self.flocks[name] = Lock(f"flock[{name}]")
        return lock


def instance_mutex(kind: str, key: str) -> Lock:
    """MUTEX_I / MUTEX_P: an in-memory mutex map of this process's storage instance (dies with it)."""
    proc = current_process()
    locks = proc.volatile.setdefault(kind, {})
    lock = locks.get(key)
    if lock is None:
        lock = locks[key] = Lock(f"{proc.prefix}{kind}[{key}]")
    return lock
