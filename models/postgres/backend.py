"""world-postgres's statements on a real PostgreSQL server, behind the model's `Database` interface
(issue 15; `--backend postgres`).

Each statement is one step, as in the model, and runs on the server when the step runs, on the
connection of the actor that issues it (the model's lock owner: one connection per actor). The
driver (models.postgres.driver) then settles the server. A statement PostgreSQL makes wait for a
lock leaves its actor waiting in the kernel until the server finishes it (when another actor's
COMMIT, ROLLBACK or crash releases the lock): the scheduler runs someone else meanwhile, and the
actor's next step takes the result. So the server, not the model, decides who waits.

- Deadlocks: a wait that closes a wait-for cycle is found by the driver at once (not by
  PostgreSQL's deadlock_timeout); its statement is cancelled and raises `DeadlockDetected`
  (40P01) in its actor, as PostgreSQL would in one of the cycle's sessions.
- A COMMIT or ROLLBACK that wakes two or more waiters: PostgreSQL picks the winner, not the
  tape. Such a step is noted in the trace ("raced: PostgreSQL's choice") and counted
  (`RACES`); a schedule through it may give another outcome on another run. Nothing is made up
  for it: the backend reports the nondeterminism rather than hiding it.
- A crash kills the dead process's connections (pg_terminate_backend): their open transactions
  roll back on the server and their locks go, releasing whoever waited.

What invariants read is a mirror of the server's committed rows in the model's stores, re-read
after every step that can change it, so `PostgresView` and every invariant work unchanged.
Footprints: every statement reads and writes one key, the server (partial-order reduction treats
two statements as dependent; steps outside the database are still reduced), plus what the mirror
refresh writes.

Model difference kept on purpose: `update(..., changes, where)` takes Python functions, so the
statement sends the guard as a compare-and-set on the row it read (`WHERE pk = .. AND doc = ..`);
the server makes it wait on a locked row like the real guarded UPDATE. After a wait that found the
row changed, the guard and the changes are evaluated again on the new row (PostgreSQL's re-check)
in the waiter's next step rather than inside the COMMIT that released it.
"""
from __future__ import annotations

import atexit
import json
import os

from models import events as ev
from models.postgres.db import CREATION_UNIQUE, INDEXES, Database, InFailedTransaction, Transaction, UniqueViolation
from models.postgres.driver import Blocked, Done, Driver, DriverError
from sim import current_actor, note, point, wait

SERVER = (("pgserver", "*"),)        # every statement's footprint: the server as one shared object
TABLES = tuple(INDEXES)
RACES = [0]                          # COMMITs/ROLLBACKs that woke two or more waiters, this process


class DeadlockDetected(Exception):
    """SQLSTATE 40P01: the statement closed a wait-for cycle and was cancelled."""
    sqlstate = "40P01"


class BackendError(RuntimeError):
    """The server misbehaved (a statement failed that the schema should not fail); one line."""


def lit(v) -> str:
    """A SQL literal (standard_conforming_strings is on: only quotes are doubled)."""
    if v is None:
        return "NULL"
    return "'" + str(v).replace("'", "''") + "'"


def jlit(doc) -> str:
    return lit(json.dumps(doc, sort_keys=True)) + "::jsonb"


def _schema_sql(schema: str, creation_unique: bool) -> list[str]:
    out = [f"DROP SCHEMA IF EXISTS {schema} CASCADE", f"CREATE SCHEMA {schema}", f"SET search_path TO {schema}"]
    for t in TABLES:
        if t == "events":
            out.append("CREATE TABLE events (pk text PRIMARY KEY, run_id text NOT NULL, corr text, "
                       "type text NOT NULL, doc jsonb NOT NULL)")
        else:
            out.append(f"CREATE TABLE {t} (pk text PRIMARY KEY, doc jsonb NOT NULL)")
    if creation_unique:
        types = ", ".join(lit(t) for t in sorted(ev.CREATION_EVENTS))
        # NULL correlation ids compare equal, as the model's key (run, corr, type) does
        out.append(f"CREATE UNIQUE INDEX {CREATION_UNIQUE} ON events (run_id, coalesce(corr, ''), type) "
                   f"WHERE type IN ({types})")
    return out


class Connection:
    """The process's server (started on first use, or SIM_PG_DSN), its driver and one session per actor."""

    def __init__(self, dsn: str | None = None):
        """`dsn`: a server someone else runs (the tests' session server); otherwise the launcher's."""
        self.server = None
        try:
            if dsn is None:
                from models.postgres.server import Server
                self.server = Server.start()
                dsn = self.server.dsn
            self.driver = Driver(dsn)
        except (DriverError, ImportError, RuntimeError) as e:   # RuntimeError: ServerUnavailable
            raise BackendError(f"--backend postgres: no server: {' '.join(str(e).split())}") from None
        atexit.register(self.close)
        self.schema = f"sim_backend_{os.getpid()}"   # a name only: workers sharing a DSN do not collide
        self.unique: bool | None = None
        self.by_actor: dict[str, object] = {}
        self.admin = self._open("setup")

    def close(self) -> None:
        try:
            self.driver.close()
        finally:
            if self.server is not None:
                self.server.stop()

    def _open(self, name: str):
        s = self.driver.session(name)
        self.run(s, f"SET search_path TO {self.schema}")
        return s

    def run(self, s, sql: str) -> Done:
        out = self.driver.run(s, sql).outcome
        if not isinstance(out, Done) or not out.ok:
            raise BackendError(f"{sql.split()[0]} on {s.name} failed: {out}")
        return out

    def query(self, sql: str) -> tuple:
        """Rows of a statement on the monitoring connection (blocking: for reads that wait for nobody)."""
        from psycopg import pq
        from models.postgres.driver import _rows
        r = self.driver.monitor.exec_(sql.encode())
        if r.status != pq.ExecStatus.TUPLES_OK:
            raise BackendError(f"{sql.split()[0]} failed: {r.get_error_message(encoding='utf-8').strip()}")
        return _rows(r)

    def reset(self, creation_unique: bool) -> None:
        """Between executions: kill sessions left waiting, roll back the others, empty the tables."""
        for name, s in sorted(self.by_actor.items()):
            if s.busy:
                self.driver.kill(s)
                del self.by_actor[name]
            elif s.pgconn.transaction_status != 0:   # psycopg.pq.TransactionStatus.IDLE
                self.run(s, "ROLLBACK")
        if self.unique is not creation_unique:
            for sql in _schema_sql(self.schema, creation_unique):
                self.run(self.admin, sql)
            self.unique = creation_unique
        else:
            self.run(self.admin, "; ".join(f"DELETE FROM {t}" for t in TABLES))

    def session(self, actor: str):
        s = self.by_actor.get(actor)
        if s is None:
            s = self.by_actor[actor] = self._open(actor)
        return s

    def kill(self, actor: str):
        s = self.by_actor.pop(actor, None)
        return None if s is None else self.driver.kill(s)


_CONNECTION: list[Connection] = []


def connection() -> Connection:
    if not _CONNECTION:
        _CONNECTION.append(Connection())
    return _CONNECTION[0]


def use_server(dsn: str | None) -> None:
    """Run the backend on the server at `dsn` from now on (None: forget it; the next use starts one)."""
    while _CONNECTION:
        _CONNECTION.pop().close()
    if dsn is not None:
        _CONNECTION.append(Connection(dsn))


class RealTx(Transaction):
    __slots__ = ("begun",)

    def __init__(self):
        super().__init__()
        self.begun = False


class RealDatabase(Database):
    """`Database` whose statements run on the server; its stores mirror what has committed there."""

    def __init__(self, creation_unique: bool = True, process_ulids: bool = False):
        super().__init__(creation_unique, process_ulids)
        self.conn = connection()
        self.conn.reset(creation_unique)
        self.seeds: list = []
        self.seen: dict = {}     # (table, pk) -> the doc's text as last mirrored

    # ---- setup and the mirror --------------------------------------------------------------------

    def seed(self, table: str, pk, row: dict) -> None:
        super().seed(table, pk, row)
        self.seeds.append((table, pk, row))

    def _flush_seeds(self) -> None:
        if not self.seeds:
            return
        sql = "; ".join(_insert_sql(t, pk, row) for t, pk, row in self.seeds)
        self.seeds = []
        self.conn.run(self.conn.admin, sql)
        self.seen = self._server_rows()   # the mirror holds the seeds already

    def _server_rows(self) -> dict:
        union = " UNION ALL ".join(f"SELECT '{t}', pk, doc::text FROM {self.conn.schema}.{t}" for t in TABLES)
        rows = self.conn.query(union)
        return {(t, pk): doc for t, pk, doc in rows}

    def _refresh(self) -> None:
        """Copy what committed since the last refresh into the stores (tracked: invariants and
        partial-order reduction see the rows that changed)."""
        now = self._server_rows()
        for k in sorted(set(now) | set(self.seen), key=repr):
            if now.get(k) != self.seen.get(k):
                table, pk = k
                self._commit_row(table, pk, None if now.get(k) is None else json.loads(now[k]))
                if table == "events" and k in now:
                    note(f"committed {ev.describe(json.loads(now[k]))}")
        self.seen = now

    # ---- one statement ---------------------------------------------------------------------------

    async def _exec(self, label: str, sql: str, tx=None, changes: bool = True) -> Done:
        """One step: send `sql` on the actor's session; if the server makes it wait, wait in the kernel
        until it finishes. `changes`: it may change committed rows (refresh the mirror after it)."""
        await self._park(point(label, reads=SERVER, writes=SERVER))
        return await self._send(label, sql, tx, changes, current_actor().name)

    async def _park(self, parked):
        """Await a point or a wait; a crash thrown there kills the actor's connection (its process died,
        so does the connection: an open transaction rolls back on the server, its locks go)."""
        try:
            return await parked
        except BaseException:
            a = current_actor()
            if a.crashing:
                self._after(self.conn.kill(a.name))
            raise

    async def _send(self, label, sql, tx, changes, me) -> Done:
        self._flush_seeds()
        s = self.conn.session(me)
        if tx is not None and not tx.begun:
            self.conn.run(s, "BEGIN")
            tx.begun = True
        step = self.conn.driver.run(s, sql)
        out = step.outcome
        if isinstance(out, Blocked) and out.deadlock:
            note(f"deadlock: waits for {', '.join(out.on)}, who wait for it; cancelled (40P01)")
            self._after(self.conn.driver.cancel(s))
            raise DeadlockDetected(f"deadlock detected: {label}")
        self._after(step, changes and tx is None)
        if isinstance(out, Blocked):
            note(f"waits for a lock held by {', '.join(out.on)}")
            await self._park(wait(f"{label} (lock)", lambda: not s.busy, reads=SERVER, writes=SERVER))
            out = s.outcome
        if out.sqlstate == InFailedTransaction.sqlstate:
            raise InFailedTransaction(f"{label}: current transaction is aborted")
        if not out.ok and out.sqlstate not in ("23505",):
            raise BackendError(f"{label}: {out.sqlstate} {' '.join(out.error.split())}")
        return out

    def _after(self, step, changed: bool = True) -> None:
        if step is None:
            return
        if step.raced:
            RACES[0] += 1
            note(f"raced: {', '.join(step.raced)} woken together, PostgreSQL's choice (uncontrolled)")
        if changed or step.released:
            self._refresh()

    # ---- statements (see Database for what each means) -------------------------------------------

    async def select(self, table: str, pk, tx=None, for_update: bool = False, why: str = ""):
        self._not_events(table)
        lock = " FOR UPDATE" if for_update else ""
        out = await self._exec(f"SELECT {table} {_short(pk)}{lock}{why}",
                               f"SELECT doc FROM {table} WHERE pk = {lit(pk)}{lock}", tx, changes=False)
        return _first(out)

    async def select_by(self, table: str, col: str, value, limit: int | None = None, why: str = "") -> list:
        cond = f"doc->>{lit(col)} IS NULL" if value is None else f"doc->>{lit(col)} = {lit(value)}"
        out = await self._exec(f"SELECT {table} WHERE {col}={_short(value)}{why}",
                               f"SELECT doc FROM {table} WHERE {cond} ORDER BY pk COLLATE \"C\""
                               + ("" if limit is None else f" LIMIT {int(limit)}"), changes=False)
        return [json.loads(r[0]) for r in out.rows]

    async def insert(self, table: str, pk, row: dict, tx=None, why: str = ""):
        self._not_events(table)
        out = await self._exec(f"INSERT {table} {_short(pk)} ON CONFLICT DO NOTHING{why}",
                               _insert_sql(table, pk, row) + " ON CONFLICT (pk) DO NOTHING RETURNING pk", tx)
        if not out.rows:
            note(f"{table} {_short(pk)} exists: nothing inserted")
            return None
        return row

    async def update(self, table: str, pk, changes, where=None, tx=None, why: str = ""):
        self._not_events(table)
        label = f"UPDATE {table} {_short(pk)}{why}"
        me = current_actor().name
        await self._park(point(label, reads=SERVER, writes=SERVER))
        while True:
            old = _first(await self._send(label, f"SELECT doc FROM {table} WHERE pk = {lit(pk)}", tx, False, me))
            if old is None or (where is not None and not where(old)):
                note(f"UPDATE {table} {_short(pk)}: no row matched")
                return None
            new = {**old, **changes(old)}
            out = await self._send(label, f"UPDATE {table} SET doc = {jlit(new)} WHERE pk = {lit(pk)} "
                                          f"AND doc = {jlit(old)} RETURNING pk", tx, True, me)
            if out.rows:
                return new
            note(f"UPDATE {table} {_short(pk)}: the row changed while it waited: re-check")

    async def delete(self, table: str, pk, tx=None, why: str = ""):
        self._not_events(table)
        out = await self._exec(f"DELETE {table} {_short(pk)}{why}",
                               f"DELETE FROM {table} WHERE pk = {lit(pk)} RETURNING doc", tx)
        return _first(out)

    async def delete_by(self, table: str, col: str, value, why: str = "") -> list:
        out = await self._exec(f"DELETE {table} WHERE {col}={_short(value)}{why}",
                               f"DELETE FROM {table} WHERE doc->>{lit(col)} = {lit(value)} RETURNING pk, doc")
        return [json.loads(doc) for _pk, doc in sorted(out.rows)]

    async def insert_event(self, run: str, t: str, corr: str | None = None, data: dict | None = None, tx=None,
                           why: str = "", slots: bool = False, event_id: str | None = None) -> dict:
        label = f"INSERT events ({t}{'' if corr is None else ' ' + ev.short(corr)}){why}"
        me = current_actor().name
        await self._park(point(label, reads=SERVER, writes=SERVER))
        marker = False
        if slots:
            marker = bool((await self._send(label, f"SELECT 1 FROM slots WHERE pk = {lit(run)}", tx, False, me)).rows)
        e = ev.event(event_id or self._next_id(marker), run, t, corr, data)
        out = await self._send(label, "INSERT INTO events (pk, run_id, corr, type, doc) VALUES ("
                                      f"{lit(e['eventId'])}, {lit(run)}, {lit(corr)}, {lit(t)}, {jlit(e)})", tx, True, me)
        if out.sqlstate == "23505":
            note(f"23505 on {CREATION_UNIQUE}")
            raise UniqueViolation(CREATION_UNIQUE, (run, corr, t))
        if self.frontiers is not None:   # I-LOG3's ghost, as the model records it
            self.frontiers.record(self.observed, run, e["eventId"])
        return e

    async def events_of(self, run: str, why: str = "") -> list:
        out = await self._exec(f"SELECT events WHERE run_id={_short(run)} ORDER BY id{why}",
                               f"SELECT doc FROM events WHERE run_id = {lit(run)} ORDER BY pk COLLATE \"C\"",
                               changes=False)
        return [json.loads(r[0]) for r in out.rows]

    # ---- transactions -----------------------------------------------------------------------------

    @staticmethod
    def new_transaction() -> RealTx:
        return RealTx()

    def crashed(self, tx: RealTx) -> None:
        """Died inside `tx` outside a statement: kill the connection (a statement's crash already has)."""
        if tx.begun:
            self._after(self.conn.kill(current_actor().name))

    async def commit(self, tx: RealTx) -> None:
        await self._end(tx, "COMMIT")

    async def rollback(self, tx: RealTx) -> None:
        await self._end(tx, "ROLLBACK")
        note("rolled back")

    async def _end(self, tx: RealTx, sql: str) -> None:
        me = current_actor().name
        await self._park(point(sql, reads=SERVER, writes=SERVER))
        if tx.begun:
            self._after(self.conn.driver.run(self.conn.session(me), sql))


def database(creation_unique: bool = True, process_ulids: bool = False) -> Database:
    """The storage `--backend` selects (sim.backends): the model, or this server."""
    from sim import backends
    if backends.current() == "postgres":
        return RealDatabase(creation_unique, process_ulids)
    return Database(creation_unique, process_ulids)


def _insert_sql(table: str, pk, row: dict) -> str:
    if table == "events":
        return ("INSERT INTO events (pk, run_id, corr, type, doc) VALUES ("
                f"{lit(pk)}, {lit(row['runId'])}, {lit(row.get('correlationId'))}, {lit(row['eventType'])}, "
                f"{jlit(row)})")
    return f"INSERT INTO {table} (pk, doc) VALUES ({lit(pk)}, {jlit(row)})"


def _first(out: Done):
    return json.loads(out.rows[0][0]) if out.rows else None


def _short(x) -> str:
    return ev.short(x) if isinstance(x, str) else str(x)
