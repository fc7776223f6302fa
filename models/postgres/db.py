"""Postgres as world-postgres uses it (domain doc 2.1): tables, indexes, statements, transactions.

Every statement is one atomic step; its point is also its crash point. Autocommit
statements are their own transaction, so a crash between two of them keeps the
first (READ COMMITTED: each statement sees what had committed when it ran).

A transaction (`async with db.transaction() as tx`) buffers its writes: its own
statements see them, nobody else does until COMMIT, one step that applies them
all. Every row it writes or locks FOR UPDATE, and every unique key it inserts,
stays locked until COMMIT or ROLLBACK. A statement that needs such a row waits
for the lock and then evaluates its WHERE (or its conflict check) against what
committed: a second guarded UPDATE re-checks and finds the row terminal, a second
inserter of a unique key fails with 23505 unless the first rolled back. A crash
rolls an open transaction back: its buffer dies with the actor and the kernel
releases the dead process's locks.

Rows are dicts that are never mutated. State lives in two `Store`s, so partial-
order reduction sees exactly which rows and index entries each statement touched:
`pg[(table, pk)]` holds rows; `pgi[(index, key)]` is the sorted tuple of primary
keys an index maps `key` to (the events index on run_id is the log in id order).
"""
from __future__ import annotations

from models import events as ev
from sim import Lock, Store, current_actor, note, now, point, wait

# secondary indexes: table -> the columns indexed (each index is named `table.column`)
INDEXES = {
    "runs": (),
    "steps": ("runId",),
    "hooks": ("token", "runId"),   # token: NOT unique (P0-P4; a unique index is proposed in #1970)
    "waits": ("runId",),
    "events": ("runId",),
    "slots": (),   # B28/P4: a run's slot marker (its events get slot ids, #3269/#3389)
}
CREATION_UNIQUE = "workflow_events_entity_creation_unique"   # (run_id, correlation_id, type), P1+
LEGACY_ID_PREFIX, SLOT_ID_PREFIX = "evnt_", "evsl_"


class UniqueViolation(Exception):
    """SQLSTATE 23505."""
    sqlstate = "23505"

    def __init__(self, constraint: str, key):
        super().__init__(f"duplicate key value violates unique constraint {constraint!r}: {key}")
        self.constraint = constraint


class InFailedTransaction(Exception):
    """SQLSTATE 25P02: a statement in a transaction an earlier error aborted (it can only roll back)."""
    sqlstate = "25P02"


def row_key(table: str, pk) -> tuple:
    return ("pg", (table, pk))


def index_key(index: str, key) -> tuple:
    return ("pgi", (index, key))


def _lock_key(k: tuple) -> tuple:
    return Lock.key_of(f"pg{k}")   # the name the row lock is created with (Database.locks)


class Transaction:
    """An open transaction: its buffered rows (None = deleted), the unique keys it inserted, its locks.
    `aborted`: a statement in it failed (23505): PostgreSQL refuses every later statement (25P02) and
    its COMMIT rolls back."""
    __slots__ = ("rows", "uniques", "locks", "aborted")

    def __init__(self):
        self.rows: dict = {}
        self.uniques: set = set()
        self.locks: list = []
        self.aborted = False


class Database:
    """The `workflow` schema of one Postgres server, shared by every process (durable)."""

    def __init__(self, creation_unique: bool = True, process_ulids: bool = False):
        self.rows = Store("pg")
        self.index = Store("pgi")
        self.ids = Store("pg.ids", {"seq": 0, "wall": None})   # see _next_id
        self.creation_unique = creation_unique
        self.process_ulids = process_ulids   # getEventId() from each process's ULID factory (see _next_id)
        self.locks: dict[tuple, Lock] = {}
        self.run_ids: list = []   # runs with a log, for invariants (peek only)
        self.writers: dict = {}   # ghost, for invariants: record -> (process, incarnation) that wrote it
        self.observed: dict | None = None   # ghost, for I-LOG2 when checked: models.events.observe_log
        self.frontiers: ev.WriterFrontiers | None = None   # ghost, for I-LOG3 when checked

    # ---- setup-time writes (no points) ----------------------------------------------------------

    def seed(self, table: str, pk, row: dict) -> None:
        self._apply(table, pk, row, self.rows.unrecorded().get, self.rows.unrecorded().__setitem__,
                    self.index.unrecorded().get, self.index.unrecorded().__setitem__)

    def seed_event(self, run: str, t: str, corr: str | None = None, data: dict | None = None) -> dict:
        """An event committed before the exploration starts (ids minted in order at time 0)."""
        self.ids.unrecorded()["seq"] += 1
        e = ev.event(ev.event_id_at(0, self.ids.unrecorded()["seq"]), run, t, corr, data)
        self.seed("events", e["eventId"], e)
        return e

    # ---- footprints -----------------------------------------------------------------------------

    def _index_entries(self, table: str, row) -> tuple:
        out = [index_key(f"{table}.{col}", row.get(col)) for col in INDEXES[table]]
        u = self._unique_of(table, row)
        if u is not None:
            out.append(index_key(CREATION_UNIQUE, u))
        return tuple(out)

    def _write_keys(self, table: str, pk, row) -> tuple:
        """What writing `row` (None: deleting) at `pk` touches now: the row and the index entries of the
        old and the new version."""
        old = self.rows.peek((table, pk))
        keys = (row_key(table, pk),)
        if old is not None:
            keys += self._index_entries(table, old)
        if row is not None:
            keys += self._index_entries(table, row)
        return keys

    def _unique_of(self, table: str, row: dict):
        if table == "events" and self.creation_unique and row["eventType"] in ev.CREATION_EVENTS:
            return (row["runId"], row["correlationId"], row["eventType"])
        return None

    # ---- committed state ------------------------------------------------------------------------

    def _apply(self, table, pk, row, get, put, iget, iput) -> None:
        """Write `row` (None: delete) and its index entries through the given accessors (tracked
        inside a step, untracked at setup). Events are insert-only, so only a new one is indexed as
        unique and makes its run known."""
        old = get((table, pk))
        for col in INDEXES[table]:
            before = None if old is None else old.get(col)
            after = None if row is None else row.get(col)
            if old is not None and (row is None or before != after):
                iput((f"{table}.{col}", before), tuple(k for k in iget((f"{table}.{col}", before), ()) if k != pk))
            if row is not None and (old is None or before != after):
                iput((f"{table}.{col}", after), tuple(sorted(iget((f"{table}.{col}", after), ()) + (pk,))))
        put((table, pk), row)
        if table == "events" and row is not None:
            u = self._unique_of(table, row)
            if u is not None:
                iput((CREATION_UNIQUE, u), (pk,))
            if row["runId"] not in self.run_ids:
                self.run_ids.append(row["runId"])

    def _commit_row(self, table, pk, row) -> None:
        # An event row is written once, under a fresh id, together with its run's index entry, and
        # only ever read through that index: the entry stands for the row (as a directory listing
        # does for world-local's immutable event files), so the row itself is not tracked.
        get, put = (self.rows.unrecorded().get, self.rows.unrecorded().__setitem__) if table == "events" else (
            self.rows.get, self._put_row)
        old = get((table, pk))
        if row is None and old is None:
            return
        self._apply(table, pk, row, get, put, self.index.get, self.index.__setitem__)

    def _put_row(self, k, row) -> None:
        if row is None:
            if k in self.rows:
                del self.rows[k]
        else:
            self.rows[k] = row

    def _next_id(self, slot: bool = False) -> str:
        """getEventId(): a ULID of the virtual clock. Ids are minted at distinct instants (the
        shared sequence orders them by mint), so `ORDER BY id` is mint order. `slot`: the id scheme of
        a run with a slot marker (model: the same sequence under its own prefix, SLOT_ID_PREFIX; the
        real encoding is not reproduced, only that a log can mix the two schemes).

        With `process_ulids` (the `u` revisions) the id comes from the inserting process's monotonic
        ULID factory (section 1.1: per storage instance), so ids of two processes in one millisecond
        order as the tape says where they fall in one millisecond of the clock the servers share
        (`models.events.mint_process_ulid`), and a transaction's ids are minted at its INSERT, visible
        at COMMIT."""
        prefix = SLOT_ID_PREFIX if slot else LEGACY_ID_PREFIX
        if self.process_ulids:
            return ev.mint_process_ulid(self.ids, prefix)
        seq = self.ids["seq"] + 1
        self.ids["seq"] = seq
        return ev.event_id_at(now(), seq, prefix)

    # ---- reading inside a statement ------------------------------------------------------------

    def _read(self, tx, table, pk):
        if tx is not None and (table, pk) in tx.rows:
            return tx.rows[(table, pk)]
        return self.rows.get((table, pk))

    def _write(self, tx, table, pk, row) -> None:
        if tx is None:
            self._commit_row(table, pk, row)
        else:
            tx.rows[(table, pk)] = row

    # ---- locks ----------------------------------------------------------------------------------

    def _lock(self, k: tuple) -> Lock:
        lock = self.locks.get(k)
        if lock is None:
            lock = self.locks[k] = Lock(f"pg{k}")
            lock.tx = None   # the holder's transaction (what it wrote decides whether a conflict check waits)
        return lock

    def _free(self, keys):
        """Ready when no other actor's open transaction holds any of these rows or unique keys
        (`keys`: a tuple, or a callable giving the rows the statement would match now)."""
        me = current_actor()

        def ready() -> bool:
            for k in (keys() if callable(keys) else keys):
                lock = self.locks.get(k)
                if lock is not None and lock.owner is not None and lock.owner is not me:
                    return False
            return True
        return ready

    async def _statement(self, label: str, tx, locked: tuple, reads, writes, skip=None):
        """Run up to the statement's effect: wait until the rows it needs are not locked by another
        transaction, then (in a transaction) take their locks. The caller applies the effect in this step.

        `skip()`: the statement has no effect whatever the lock holder does, so it does not wait (a
        guard the committed row fails, a conflict with a row that is only locked). Returns the locks
        it took (the caller gives them back when the statement turned out to change nothing: a
        guarded UPDATE that matched nothing, an INSERT that met a conflict), or None when it skipped."""
        if tx is not None and tx.aborted:
            await point(label)
            raise InFailedTransaction(f"{label}: current transaction is aborted")
        lock_keys = (lambda: tuple(_lock_key(k) for k in locked())) if callable(locked) else tuple(
            _lock_key(k) for k in locked)
        free = self._free(locked)
        ready = free if skip is None else (lambda: free() or skip())
        if tx is not None:
            await wait(label, ready, reads=reads, writes=_plus(writes, lock_keys))
        else:
            await wait(label, ready, reads=_plus(reads, lock_keys), writes=writes)
        if skip is not None and not free():
            return None
        taken = []
        if tx is not None:
            for k in locked:
                lock = self._lock(k)
                if lock.owner is None:
                    lock.owner = current_actor()
                    lock.tx = tx
                    tx.locks.append(lock)
                    taken.append(lock)
        return taken

    @staticmethod
    def _give_back(tx, taken) -> None:
        """A statement that changed nothing keeps no lock it took (PostgreSQL: issue 15's 3 and 4)."""
        for lock in taken or ():
            lock.owner = None
            tx.locks.remove(lock)

    def _held_by_other(self, k, me) -> Transaction | None:
        """The transaction of another actor (not `me`: guards run outside their actor) holding `k`."""
        lock = self.locks.get(k)
        if lock is not None and lock.owner is not None and lock.owner is not me:
            return lock.tx
        return None

    # ---- statements -------------------------------------------------------------------------------

    @staticmethod
    def _not_events(table: str) -> None:
        """Event rows are immutable and read only through their run's index (see _commit_row): a
        statement on one row of `events` would race with nothing partial-order reduction can see."""
        if table == "events":
            raise ValueError("events are insert-only: use insert_event and events_of")

    async def select(self, table: str, pk, tx=None, for_update: bool = False, why: str = ""):
        """SELECT ... WHERE pk [FOR UPDATE] -> row | None. FOR UPDATE waits for and takes the row lock."""
        self._not_events(table)
        if for_update:
            await self._statement(f"SELECT {table} {_short(pk)} FOR UPDATE{why}", tx, ((table, pk),),
                                  (row_key(table, pk),), ())
        else:
            await point(f"SELECT {table} {_short(pk)}{why}", reads=(row_key(table, pk),))
            if tx is not None and tx.aborted:
                raise InFailedTransaction(f"SELECT {table}: current transaction is aborted")
        return self._read(tx, table, pk)

    async def select_by(self, table: str, col: str, value, limit: int | None = None, why: str = "") -> list:
        """SELECT ... WHERE col = value (through the index) ORDER BY pk [LIMIT n]: committed rows only."""
        ik = index_key(f"{table}.{col}", value)
        await point(f"SELECT {table} WHERE {col}={_short(value)}{why}",
                    reads=lambda: (ik,) + tuple(row_key(table, pk) for pk in self.index.peek(ik[1], ())))
        pks = self.index.get(ik[1], ())
        return [self.rows.get((table, pk)) for pk in pks[:limit]]

    async def insert(self, table: str, pk, row: dict, tx=None, why: str = ""):
        """INSERT ... ON CONFLICT (pk) DO NOTHING RETURNING -> row | None (None: the pk existed)."""
        self._not_events(table)
        me = current_actor()

        def only_locked() -> bool:
            """The committed row conflicts and its holder only locked it (FOR UPDATE): PostgreSQL's
            conflict check waits for a transaction that inserted, updated or deleted the row, not for
            a row lock (issue 15's 2)."""
            holder = self._held_by_other((table, pk), me)
            return holder is not None and (table, pk) not in holder.rows and self.rows.peek((table, pk)) is not None
        taken = await self._statement(f"INSERT {table} {_short(pk)} ON CONFLICT DO NOTHING{why}", tx,
                                      ((table, pk),), (row_key(table, pk),), lambda: self._write_keys(table, pk, row),
                                      skip=only_locked)
        if taken is None or self._read(tx, table, pk) is not None:
            self._give_back(tx, taken)
            note(f"{table} {_short(pk)} exists: nothing inserted")
            return None
        self._write(tx, table, pk, row)
        return row

    async def update(self, table: str, pk, changes, where=None, tx=None, why: str = ""):
        """UPDATE ... SET changes WHERE pk [AND where(row)] RETURNING -> new row | None.

        `changes(row)` returns the new column values; `where` is the guard (None: unguarded). As in
        PostgreSQL, the guard is first checked on the committed row: if that fails it (or there is
        none), the statement matches nothing at once, even while another transaction holds the row
        (issue 15's 1). Otherwise it waits for the row lock and checks the guard again on the row
        the holder committed; a statement that matched nothing keeps no lock (issue 15's 4)."""
        self._not_events(table)
        def writes():
            old = self.rows.peek((table, pk))
            return () if old is None else self._write_keys(table, pk, {**old, **changes(old)})

        def no_match() -> bool:
            committed = self.rows.peek((table, pk))
            return committed is None or (where is not None and not where(committed))
        taken = await self._statement(f"UPDATE {table} {_short(pk)}{why}", tx, ((table, pk),), (row_key(table, pk),),
                                      writes, skip=no_match)
        old = None if taken is None else self._read(tx, table, pk)
        if old is None or (where is not None and not where(old)):
            self._give_back(tx, taken)
            note(f"UPDATE {table} {_short(pk)}: no row matched")
            return None
        new = {**old, **changes(old)}
        self._write(tx, table, pk, new)
        return new

    async def delete(self, table: str, pk, tx=None, why: str = ""):
        """DELETE ... WHERE pk RETURNING -> the row | None: exactly one concurrent deleter gets it."""
        self._not_events(table)
        await self._statement(f"DELETE {table} {_short(pk)}{why}", tx, ((table, pk),), (row_key(table, pk),),
                              lambda: self._write_keys(table, pk, None) if self.rows.peek((table, pk)) else ())
        old = self._read(tx, table, pk)
        if old is not None:
            self._write(tx, table, pk, None)
        return old

    async def delete_by(self, table: str, col: str, value, why: str = "") -> list:
        """DELETE FROM table WHERE col = value RETURNING (autocommit; rows locked by others are awaited)."""
        ik = index_key(f"{table}.{col}", value)

        def footprint():
            return (ik,) + tuple(k for pk in self.index.peek(ik[1], ()) for k in self._write_keys(table, pk, None))
        await self._statement(f"DELETE {table} WHERE {col}={_short(value)}{why}", None,
                              lambda: tuple((table, pk) for pk in self.index.peek(ik[1], ())), (ik,), footprint)
        gone = []
        for pk in self.index.get(ik[1], ()):
            gone.append(self.rows.get((table, pk)))
            self._commit_row(table, pk, None)
        return gone

    async def mint_event_id(self) -> str:
        """getEventId() on its own, before any statement (a server that mints on a request's arrival)."""
        if not self.process_ulids:
            await point("getEventId()", reads=(("pg.ids", "seq"),), writes=(("pg.ids", "seq"),))
        return self._next_id()

    async def insert_event(self, run: str, t: str, corr: str | None = None, data: dict | None = None, tx=None,
                           why: str = "", slots: bool = False, event_id: str | None = None) -> dict:
        """INSERT INTO events (id = getEventId(), ...): the id is minted in this statement, unless
        `event_id` was minted before (`mint_event_id`). Raises UniqueViolation (23505) when the creation
        index (P1+) already holds the key. `slots` (B28, P4): the id is a slot id if the run's slot marker
        exists (as this statement sees it), else a legacy one."""
        u = (run, corr, t) if self.creation_unique and t in ev.CREATION_EVENTS else None
        locked = () if u is None else ((CREATION_UNIQUE, u),)
        uniq = () if u is None else (index_key(CREATION_UNIQUE, u),)
        ids = () if event_id is not None else (self.ids.key("wall" if self.process_ulids else "seq"),)
        marker = (row_key("slots", run),) if slots else ()
        taken = await self._statement(f"INSERT events ({t}{'' if corr is None else ' ' + ev.short(corr)}){why}", tx,
                                      locked, ids + uniq + marker, ids + (index_key("events.runId", run),) + uniq)
        if u is not None and (self.index.get((CREATION_UNIQUE, u)) or (tx is not None and u in tx.uniques)):
            self._give_back(tx, taken)   # a failed INSERT keeps no key locked (issue 15's 3)
            if tx is not None:
                tx.aborted = True
            note(f"23505 on {CREATION_UNIQUE}")
            raise UniqueViolation(CREATION_UNIQUE, u)
        e = ev.event(event_id or self._next_id(slots and self._read(tx, "slots", run) is not None), run, t, corr, data)
        if self.frontiers is not None:
            self.frontiers.record(self.observed, run, e["eventId"])
        if tx is None:
            self._commit_row("events", e["eventId"], e)
            note(f"committed {ev.describe(e)}")
        else:
            tx.rows[("events", e["eventId"])] = e
            if u is not None:
                tx.uniques.add(u)
        return e

    async def events_of(self, run: str, why: str = "") -> list:
        """SELECT * FROM events WHERE run_id = ? ORDER BY id (events never change once committed)."""
        ik = index_key("events.runId", run)
        await point(f"SELECT events WHERE run_id={_short(run)} ORDER BY id{why}", reads=(ik,))
        return [self.rows.unrecorded()[("events", eid)] for eid in self.index.get(ik[1], ())]

    # ---- transactions -----------------------------------------------------------------------------

    def transaction(self) -> "_TxScope":
        return _TxScope(self)

    @staticmethod
    def new_transaction() -> Transaction:
        return Transaction()

    def crashed(self, tx: Transaction) -> None:
        """Its actor died inside `tx`: here the kernel releases the dead process's locks."""

    async def commit(self, tx: Transaction) -> None:
        if tx.aborted:   # COMMIT of an aborted transaction is a ROLLBACK
            await self.rollback(tx)
            return

        def writes():
            keys = tuple(k for (table, pk), row in tx.rows.items() for k in self._write_keys(table, pk, row))
            return keys + tuple(lock.key for lock in tx.locks) + (
                tuple(index_key(CREATION_UNIQUE, u) for u in tx.uniques))
        await point("COMMIT", writes=writes)
        for (table, pk), row in tx.rows.items():
            self._commit_row(table, pk, row)
            if table == "events" and row is not None:
                note(f"committed {ev.describe(row)}")
        self._release(tx)

    async def rollback(self, tx: Transaction) -> None:
        await point("ROLLBACK", writes=lambda: tuple(lock.key for lock in tx.locks))
        note("rolled back")
        self._release(tx)

    @staticmethod
    def _release(tx: Transaction) -> None:
        for lock in tx.locks:
            lock.owner = lock.tx = None
        tx.locks.clear()

    # ---- what invariants read (no access recorded) ----------------------------------------------

    def peek(self, table: str, pk):
        return self.rows.peek((table, pk))

    def peek_by(self, table: str, col: str, value) -> list:
        return [self.rows.peek((table, pk)) for pk in self.index.peek((f"{table}.{col}", value), ())]

    def peek_table(self, table: str) -> list:
        # row by row through peek: --check-footprints records exactly the rows read
        return [self.rows.peek(k) for k in sorted(k for k in self.rows.unrecorded() if k[0] == table)]

    def peek_log(self, run: str) -> list:
        return [self.rows.peek(("events", eid)) for eid in self.index.peek(("events.runId", run), ())]


class _TxScope:
    """BEGIN ... COMMIT; an exception inside rolls back (and propagates); a crash leaves it to the kernel."""

    def __init__(self, db: Database):
        self.db = db
        self.tx = db.new_transaction()

    async def __aenter__(self) -> Transaction:
        return self.tx

    async def __aexit__(self, exc_type, *_exc):
        if current_actor().crashing:
            self.db.crashed(self.tx)
            return False
        if exc_type is None:
            await self.db.commit(self.tx)
        else:
            await self.db.rollback(self.tx)
        return False


def _plus(keys, more):
    """Two footprints (tuples or callables) as one."""
    if not callable(keys) and not callable(more):
        return tuple(keys) + tuple(more)
    return lambda: tuple(keys() if callable(keys) else keys) + tuple(more() if callable(more) else more)


def _short(x) -> str:
    return ev.short(x) if isinstance(x, str) else str(x)

