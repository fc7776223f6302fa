"""The pinned installs of the released packages: `models/npm/versions/VERSION/` (world-local) and
`models/npm/versions-postgres/VERSION/` (world-postgres) hold a package.json and its lockfile; the first run that needs a version installs it with `npm ci` into a cache folder
(`$SIM_NPM_CACHE`, else `$XDG_CACHE_HOME/sim/npm`, else `~/.cache/sim/npm`), once per lockfile."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sim import SimUsageError

VERSIONS_DIR = Path(__file__).parent / "versions"
PACKAGE = "@workflow/world-local"
# kind -> (package, folder of its pinned versions, npm command). world-postgres's cbor-x lists native
# optional packages that a registry may not serve (cbor-x falls back to JavaScript without them); their
# absence from the lockfile makes `npm ci` refuse, so `npm install` of the lockfile's versions is used
KINDS = {"local": (PACKAGE, VERSIONS_DIR, "ci"),
         "postgres": ("@workflow/world-postgres", Path(__file__).parent / "versions-postgres", "install")}
NODE_HINT = ("install Node.js 20 or newer with npm (Debian: apt-get install nodejs npm), "
             "or set SIM_NODE to the node binary")


class NodeMissing(SimUsageError):
    """Node (or npm) is not installed: the real-code worlds cannot run."""


def versions(kind: str = "local") -> list[str]:
    """The pinned versions shipped in the repository, oldest first."""
    folder = KINDS[kind][1]
    if not folder.is_dir():
        return []
    return sorted((d.name for d in folder.iterdir() if (d / "package-lock.json").is_file()),
                  key=lambda v: tuple(int(x) for x in v.split(".")))


def node_binary() -> str:
    node = os.environ.get("SIM_NODE") or shutil.which("node")
    if not node:
        raise NodeMissing(f"the real-code world needs Node.js, and `node` is not on PATH: {NODE_HINT}")
    return node


def cache_root() -> Path:
    if os.environ.get("SIM_NPM_CACHE"):
        return Path(os.environ["SIM_NPM_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sim" / "npm"


def install_dir(version: str, kind: str = "local") -> Path:
    """The folder whose node_modules holds `version`, installed on first use (a progress line on stderr)."""
    PACKAGE, folder, command = KINDS[kind]
    src = folder / version
    lock = src / "package-lock.json"
    if not lock.is_file():
        known = ", ".join(versions(kind)) or "none"
        raise SimUsageError(f"no pinned install of {PACKAGE} {version} (pinned: {known})")
    digest = hashlib.sha256(lock.read_bytes() + (src / "package.json").read_bytes()).hexdigest()[:12]
    dest = cache_root() / f"world-{kind}-{version}-{digest}"
    if _installed(dest, version, PACKAGE):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(dest.parent / f".{dest.name}.lock"):   # parallel jobs install once
        if _installed(dest, version, PACKAGE):
            return dest
        npm = shutil.which("npm")
        node_binary()
        if not npm:
            raise NodeMissing(f"installing {PACKAGE} {version} needs npm, and `npm` is not on PATH: {NODE_HINT}")
        print(f"sim: installing {PACKAGE} {version} (first use) from {lock.relative_to(folder.parent.parent.parent)} "
              f"into {dest} ...", file=sys.stderr, flush=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            shutil.copy(src / "package.json", tmp / "package.json")
            shutil.copy(lock, tmp / "package-lock.json")
            done = subprocess.run([npm, command, "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                                  cwd=tmp, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
            if done.returncode != 0:
                last = (done.stdout.strip().splitlines() or ["no output"])[-1]
                raise SimUsageError(f"npm {command} of {PACKAGE} {version} failed ({last})")
            if dest.exists():
                shutil.rmtree(dest)
            tmp.rename(dest)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        print(f"sim: installed {PACKAGE} {version}", file=sys.stderr, flush=True)
    return dest


def _installed(dest: Path, version: str, package: str) -> bool:
    manifest = dest / "node_modules" / package / "package.json"
    try:
        return json.loads(manifest.read_text())["version"] == version
    except (OSError, ValueError, KeyError):
        return False


@contextlib.contextmanager
def _exclusive(path: Path):
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
