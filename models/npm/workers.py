"""Node worker processes (models/npm/worker.mjs) and the pool that keeps spares started.

A worker is one simulated process's instance of the released package. Its protocol answers every
command once, after the worker ran until idle, with the full list of gated operations waiting and the
calls that ended: the driver always knows exactly which operations are waiting. Everything here is
blocking I/O with no scheduling point: waiting for a worker (or for a spare to finish starting) never
decides anything, so schedules do not depend on timing.
"""
from __future__ import annotations

import atexit
import json
import subprocess
from collections import deque
from pathlib import Path

from sim import SimUsageError
from models.npm.install import install_dir, node_binary

WORKER = Path(__file__).parent / "worker.mjs"
SCRIPTS = {"local": WORKER, "postgres": Path(__file__).parent / "pgworker.mjs"}   # kind -> its worker
SPARES = 2   # started ahead: an execution of two processes and a crash never waits for a Node start-up
KEEP = 8     # workers kept for reuse: an execution's processes, their crashed incarnations and the seeding one
crashed = 0  # workers killed by simulated crashes in this Python process (for tests and benchmarks)


class WorkerError(SimUsageError):
    """The worker broke the protocol or died on its own (not a simulated crash)."""


class Worker:
    def __init__(self, version: str, directory: Path, kind: str = "local"):
        self.version = version
        self.kind = kind
        self.proc = subprocess.Popen([node_binary(), str(SCRIPTS[kind]), str(directory)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self._ready = None
        self.pending: list[dict] = []    # gated operations waiting, oldest first
        self.inflight: list[dict] = []   # world-postgres: statements sent that wait for a lock
        self.pids: list[int] = []        # world-postgres: the backend pids of the worker's connections
        self.done: dict[int, dict] = {}  # call -> its result, until taken
        self.calls = 0
        self.alive = True
        self.retired = False             # its process crashed: not used again until the next execution

    def ready(self) -> dict:
        if self._ready is None:
            line = self.proc.stdout.readline()
            if not line:
                raise WorkerError(f"the Node worker for world-{self.kind} {self.version} exited at start-up "
                                  f"(run `node {SCRIPTS[self.kind]} DIR` to see why)")
            self._ready = json.loads(line)
        return self._ready

    def send(self, msg: dict) -> dict:
        self.ready()
        try:
            self.proc.stdin.write(json.dumps(msg, separators=(",", ":")) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            raise WorkerError(f"the Node worker for world-{self.kind} {self.version} died on {msg.get('cmd')}")
        reply = json.loads(line)
        if "fatal" in reply:
            raise WorkerError(f"the Node worker failed: {reply['fatal'].splitlines()[0]}")
        if "pending" not in reply:   # an answer that is not a step's (snapshot, migrate)
            return reply
        self.pending = reply["pending"]
        self.inflight = reply.get("inflight", [])
        self.pids = reply.get("pids", [])
        for d in reply["done"]:
            self.done[d["call"]] = d
        return reply

    def reset(self, directory: str, seed: int, now: int, temp_seed: int = 0, temp_time: int = 0) -> dict:
        self.pending, self.done, self.calls, self.retired = [], {}, 0, False
        return self.send({"cmd": "reset", "dir": directory, "seed": seed, "now": now, "tempSeed": temp_seed,
                          "tempTime": temp_time})

    def kill(self) -> None:
        if self.alive:
            self.alive = False
            self.proc.kill()
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass


class Pool:
    """Pre-started workers of one version. `take` hands out a started one (waiting, if need be, for its
    start-up to finish) and starts a replacement in the background; `give_back` keeps a live worker for
    reuse (the next `reset` gives it a fresh instance of the package's modules)."""

    def __init__(self, version: str, kind: str = "local"):
        self.version = version
        self.kind = kind
        self.directory = install_dir(version, kind)
        self.spares: deque[Worker] = deque()
        self.started = 0   # Node processes started (a benchmark's count)
        self.closed = False
        self._fill()

    def _fill(self) -> None:
        while len(self.spares) < SPARES:
            self.spares.append(Worker(self.version, self.directory, self.kind))
            self.started += 1

    def take(self) -> Worker:
        if not self.spares:
            self._fill()
        w = self.spares.popleft()
        self._fill()
        w.ready()
        return w

    def give_back(self, w: Worker) -> None:
        if not w.alive:
            return
        if self.closed or len(self.spares) >= KEEP:
            w.kill()
        else:
            self.spares.appendleft(w)   # a started, warm worker first

    def close(self) -> None:
        self.closed = True
        while self.spares:
            self.spares.pop().kill()


_pools: dict[tuple, Pool] = {}


def pool(version: str, kind: str = "local") -> Pool:
    p = _pools.get((kind, version))
    if p is None:
        p = _pools[(kind, version)] = Pool(version, kind)
    return p


@atexit.register
def close_all() -> None:
    """Stop every pooled worker (the next execution starts new ones)."""
    for p in _pools.values():
        p.close()
    _pools.clear()
