"""world-local's filesystem primitives on a real directory (`--backend fs`), behind `DataDir`'s interface.

Each primitive makes the system calls world-local makes (domain doc 2.1), in the step the model
gives it, with the model's footprint and crash points:

    XCREATE       open(temp, O_CREAT|O_EXCL) + write  (writeFile 'wx'), mkdir -p, link(temp, p),
                  unlink(temp); EEXIST from link = False
    PUT           temp as above, mkdir -p, rename(temp, p)
    PUT_NX_RACY   step 1: the in-process set, access(p); temp written.  step 2: mkdir -p, rename.
                  A crash between the two leaves the temp file, as it would
    DEL           unlink(p), ENOENT ignored
    READ          read(p) + JSON parse; ENOENT = None
    LIST          readdir, sorted (directory order is the filesystem's, not world-local's concern)
    SCAN          readdir, then read each file (immutable: in the listing's step, as the model)

Every return value comes from the disk. The `files`/`dirs` stores of `DataDir` are kept as a mirror
of the disk (reloaded from it after each primitive that changed it) so that invariants, footprints
and state fingerprints read what is on disk, and each primitive touches the same store keys the
model's does (DPOR then explores the same schedules on both backends). A primitive whose real
outcome disagrees with the mirror raises `BackendDivergence`: something outside the execution
touched the directory, or the model's semantics and the filesystem's differ.

Where this differs from world-local: file `p` is `<data>/p.json` as world-local names its records,
but temp files are made in a staging directory beside the data (`<execution>/tmp/`, the same
filesystem, so link and rename stay atomic) instead of next to the target, so that a
`mkdir -p` made for a temp file never shows an empty directory in a listing before the model's
step creates the entry. Temp names are `<process>.<incarnation>.<n>`, never random.
"""
from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
import weakref

from sim import current_process, note, point
from models.events import EntityConflictError
from models.local.fs import DataDir, parent

SUFFIX = ".json"


class BackendDivergence(RuntimeError):
    """The real directory and the mirror the invariants read disagree."""


# ---- one directory per execution ---------------------------------------------------------------

_base: dict = {}   # pid -> [base directory, executions made]: forked workers must not share counters
_live: list = []   # the newest executions' roots; older ones are removed (executions run one at a time)
KEEP = 4
DIR_ENV = "SIM_FS_DIR"   # where the executions' directories go (default: the system's temporary folder)


def _cleanup(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def fresh_root() -> str:
    """A new, empty directory for one execution (`data/` and `tmp/` inside)."""
    pid = os.getpid()
    entry = _base.get(pid)
    if entry is None:
        entry = _base[pid] = [tempfile.mkdtemp(prefix="sim-fs-", dir=os.environ.get(DIR_ENV) or None), 0]
        _live.clear()   # a forked child inherits the parent's list: those are not its own
        atexit.register(_cleanup, entry[0])
        try:   # pool workers leave through os._exit: multiprocessing runs its finalizers, not atexit
            from multiprocessing import util
            util.Finalize(None, _cleanup, args=(entry[0],), exitpriority=0)
        except ImportError:
            pass
    entry[1] += 1
    root = os.path.join(entry[0], f"x{entry[1]}")
    os.makedirs(os.path.join(root, "data"))
    os.mkdir(os.path.join(root, "tmp"))
    _live.append(root)
    while len(_live) > KEEP:
        _cleanup(_live.pop(0))
    return root


# ---- encoding --------------------------------------------------------------------------------

def encode(path: str, value) -> bytes:
    """JSON, as world-local writes (`JSON.stringify(data, null, 2)`); a value JSON cannot carry exactly
    (a tuple, a non-string key) is refused rather than silently changed."""
    data = json.dumps(value, indent=2).encode()
    if json.loads(data) != value:
        raise BackendDivergence(f"{path}: the model's value does not survive JSON: {value!r}")
    return data


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


class RealDataDir(DataDir):
    """`DataDir` whose files live in a fresh real directory (see the module docstring)."""

    def __init__(self, initial: dict | None = None, root: str | None = None):
        self.root = root or fresh_root()
        self.data = os.path.join(self.root, "data")
        self.tmpdir = os.path.join(self.root, "tmp")
        self._temps: dict = {}   # (process, incarnation) -> temp files made
        super().__init__(initial)
        if root is None:
            weakref.finalize(self, _cleanup, self.root)

    # -- paths
    def real(self, path: str) -> str:
        parts = path.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"unsafe path {path!r}")
        return os.path.join(self.data, *parts) + SUFFIX

    def real_dir(self, d: str) -> str:
        return os.path.join(self.data, *d.split("/")) if d else self.data

    def _temp(self) -> str:
        proc = current_process()
        who = (proc.name, proc.incarnation)
        n = self._temps[who] = self._temps.get(who, 0) + 1
        return os.path.join(self.tmpdir, f"{_safe(proc.name)}.{proc.incarnation}.{n}")

    # -- system calls
    def _write_temp(self, path: str, value) -> str:
        """writeFile(temp, bytes, {flag: 'wx'})."""
        tmp = self._temp()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, encode(path, value))
        finally:
            os.close(fd)
        return tmp

    def _mkdir_p(self, path: str) -> None:
        os.makedirs(os.path.dirname(self.real(path)), exist_ok=True)

    def load(self, path: str):
        """The file's parsed content, or None if there is none."""
        try:
            with open(self.real(path), "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            return None

    def exists(self, path: str) -> bool:
        """access(p)"""
        return os.access(self.real(path), os.F_OK)

    def listing(self, d: str):
        """readdir(d), sorted: subdirectories and `*.json` records (temp files are neither); None if d is absent."""
        try:
            with os.scandir(self.real_dir(d)) as it:
                names = [e.name if e.is_dir() else e.name[:-len(SUFFIX)] for e in it
                         if e.is_dir() or e.name.endswith(SUFFIX)]
        except FileNotFoundError:
            return None
        return tuple(sorted(names))

    # -- the mirror, with the store accesses the model's primitives make
    def _reflect_write(self, path: str) -> None:
        new = path not in self.files
        self.files[path] = self.load(path)
        if new:
            d = parent(path)
            while d:
                names = self.dirs.get(d)
                real = self.listing(d)
                if names != real:
                    self.dirs[d] = real
                if names is not None:
                    return
                d = parent(d)

    def _diverged(self, what: str, path: str, real, mirror) -> None:
        if real != mirror:
            raise BackendDivergence(f"{what} {path}: the disk says {real!r}, the mirror {mirror!r}")

    # -- setup-time writes
    def seed(self, path: str, value) -> None:
        self._mkdir_p(path)
        with open(self.real(path), "wb") as f:
            f.write(encode(path, value))
        super().seed(path, self.load(path))

    # -- primitives
    async def xcreate(self, path: str, value, why: str = "") -> bool:
        await point(f"XCREATE {path}{why}", reads=(self.fkey(path),), writes=self._create_writes(path))
        tmp = self._write_temp(path, value)
        try:
            self._mkdir_p(path)
            os.link(tmp, self.real(path))
            ok = True
        except FileExistsError:
            ok = False
        finally:
            os.unlink(tmp)
        self._diverged("XCREATE", path, ok, path not in self.files)
        if not ok:
            note(f"exists: {path}")
            return False
        self._reflect_write(path)
        return True

    async def put(self, path: str, value, why: str = "") -> None:
        await point(f"PUT {path}{why}", reads=(self.fkey(path),), writes=self._put_writes(path))
        tmp = self._write_temp(path, value)
        self._mkdir_p(path)
        os.rename(tmp, self.real(path))
        self._reflect_write(path)

    async def put_nx_racy(self, path: str, value, why: str = "") -> None:
        proc = current_process()
        await point(f"PUT_NX check {path}{why}", reads=(self.fkey(path),))
        written = proc.volatile.setdefault("written", set())
        if path in written:
            note(f"exists: {path}")
            raise EntityConflictError(f"{path} already exists")
        on_disk = self.exists(path)
        self._diverged("PUT_NX check", path, on_disk, path in self.files)
        if on_disk:
            note(f"exists: {path}")
            raise EntityConflictError(f"{path} already exists")
        tmp = self._write_temp(path, value)   # left behind if the process dies before the rename
        await point(f"PUT_NX rename {path}{why}", reads=(self.fkey(path),), writes=self._put_writes(path))
        self._mkdir_p(path)
        os.rename(tmp, self.real(path))
        self._reflect_write(path)
        written.add(path)

    async def delete(self, path: str, why: str = "") -> None:
        await point(f"DEL {path}{why}", reads=(self.fkey(path),),
                    writes=lambda: (self.fkey(path), self.dkey(parent(path))) if self.files.peek(path) is not None else ())
        try:
            os.unlink(self.real(path))
            gone = True
        except FileNotFoundError:
            gone = False
        self._diverged("DEL", path, gone, path in self.files)
        if gone:
            del self.files[path]
            d = parent(path)
            self.dirs[d]   # noqa: B018 (the model reads the listing it rewrites)
            self.dirs[d] = self.listing(d)

    async def read(self, path: str, why: str = ""):
        await point(f"READ {path}{why}", reads=(self.fkey(path),))
        value = self.load(path)
        self._diverged("READ", path, value, self.files.get(path))
        return value

    async def listdir(self, d: str, why: str = "") -> tuple:
        await point(f"LIST {d}{why}", reads=(self.dkey(d),))
        names = self.listing(d) or ()
        self._diverged("LIST", d, names, self.dirs.get(d, ()))
        return names

    async def scan(self, d: str, why: str = "", immutable: bool = False) -> list:
        if not immutable:
            return await super().scan(d, why)
        await point(f"SCAN {d}{why}", reads=lambda: (self.dkey(d),) + tuple(
            self.fkey(f"{d}/{n}") for n in self.dirs.peek(d, ())))
        names = self.listing(d) or ()
        self._diverged("SCAN", d, names, self.dirs.get(d, ()))
        out = []
        for n in names:
            value = self.load(f"{d}/{n}")
            self._diverged("SCAN", f"{d}/{n}", value, self.files[f"{d}/{n}"])
            out.append(value)
        return out

    # -- for tests and reports
    def contents(self) -> dict:
        """Every record on disk: path -> parsed content (temp files not included)."""
        out = {}
        for top, _dirs, files in os.walk(self.data):
            rel = os.path.relpath(top, self.data)
            for f in files:
                if f.endswith(SUFFIX):
                    path = f[:-len(SUFFIX)] if rel == "." else f"{rel.replace(os.sep, '/')}/{f[:-len(SUFFIX)]}"
                    out[path] = self.load(path)
        return dict(sorted(out.items()))

    def leftovers(self) -> list:
        """Temp files a dead process left behind (world-local never cleans them up either)."""
        return sorted(os.listdir(self.tmpdir))
