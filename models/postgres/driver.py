"""One statement at a time per actor on a real PostgreSQL server (issue 15).

Each actor has its own connection (a `Session`). `Driver.run(session, sql)` sends one
statement and then waits until the whole server has settled: every statement in flight
has either finished or is waiting for a lock held by a session that is not running
anything (found with `pg_blocking_pids` on a separate monitoring connection). Then
nothing can change until the caller sends the next statement, so a blocked statement
stays blocked, and the caller's scheduler may run someone else: the outcome is the
same whatever the machine's timing, which is what replaying a schedule needs.

A statement that releases locks (COMMIT, ROLLBACK) lets blocked statements of other
sessions finish during the same settling; `Driver.run` reports them as `released`.
When it releases two waiters of the same lock, PostgreSQL alone picks the winner.

psycopg's async API needs asyncio; this uses its libpq layer (`psycopg.pq`) in
non-blocking mode with `select`, so it runs under any scheduler, sim's included.
"""
from __future__ import annotations

import select
import time
from dataclasses import dataclass, field

SETTLE_TIMEOUT = 10.0     # a statement neither finished nor blocked by then: DriverError
FIRST_WAIT, MAX_WAIT = 0.0005, 0.01   # the poll slice grows from the first to the max (seconds)


class DriverError(RuntimeError):
    """The connection failed, or the server did not settle in time; one line."""


@dataclass(frozen=True)
class Done:
    """A finished statement: its command tag (`UPDATE 1`), its rows as text, or its error."""
    command: str = ""
    rows: tuple = ()
    sqlstate: str | None = None     # e.g. "23505"; None: success
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.sqlstate is None


@dataclass(frozen=True)
class Blocked:
    """A statement waiting for locks held by these sessions (names; `pid N` for a stranger).
    `deadlock`: the waits form a cycle (PostgreSQL would abort one after its deadlock_timeout)."""
    on: tuple[str, ...]
    deadlock: bool = False


@dataclass
class Session:
    """One actor's connection. `outcome` is its last statement's, `Blocked` while it waits."""
    name: str
    pgconn: object
    pid: int
    outcome: Done | Blocked | None = None
    busy: bool = False              # a statement sent and not finished

    def close(self) -> None:
        self.pgconn.finish()


@dataclass(frozen=True)
class Step:
    """What one `Driver.run` did: the sent statement's outcome and the blocked sessions it released
    (their own outcomes are on the sessions). `raced`: two or more sessions waited, directly or
    through each other, on the one that ran, and it woke them: which of them won was PostgreSQL's
    choice, not the caller's (decided from the state before the statement, so it is the same in
    every run; the outcomes may not be)."""
    outcome: Done | Blocked
    released: tuple[str, ...] = field(default=())
    raced: tuple[str, ...] = field(default=())


def _connect(dsn: str):
    from psycopg import pq
    c = pq.PGconn.connect(dsn.encode())
    if c.status != pq.ConnStatus.OK:
        msg = c.get_error_message(encoding="utf-8").strip()   # the text libpq gives, one line
        c.finish()
        raise DriverError(f"cannot connect ({dsn}): {' '.join(msg.split())}")
    return c


class Driver:
    """Sessions on one server and the monitoring connection that sees who waits for whom."""

    def __init__(self, dsn: str, timeout: float = SETTLE_TIMEOUT):
        self.dsn = dsn
        self.timeout = timeout
        self.monitor = _connect(dsn)
        self.sessions: dict[str, Session] = {}

    def session(self, name: str) -> Session:
        if name in self.sessions:
            raise ValueError(f"session {name!r} exists")
        c = _connect(self.dsn)
        c.nonblocking = 1
        s = self.sessions[name] = Session(name, c, c.backend_pid)
        return s

    def close(self) -> None:
        for s in self.sessions.values():
            s.close()
        self.sessions.clear()
        self.monitor.finish()

    def __enter__(self) -> "Driver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- one statement ---------------------------------------------------------------------------

    def run(self, session: Session | str, sql: str) -> Step:
        """Send `sql` (one statement) on the session, settle the server, and say what happened."""
        s = self.sessions[session] if isinstance(session, str) else session
        if s.busy:
            raise DriverError(f"session {s.name} is still waiting: {s.outcome}")
        before = {o.name: o.outcome for o in self.sessions.values() if o.busy}
        behind = self._waiting_behind(s.name)
        s.pgconn.send_query(sql.encode())
        self._flush(s)
        s.busy, s.outcome = True, None
        self.settle()
        return self._step(s, before, behind)

    def settle(self) -> None:
        """Wait until every statement in flight has finished or waits for a lock that only a session
        running nothing can release (so nothing moves until the next statement is sent)."""
        deadline = time.monotonic() + self.timeout
        slice_ = FIRST_WAIT
        while True:
            inflight = [s for s in self.sessions.values() if s.busy]
            for s in inflight:
                self._absorb(s)
            inflight = [s for s in inflight if s.busy]
            if not inflight:
                return
            if slice_ > FIRST_WAIT:     # a statement that finishes at once costs no monitor query
                blockers = self._blockers(inflight)
                if all(blockers[s.pid] for s in inflight):
                    self._mark_blocked(inflight, blockers)
                    return
            if time.monotonic() > deadline:
                raise DriverError(f"statements of {', '.join(s.name for s in inflight)} neither finished nor "
                                  f"waited for a lock within {self.timeout} s")
            select.select([s.pgconn.socket for s in inflight], [], [], slice_)
            slice_ = min(slice_ * 2, MAX_WAIT)

    def cancel(self, session: Session | str) -> Step:
        """Cancel the session's statement (pg_cancel_backend: it fails with 57014, its transaction is
        aborted) and settle; how a caller breaks a deadlock it found (see Blocked.deadlock)."""
        from psycopg import pq
        s = self.sessions[session] if isinstance(session, str) else session
        before = {o.name: o.outcome for o in self.sessions.values() if o.busy and o is not s}
        behind = self._waiting_behind(s.name)
        r = self.monitor.exec_params(b"SELECT pg_cancel_backend($1::int)", [str(s.pid).encode()])
        if r.status != pq.ExecStatus.TUPLES_OK:
            raise DriverError(f"cancel failed: {r.get_error_message(encoding='utf-8').strip()}")
        # the cancel is a signal the backend handles later: until the statement has failed, the server
        # still shows it waiting, and settling would report the cycle unbroken
        deadline = time.monotonic() + self.timeout
        while s.busy:
            self._absorb(s)
            if s.busy:
                if time.monotonic() > deadline:
                    raise DriverError(f"session {s.name}: the cancelled statement did not end within {self.timeout} s")
                select.select([s.pgconn.socket], [], [], MAX_WAIT)
        self.settle()
        return self._step(s, before, behind)

    def kill(self, session: Session | str) -> Step:
        """A crash: terminate the session's backend (its open transaction rolls back, its locks go),
        wait until it is gone, drop the session and settle. The step's outcome is the session's
        statement's outcome before the crash (None if it had none)."""
        from psycopg import pq
        s = self.sessions[session] if isinstance(session, str) else session
        before = {o.name: o.outcome for o in self.sessions.values() if o.busy and o is not s}
        behind = self._waiting_behind(s.name)
        ms = str(int(self.timeout * 1000)).encode()
        r = self.monitor.exec_params(b"SELECT pg_terminate_backend($1::int, $2::bigint)", [str(s.pid).encode(), ms])
        if r.status != pq.ExecStatus.TUPLES_OK or _rows(r) != (("t",),):
            raise DriverError(f"session {s.name}: its backend did not end: {r.get_error_message(encoding='utf-8').strip()}")
        del self.sessions[s.name]
        s.close()
        self.settle()
        return self._step(s, before, behind)

    def _waiting_behind(self, name: str) -> tuple[str, ...]:
        """The sessions blocked on `name`, directly or through other blocked sessions (sorted)."""
        found: list[str] = []
        frontier = [name]
        while frontier:
            holder = frontier.pop()
            for o in self.sessions.values():
                if o.busy and isinstance(o.outcome, Blocked) and holder in o.outcome.on and o.name != name \
                        and o.name not in found:
                    found.append(o.name)
                    frontier.append(o.name)
        return tuple(sorted(found))

    def _step(self, s: Session, before: dict, behind: tuple[str, ...]) -> Step:
        released = tuple(n for n in before if n != s.name and not self.sessions[n].busy)
        return Step(s.outcome, released, self._raced(before, behind))

    def _raced(self, before: dict, behind: tuple[str, ...]) -> tuple[str, ...]:
        woke = any(self.sessions[n].outcome != before.get(n) for n in behind)
        return behind if woke and len(behind) > 1 else ()

    def _flush(self, s: Session) -> None:
        while s.pgconn.flush() != 0:
            select.select([], [s.pgconn.socket], [], MAX_WAIT)

    def _absorb(self, s: Session) -> None:
        """Read what arrived; when the statement is done, collect its result."""
        from psycopg import pq
        pg = s.pgconn
        try:
            pg.consume_input()
        except Exception as e:   # psycopg.OperationalError: the connection is gone
            raise DriverError(f"session {s.name}: {' '.join(str(e).split())}") from None
        if pg.is_busy():
            return
        outcome = Done()
        while (r := pg.get_result()) is not None:
            if r.status == pq.ExecStatus.FATAL_ERROR:
                state = r.error_field(pq.DiagnosticField.SQLSTATE)
                outcome = Done(sqlstate=state.decode() if state else "?",
                               error=r.get_error_message(encoding="utf-8").strip())
            elif outcome.ok:
                outcome = Done(command=(r.command_status or b"").decode(), rows=_rows(r))
        s.outcome, s.busy = outcome, False

    def _blockers(self, inflight: list[Session]) -> dict[int, tuple[int, ...]]:
        from psycopg import pq
        pids = "{" + ",".join(str(s.pid) for s in inflight) + "}"
        r = self.monitor.exec_params(b"SELECT pid, pg_blocking_pids(pid) FROM unnest($1::int[]) AS pid",
                                     [pids.encode()])
        if r.status != pq.ExecStatus.TUPLES_OK:
            raise DriverError(f"monitor query failed: {r.get_error_message(encoding='utf-8').strip()}")
        out = {}
        for pid, arr in _rows(r):
            inner = arr.strip("{}")
            out[int(pid)] = tuple(int(p) for p in inner.split(",")) if inner else ()
        return out

    def _mark_blocked(self, inflight: list[Session], blockers: dict) -> None:
        by_pid = {s.pid: s.name for s in self.sessions.values()}
        waits_for = {s.pid: blockers[s.pid] for s in inflight}
        for s in inflight:
            on = tuple(sorted({by_pid.get(p, f"pid {p}") for p in blockers[s.pid]}))
            s.outcome = Blocked(on, deadlock=_on_cycle(s.pid, waits_for))


def _on_cycle(start: int, waits_for: dict) -> bool:
    """Does following who-waits-for-whom from `start` come back to it?"""
    seen, todo = set(), list(waits_for.get(start, ()))
    while todo:
        p = todo.pop()
        if p == start:
            return True
        if p not in seen:
            seen.add(p)
            todo.extend(waits_for.get(p, ()))
    return False


def _rows(r) -> tuple:
    return tuple(tuple(None if (v := r.get_value(i, j)) is None else v.decode() for j in range(r.nfields))
                 for i in range(r.ntuples))
