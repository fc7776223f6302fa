"""The released @workflow/world-postgres as a world: `postgres-npm:VERSION`.

Storage is real: each simulated process has its own Node worker (models/npm/pgworker.mjs) running the
package's storage (its drizzle client on a pg.Pool) against one database of the throwaway PostgreSQL
server (models.postgres.server, started on first use as for `--backend postgres`). Every statement the
package sends waits at a gate at `pg.Client.prototype.query`, BEGIN and COMMIT included; releasing it
is one scheduling point of the calling actor. A released statement the server makes wait for a lock
(pg_blocking_pids on the worker's backend) leaves its actor waiting in the kernel until another
actor's statement (a COMMIT, a ROLLBACK) or a crash releases it: the server, not a model, decides who
waits. A wait that closes a cycle is cancelled at once (pg_cancel_backend), as PostgreSQL's deadlock
detector would abort one of the cycle's statements later.

What stays modelled: everything above storage (runtime, workflow, and the queue: the package's
graphile-worker queue is never loaded, so none of its polling runs), as on the model worlds.
Timestamps: ids are minted from sim's clock (Date follows it; ULID randomness from the seeded
Math.random); the server's `DEFAULT now()` columns are set to a constant, and an event's `createdAt` is
its id's ULID time.
"""
from __future__ import annotations

import os
import re
from datetime import datetime, timezone

from models.npm import workers
from models.npm.workers import pool
from models.npm.world import SETUP_TIME, NpmData, NpmWorld, model_entity, model_event, process_worker
from sim import Crashed, keys_where, note, point, wait
from sim.kernel import ULID_EPOCH_MS

SERVER = (("pgserver", "*"),)      # every statement's footprint: the server as one shared object
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
FIXED_NOW = "2000-01-01 00:00:00"   # the server's now() defaults (real time must not reach the data)


def ulid_iso(ident: str) -> str | None:
    """The ISO time of the ULID in `wevt_01H...` (its first ten characters: ms since the Unix epoch)."""
    tail = ident.rpartition("_")[2]
    if len(tail) != 26:
        return None
    ms = 0
    for ch in tail[:10]:
        ms = ms * 32 + CROCKFORD.index(ch)
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def with_id_times(value):
    """Every event's createdAt (the server's now(), fixed) replaced by its id's time, recursively."""
    if isinstance(value, list):
        return [with_id_times(v) for v in value]
    if isinstance(value, dict):
        out = {k: with_id_times(v) for k, v in value.items()}
        if isinstance(out.get("eventId"), str) and "createdAt" in out:
            out["createdAt"] = ulid_iso(out["eventId"]) or out["createdAt"]
        return out
    return value


def label(sql: str) -> str:
    """A statement as a trace step: its verb and first table (`insert workflow_events`, `begin`)."""
    words = sql.strip().split()
    verb = words[0].lower() if words else "?"
    m = re.search(r'"workflow"\."(\w+)"', sql)
    lock = " for update" if re.search(r"\bfor update\b", sql, re.I) else ""
    return f"{verb} {m.group(1)}{lock}" if m else verb


def read_only(sql: str) -> bool:
    s = sql.lstrip().lower()
    return s.startswith("select") and not re.search(r"\bfor (update|share|no key update|key share)\b", s)


# ---- the database of this Python process ------------------------------------------------------------

class Database:
    """One database per version in this Python process, migrated by the package itself once; emptied
    between executions (TRUNCATE) after every connection of the previous one is gone."""

    def __init__(self, version: str):
        from models.postgres.backend import connection
        self.conn = connection()
        kv = dict(x.split("=", 1) for x in self.conn.driver.dsn.split())
        self.name = f"sim_wpg_{version.replace('.', '_')}_{os.getpid()}"
        self.config = {"host": kv["host"], "port": int(kv.get("port", 5432)), "user": kv.get("user", "postgres"),
                       "database": self.name}
        self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")   # a pid reused after a kill -9
        self._admin(f"CREATE DATABASE {self.name}")
        w = pool(version, "postgres").take()
        try:
            w.send({"cmd": "migrate", "db": self.config})
        finally:
            pool(version, "postgres").give_back(w)
        from psycopg import pq
        self.pg = pq.PGconn.connect(" ".join(f"{k}={v}" for k, v in {**kv, "dbname": self.name}.items()).encode())
        cols = self.query("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
                          "'workflow' AND column_default LIKE 'now()%' ORDER BY 1, 2")
        for t, c in cols:
            self.query(f'ALTER TABLE workflow."{t}" ALTER COLUMN "{c}" SET DEFAULT \'{FIXED_NOW}\'')
        tables = self.query("SELECT tablename FROM pg_tables WHERE schemaname = 'workflow' ORDER BY 1")
        self.truncate = "TRUNCATE " + ", ".join(f'workflow."{t}"' for (t,) in tables)

    def _admin(self, sql: str) -> None:
        from psycopg import pq
        r = self.conn.driver.monitor.exec_(sql.encode())
        if r.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
            raise workers.WorkerError(f"{sql}: {r.get_error_message(encoding='utf-8').strip()}")

    def query(self, sql: str) -> tuple:
        from psycopg import pq
        from models.postgres.driver import _rows
        r = self.pg.exec_(sql.encode())
        if r.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
            raise workers.WorkerError(f"{sql.split()[0]} failed: {r.get_error_message(encoding='utf-8').strip()}")
        return _rows(r)

    def terminate(self, pids=None) -> None:
        """End these backends (all of the database's but ours: None) and wait until they are gone (their
        open transactions roll back, their locks go)."""
        which = "pid <> pg_backend_pid()" if pids is None else \
            f"pid = ANY('{{{','.join(str(p) for p in pids) or '0'}}}'::int[])"
        self.query(f"SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = "
                   f"current_database() AND {which}")

    def cancel(self, pid: int) -> None:
        self.query(f"SELECT pg_cancel_backend({int(pid)})")

    def reset(self) -> None:
        # the previous execution's workers closed their connections (`drop`): a backend left in a
        # transaction rolls back as it sees its socket closed, and TRUNCATE waits for its locks
        self.query(self.truncate)


_databases: dict[str, Database] = {}


def database(version: str) -> Database:
    """The version's database on the backend's current server (a new one when the server changed)."""
    from models.postgres.backend import connection
    d = _databases.get(version)
    if d is None or d.conn is not connection():
        d = _databases[version] = Database(version)
    return d


class PgData(NpmData):
    """The database every process's storage instance shares, and each process incarnation's worker."""

    def __init__(self, version: str):
        from models.npm import world as local
        if local._live is not None:
            local._live.release()
        self.version = version
        self.pool = pool(version, "postgres")
        self.db = database(version)
        self.db.reset()
        self.workers: dict[tuple, object] = {}
        self.version_no = 0
        self.ticks = 0
        self.quiet = True
        self.writers: dict = {}
        self.observed = None
        self._setup = None
        self._snap = (-1, None)
        local._live = self

    def release(self) -> None:
        for w in list(self.workers.values()) + ([self._setup] if self._setup is not None else []):
            if w.alive:
                w.send({"cmd": "drop"})   # its sockets close before the server ends their backends
            self.pool.give_back(w)
        self.workers.clear()
        self._setup = None

    # -- seeding: the released code writes it, every statement let through at once
    def setup_call(self, method: str, *args):
        if self._setup is None:
            self._setup = self.pool.take()
            self._setup.pending, self._setup.done, self._setup.calls = [], {}, 0
            self._setup.send({"cmd": "reset", "db": self.db.config, "seed": 0, "now": ULID_EPOCH_MS + SETUP_TIME})
        out = self._run_setup(method, list(args))
        self.version_no += 1
        if not out["ok"]:
            from models.npm.world import model_error
            raise model_error(out["error"], "")
        return with_id_times(out["value"])

    def worker(self):
        def reset(w, seed):
            w.pending, w.done, w.calls = [], {}, 0
            w.send({"cmd": "reset", "db": self.db.config, "seed": seed, "now": self.clock()})
        return process_worker(self.workers, self.pool, reset)

    # -- after a step: the others' waits, deadlocks, crashes
    def settle_others(self, moved) -> None:
        """A statement of `moved` may have released locks: every other worker waiting for one settles
        again (in a fixed order), so the kernel sees who still waits."""
        for key in sorted(self.workers):
            w = self.workers[key]
            if w is not moved and w.alive and w.inflight:
                w.send({"cmd": "settle"})

    def deadlocked(self, w) -> bool:
        """Does one of `w`'s waiting statements close a wait-for cycle among the workers' backends?"""
        waits = {f["pid"]: f["blockers"] for o in self.workers.values() if o.alive for f in o.inflight}
        for f in w.inflight:
            seen, todo = set(), list(f["blockers"])
            while todo:
                p = todo.pop()
                if p == f["pid"]:
                    return True
                if p not in seen:
                    seen.add(p)
                    todo.extend(waits.get(p, ()))
        return False

    def crash(self, w) -> None:
        if w.alive:   # the process dies between two statements: its backends end, their transactions roll back
            self.db.terminate(w.pids)
            w.kill()
            workers.crashed += 1
            self.version_no += 1
            self.settle_others(w)

    def snapshot(self) -> dict:
        """The committed tables as the package's schema decodes them (a worker's ungated connection)."""
        if self._snap[0] != self.version_no:
            if self._setup is None:
                self._setup = self.pool.take()
                self._setup.send({"cmd": "reset", "db": self.db.config, "seed": 0, "now": ULID_EPOCH_MS})
            self._snap = (self.version_no, with_id_times(self._setup.send({"cmd": "snapshot"})["snapshot"]))
        return self._snap[1]


class PgView:
    """What invariants read of the tables: the committed rows (cached per step that may write)."""
    hook_fields = ("runId", "hookId", "token", "metadata", "isWebhook")
    log_reads = entity_reads = keys_where(lambda k: k[0] == "pgserver")
    wait_reads = keys_where(lambda k: k[0] in ("pgserver", "process"))   # a crash writes its process's key

    def __init__(self, data: PgData):
        self.fs = data

    def _rows(self, table: str) -> list:
        return self.fs.snapshot()[table]

    def _events(self) -> dict:
        logs: dict = {}
        for e in self._rows("events"):
            e = {**e, "eventData": e.get("eventData") if e.get("eventData") is not None else e.get("eventDataJson")}
            logs.setdefault(e["runId"], []).append(model_event(e))
        return logs

    def runs(self) -> tuple:
        return tuple(sorted(self._events()))

    def log_key(self, run: str) -> tuple:
        return SERVER[0]

    def log(self, run: str) -> list:
        return self._events().get(run, [])

    def _by(self, table: str, key: str, value):
        return next((model_entity(r) for r in self._rows(table) if r[key] == value), None)

    def run(self, run: str):
        return self._by("runs", "runId", run)

    def hook(self, hook: str):
        return self._by("hooks", "hookId", hook)

    def hooks(self) -> list:
        return [model_entity(r) for r in self._rows("hooks")]

    def step(self, run: str, corr: str):
        return self._by("steps", "stepId", corr)

    def steps(self) -> list:
        return [model_entity(r) for r in self._rows("steps")]

    def waits(self) -> list:
        return [model_entity(r) for r in self._rows("waits")]

    @property
    def writers(self) -> dict:
        return self.fs.writers

    def run_ids(self) -> list:
        return sorted(set(self.runs()) | {r["runId"] for r in self._rows("runs")})

    def wait_side_records(self, run: str, corr: str, t: str) -> list:
        row = self._by("waits", "waitId", f"{run}-{corr}")
        if t == "wait_created":
            return ["row"] if row is not None else []
        return ["row completed"] if row is not None and row.get("status") == "completed" else []

    def hook_side_records(self, run: str, hook: str, token: str) -> list:
        return ["row"] if self.hook(hook) is not None else []

    def step_side_records(self, run: str, corr: str) -> list:
        return ["row"] if self.step(run, corr) is not None else []


class PgNpmWorld(NpmWorld):
    """Storage instance of one process, over the released world-postgres. Subclassed per version."""

    in_process_queue = False   # the queue stays modelled: graphile-worker's (models.queues)
    queue_dedupe = "pending"   # graphile's job_key dedupes against a pending job only, as the model's P4

    @classmethod
    def storage(cls) -> PgData:
        data = PgData(cls.version)
        data.quiet = not cls.process_ulids
        return data

    view = PgView

    async def _call(self, method: str, *args):
        data = self.fs
        w = data.worker()
        wkey = data.wkey()
        w.calls += 1
        call = w.calls
        w.send({"cmd": "call", "call": call, "method": method, "args": list(args), "now": data.clock()})
        in_tx = False   # the call's statements since its BEGIN are not committed yet
        try:
            while call not in w.done:
                if any(f["call"] == call for f in w.inflight):
                    await wait(f"{method} waits for a lock", lambda: not any(f["call"] == call for f in w.inflight),
                               reads=SERVER, writes=SERVER)
                    continue
                mine = [op for op in w.pending if op["call"] == call]
                if not mine:   # parked on an in-process promise another call of this process will settle
                    await wait(f"{method} waits in-process", lambda: call in w.done or any(
                        op["call"] == call for op in w.pending), reads=(wkey,))
                    continue
                op = mine[0]
                ro = read_only(op["sql"])
                verb = op["sql"].lstrip()[:8].lower()
                await point(label(op["sql"]), reads=SERVER + (wkey,), writes=(() if ro else SERVER) + (wkey,))
                data.ticks += 1
                w.send({"cmd": "go", "op": op["op"], "now": data.clock()})
                if verb.startswith("begin"):
                    in_tx = True
                elif verb.startswith(("commit", "rollback")):
                    in_tx = False
                    data.version_no += 1   # what others (and the invariants) see changes at the commit
                elif not ro and not in_tx:
                    data.version_no += 1
                if not ro:
                    data.settle_others(w)
                if w.inflight:
                    held = sorted({p for f in w.inflight for p in f["blockers"]})
                    owners = sorted(k[0] for k, o in data.workers.items() if o.alive and set(o.pids) & set(held))
                    if data.deadlocked(w):
                        note(f"deadlock: waits for {', '.join(owners)}, who wait for it; cancelled")
                        for f in w.inflight:
                            data.db.cancel(f["pid"])
                        w.send({"cmd": "settle"})
                    else:
                        note(f"waits for a lock held by {', '.join(owners) or 'another backend'}")
        except Crashed:
            data.crash(w)
            raise
        out = w.done.pop(call)
        if not out["ok"]:
            from models.npm.world import model_error
            raise model_error(out["error"], "")
        return with_id_times(out["value"])


def world_class(version: str, storm: bool = False) -> type:
    rev = version + ("u" if storm else "")
    return type(f"PgNpmWorld_{rev.replace('.', '_')}", (PgNpmWorld,),
                {"version": version, "revision": rev, "process_ulids": storm})
