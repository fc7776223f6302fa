"""world-postgres's `events.create` (domain doc 2.3), one class per revision.

Each revision is a subclass of its predecessor that changes only what its pull
request changed (class attributes name the switches), so a class reads as the
diff upstream merged. A revision is named by its label in 0.2 (P0-P3), or by the
bug its code still has where a label covers several states of the code:

    B12  before #1434: step transitions read the status, check it, then UPDATE unguarded
    P0   guarded UPDATEs; no uniqueness on events (B10, #2039)
    P1   + the partial unique index on creation events (#1878/#2069); a token probe that
         finds the run's own hook writes hook_conflict (B1p)
    P1m  P1 as the released 4.2.0 has it: every event id minted at the top of events.create, before
         any statement (B11's window is then step_completed's call beginning before a late
         step_started's, their UPDATEs in the other order)
    B2   #2295 head 1: own hook -> 409 without looking for the event (B2, postgres)
    P2   merged #2295: own hook -> probe for hook_created; absent -> insert it (repair)
         step_started is still two autocommits (B11, #2331)
    P3   #2714: step_started in one transaction; hook_received locks the run (#2987);
         duplicate run_created -> 409 (#2983)
    B13  P3 + step_created answers 409 when the step row exists (#3081)
    P4   #3575: step_created's row and event in one transaction (the rest of P4 is not modeled)

Numbered comments are the statements of 2.3; every statement is its own autocommit
unless it is inside `async with self.db.transaction()`.
"""
from __future__ import annotations

from models import events as ev
from models.events import (EntityConflictError, HookNotFoundError, RunExpiredError, TooEarlyError,
                           WorkflowRunNotFoundError, WorkflowWorldError)
from models.fence import MintEarly
from models.postgres.db import CREATION_UNIQUE, Database, UniqueViolation, index_key
from sim import keys_where, note, now
from sim.store import Derived

# E3: these events do not read the run first
_NO_RUN_READ = frozenset({ev.RUN_CREATED, ev.STEP_COMPLETED, ev.STEP_RETRYING})


def hook_row(run: str, req: dict) -> dict:
    d = req["eventData"]
    return {"hookId": req["correlationId"], "runId": run, "token": d["token"], "metadata": d.get("metadata"),
            "isWebhook": bool(d.get("isWebhook"))}


def _in_logs(k) -> bool:
    """Event rows and the runId index over them (the list of runs with a log grows with that index)."""
    return (k[0] == "pgi" and k[1][0] == "events.runId") or (k[0] == "pg" and k[1][0] == "events")


class PostgresView:
    """What invariants read of the tables (no access recorded); see models.local.world.LocalView."""
    hook_fields = ("runId", "hookId", "token", "metadata", "isWebhook")   # the row's createdAt is its own now()
    log_reads = keys_where(_in_logs)
    # I-ORPHAN for waits: also every process's key, which a crash writes (a record's writer dies)
    wait_reads = keys_where(lambda k: _in_logs(k) or k[0] == "process" or (k[0] == "pg" and k[1][0] == "waits"))
    entity_reads = keys_where(lambda k: _in_logs(k) or (k[0] == "pg" and k[1][0] == "hooks"))

    def __init__(self, db: Database):
        self.db = db
        # events are insert-only and committed with their runId index entry: the index's version says
        # when a log changed (the event row itself is written untracked, see Database._commit_row)
        self._logs = Derived(db.index)

    def runs(self) -> list:
        return self.db.run_ids

    def log_key(self, run: str) -> tuple:
        return index_key("events.runId", run)

    def log(self, run: str) -> list:
        """The run's events in log order (shared by every caller in one state: do not mutate it)."""
        return self._logs.get(run, lambda: self.db.peek_log(run))

    def run(self, run: str):
        return self.db.peek("runs", run)

    def hook(self, hook: str):
        return self.db.peek("hooks", hook)

    def hooks(self) -> list:
        return self.db.peek_table("hooks")

    def step(self, run: str, corr: str):
        return self.db.peek("steps", corr)

    def steps(self) -> list:
        return self.db.peek_table("steps")

    def waits(self) -> list:
        return self.db.peek_table("waits")

    @property
    def writers(self) -> dict:
        """Ghost: which process incarnation wrote each wait record (models.events.stamp_writer)."""
        return self.db.writers

    def run_ids(self) -> list:
        """Every run with an entity or a log (I-R1 compares the two)."""
        return sorted(set(self.db.run_ids) | {r["runId"] for r in self.db.peek_table("runs")})

    def wait_side_records(self, run: str, corr: str, t: str) -> list:
        """The durable records a wait_created (the row) or wait_completed (the row completed) leaves."""
        row = self.db.peek("waits", f"{run}-{corr}")
        if t == ev.WAIT_CREATED:
            return ["row"] if row is not None else []
        return ["row completed"] if row is not None and row["status"] == "completed" else []

    def hook_side_records(self, run: str, hook: str, token: str) -> list:
        return ["row"] if self.hook(hook) is not None else []

    def step_side_records(self, run: str, corr: str) -> list:
        return ["row"] if self.step(run, corr) is not None else []


class PostgresWorld:
    """The storage of one process: a client of the shared database (it keeps nothing in memory)."""

    revision = "?"
    guarded_updates = True      # #1434: UPDATE ... WHERE status NOT IN terminal
    creation_unique = True      # #1878: workflow_events_entity_creation_unique
    own_hook = "repair"         # same (run, hook) found by the token probe: "conflict" | "409" | "repair"
    step_started_tx = True      # #2714
    hook_received_tx = True     # #2987
    run_created_409 = True      # #2983
    step_created_409 = False    # the versions of #3081: an existing step row -> 409
    step_created_tx = False     # #3575
    queue_dedupe = "pending"    # 2.4: graphile's job_key dedupes against a pending job only (models.queues)
    slot_ids = False            # #3269/#3389: runs created with a slot marker get slot event ids
    run_create_tx = False       # #3656: run row, slot marker and run_created in one transaction
    process_ulids = False       # getEventId(): a shared clock (False) or per-process ULID factories (Database)

    def __init__(self, db: Database):
        self.db = db

    @classmethod
    def storage(cls) -> Database:
        """The schema of this revision (the unique index exists from P1 on), on the backend `--backend`
        selects (the model, or a real server: models.postgres.backend)."""
        from models.postgres.backend import database
        return database(creation_unique=cls.creation_unique, process_ulids=cls.process_ulids)

    view = PostgresView

    @property
    def frontiers(self):
        """Ghost for I-LOG3 (None unless checked): models.events.WriterFrontiers."""
        return self.db.frontiers

    @classmethod
    def seed_run(cls, db: Database, run: str, status: str = "running") -> None:
        db.seed("runs", run, {"runId": run, "status": status})
        cls.seed_event(db, run, ev.RUN_CREATED)
        if status == "running":
            cls.seed_event(db, run, ev.RUN_STARTED)

    @staticmethod
    def seed_event(db: Database, run: str, t: str, corr: str | None = None, data: dict | None = None) -> dict:
        return db.seed_event(run, t, corr, data)

    @staticmethod
    def seed_step(db: Database, run: str, corr: str, name: str, status: str = "pending", attempt: int = 0,
                  **fields) -> None:
        db.seed("steps", corr, {"stepId": corr, "runId": run, "stepName": name, "status": status, "attempt": attempt,
                                **fields})

    @classmethod
    def seed_wait(cls, db: Database, run: str, corr: str, resume_at: int) -> dict:
        """A wait as wait_created left it: its row and its event."""
        db.seed("waits", f"{run}-{corr}", {"waitId": f"{run}-{corr}", "runId": run, "status": "waiting",
                                            "resumeAt": resume_at})
        return cls.seed_event(db, run, ev.WAIT_CREATED, corr, {"resumeAt": resume_at})

    @classmethod
    def seed_hook(cls, db: Database, run: str, hook: str, token: str) -> dict:
        """A hook as hook_created left it: its row and its event."""
        req = {"correlationId": hook, "eventData": {"token": token, "metadata": None, "isWebhook": False}}
        db.seed("hooks", hook, hook_row(run, req))
        return cls.seed_event(db, run, ev.HOOK_CREATED, hook, req["eventData"])

    # ---- the interface the runtime calls ----------------------------------------------------

    async def events_create(self, run: str, req: dict) -> dict:
        t = req["eventType"]
        current = None if t in _NO_RUN_READ else await self.db.select("runs", run)   # prologue
        resilient = t == ev.RUN_STARTED and bool(req.get("eventData"))   # run_started carrying the run input
        if t not in _NO_RUN_READ and current is None and not resilient:
            raise WorkflowRunNotFoundError(f"run {run} not found")
        return await getattr(self, "_" + t)(run, req, current)

    async def events_list(self, run: str, after: str | None = None) -> list:
        """`SELECT ... WHERE run_id = ? [AND id > cursor] ORDER BY id`."""
        log = await self.db.events_of(run)
        if after is not None:
            log = [e for e in log if e["eventId"] > after]
        ev.observe_log(self.db.observed, run, log, page=after is not None)
        return log

    async def runs_get(self, run: str):
        return await self.db.select("runs", run)

    async def active_run_ids(self) -> list:
        """reenqueueActiveRuns: SELECT id FROM runs WHERE status NOT IN terminal, read here as one SELECT
        per run the database knows (the model has no table scan; the list of runs is not recorded)."""
        rows = [await self.db.select("runs", run, why=" (reenqueueActiveRuns)") for run in list(self.db.run_ids)]
        return [r["runId"] for r in rows if r is not None and not ev.is_terminal(r)]

    async def hooks_get_by_token(self, token: str) -> dict:
        rows = await self.db.select_by("hooks", "token", token, limit=1, why=" (getByToken)")
        if not rows:
            raise HookNotFoundError(f"no hook with token {token}")
        return rows[0]

    # ---- the common epilogue --------------------------------------------------------------------

    async def insert_event(self, run, t, corr=None, data=None, tx=None, event_id: str | None = None) -> dict:
        """INSERT the event; 23505 on the creation index -> 409 (the epilogue's catch). `event_id`: an id
        minted earlier (models.fence's mint_early server) instead of getEventId() in the statement."""
        try:
            e = await self.db.insert_event(run, t, corr, data, tx=tx, slots=self.slot_ids, event_id=event_id)
        except UniqueViolation as u:
            if t in ev.CREATION_EVENTS and u.constraint == CREATION_UNIQUE:
                raise EntityConflictError(f"{t} for {ev.short(corr)} already exists (23505)") from None
            raise
        return {"event": e}

    @staticmethod
    def _refuse_child_on_terminal_run(current) -> None:
        if ev.is_terminal(current):
            raise EntityConflictError("run is terminal: no new child entities")

    # ---- runs ---------------------------------------------------------------------------------

    async def _run_created(self, run, req, _current):
        row = {"runId": run, "status": "pending", **req.get("eventData", {})}
        if self.run_create_tx:                                                       # #3656: 1-3 atomic
            async with self.db.transaction() as tx:
                if await self.db.insert("runs", run, row, tx=tx) is None:
                    raise EntityConflictError(f"run {run} already exists")
                await self._slot_marker(run, tx)
                out = await self.insert_event(run, ev.RUN_CREATED, data=req.get("eventData"), tx=tx)
            return {**out, "run": row}
        inserted = await self.db.insert("runs", run, row)                            # 1
        if inserted is None:
            if self.run_created_409:
                raise EntityConflictError(f"run {run} already exists")
            note("run row exists: run_created written again, no run returned (pre-#2983)")
        else:
            await self._slot_marker(run, None)                                       # B28: 1b
        out = await self.insert_event(run, ev.RUN_CREATED, data=req.get("eventData"))   # 2
        return out if inserted is None else {**out, "run": inserted}

    async def _slot_marker(self, run, tx) -> None:
        """B28/P4: the run's slot marker, after which its events get slot ids (#3269/#3389)."""
        if self.slot_ids:
            await self.db.insert("slots", run, {"runId": run}, tx=tx, why=" (slot marker)")

    async def _create_run_resilient(self, run, req):
        """run_started's resilient path: the run does not exist and the request carries its input."""
        row = {"runId": run, "status": "pending", **req["eventData"]}
        if self.run_create_tx:
            async with self.db.transaction() as tx:
                mine = await self.db.insert("runs", run, row, tx=tx, why=" (resilient start)")
                if mine is not None:
                    await self._slot_marker(run, tx)
                    await self.insert_event(run, ev.RUN_CREATED, data=req["eventData"], tx=tx)
        else:
            mine = await self.db.insert("runs", run, row, why=" (resilient start)")           # 1
            if mine is not None:
                note("resilient start: the run row is ours; run_created next")
                await self._slot_marker(run, None)
                await self.insert_event(run, ev.RUN_CREATED, data=req["eventData"])         # 2
        # RETURNING gave our row; none: a concurrent run_created won, read its row
        return mine if mine is not None else await self.db.select("runs", run)

    async def _run_started(self, run, req, current):
        if current is None:
            current = await self._create_run_resilient(run, req)
        if ev.is_terminal(current):
            raise RunExpiredError(f"run {run} is {current['status']}")
        if current["status"] != "running":
            await self.db.update("runs", run, lambda r: {"status": "running", "startedAt": now()})   # 4 unguarded
            await self.insert_event(run, ev.RUN_STARTED)                                            # 5
        row = await self.db.select("runs", run)
        return {"run": row, "events": await self.events_list(run)}   # preloads the whole log

    async def _terminal_run(self, run, req, current):
        t = req["eventType"]
        if ev.is_terminal(current):
            if t == ev.RUN_CANCELLED and current["status"] == "cancelled":
                return await self.insert_event(run, t, data=req.get("eventData"))
            raise EntityConflictError(f"run {run} is already {current['status']}")
        status = ev.RUN_STATUS_OF[t]
        row = await self.db.update("runs", run, lambda r: {"status": status},                     # 1
                                   where=lambda r: r["status"] not in ev.TERMINAL_STATUSES)
        if row is None:
            again = await self.db.select("runs", run)
            if again is None:
                raise WorkflowRunNotFoundError(f"run {run} not found")
            raise EntityConflictError(f"run {run} is already {again['status']}")
        await self.db.delete_by("hooks", "runId", run)                                             # 2
        await self.db.delete_by("waits", "runId", run)
        return await self.insert_event(run, t, data=req.get("eventData"))                          # 3

    _run_completed = _run_failed = _run_cancelled = _terminal_run

    # ---- steps --------------------------------------------------------------------------------

    async def _step_created(self, run, req, current):
        corr = req["correlationId"]
        self._refuse_child_on_terminal_run(current)
        row = {"stepId": corr, "runId": run, "stepName": req["eventData"].get("stepName"), "status": "pending",
               "attempt": 0}
        if self.step_created_tx:
            async with self.db.transaction() as tx:
                return await self._create_step(run, req, row, tx)
        return await self._create_step(run, req, row, None)

    async def _create_step(self, run, req, row, tx):
        corr = req["correlationId"]
        if await self.db.insert("steps", corr, row, tx=tx) is None and self.step_created_409:       # 1
            raise EntityConflictError(f"step {ev.short(corr)} already exists")
        out = await self.insert_event(run, ev.STEP_CREATED, corr, req["eventData"], tx=tx)          # 2
        return {**out, "step": row}

    async def _read_open_step(self, run, corr, current):
        return ev.check_open_step(await self.db.select("steps", corr), corr, run, current)

    async def _no_row_matched(self, corr):
        again = await self.db.select("steps", corr)
        if again is None:
            raise WorkflowWorldError(f"Step not found: {corr}")
        raise EntityConflictError(f"step {ev.short(corr)} is already {again['status']}")

    @staticmethod
    def _open(row) -> bool:
        return row["status"] not in ev.TERMINAL_STATUSES

    @staticmethod
    def _start(row) -> dict:
        return {"status": "running", "attempt": row["attempt"] + 1, "startedAt": row.get("startedAt", now())}

    @staticmethod
    def _started_data(req, row) -> dict:
        """step_started's eventData: what the runtime sent (R2780's ownerMessageId) and the attempt."""
        return {**(req.get("eventData") or {}), "attempt": row["attempt"]}

    async def _step_started(self, run, req, current):
        corr = req["correlationId"]
        step = await self._read_open_step(run, corr, current)                                     # 1
        if self.step_started_tx:
            async with self.db.transaction() as tx:
                if step.get("retryAfter", 0) > now():
                    raise TooEarlyError(step["retryAfter"] - now())
                row = await self.db.update("steps", corr, self._start, where=self._open, tx=tx)
                if row is None:
                    await self._no_row_matched(corr)
                out = await self.insert_event(run, ev.STEP_STARTED, corr, self._started_data(req, row), tx=tx)
            return {**out, "step": row}
        if step.get("retryAfter", 0) > now():                                                     # 2
            raise TooEarlyError(step["retryAfter"] - now())
        row = await self.db.update("steps", corr, self._start,                                   # 3
                                   where=self._open if self.guarded_updates else None)
        if row is None:
            await self._no_row_matched(corr)
        # a late INSERT: another worker may have run the whole step_completed since the UPDATE (#2331)
        out = await self.insert_event(run, ev.STEP_STARTED, corr, self._started_data(req, row))    # 4
        return {**out, "step": row}

    async def _step_terminal(self, run, req, _current):
        t, corr = req["eventType"], req["correlationId"]
        if t == ev.STEP_RETRYING:
            d = req.get("eventData", {})
            changes = lambda r: {"status": "pending", "retryAfter": d.get("retryAfter", 0)}   # noqa: E731
        else:
            status = "completed" if t == ev.STEP_COMPLETED else "failed"
            changes = lambda r: {"status": status}                                           # noqa: E731
        if not self.guarded_updates:   # B12: read, check, then an UPDATE that trusts the check
            await self._read_open_step(run, corr, None)
        row = await self.db.update("steps", corr, changes,                                        # 1
                                   where=self._open if self.guarded_updates else None)
        if row is None:
            await self._no_row_matched(corr)
        out = await self.insert_event(run, t, corr, req.get("eventData"))                         # 2
        return {**out, "step": row}

    _step_completed = _step_failed = _step_retrying = _step_terminal

    # ---- hooks --------------------------------------------------------------------------------

    async def _hook_created(self, run, req, current):
        hook, token = req["correlationId"], req["eventData"]["token"]
        self._refuse_child_on_terminal_run(current)
        existing = await self.db.select_by("hooks", "token", token, limit=1)                      # 1
        row = hook_row(run, req)
        if existing:
            held = existing[0]
            if (held["runId"], held["hookId"]) == (run, hook) and self.own_hook != "conflict":
                if self.own_hook == "409":
                    raise EntityConflictError(f"hook {ev.short(hook)} already exists")
                events = await self.db.events_of(run, " (probe hook_created)")                    # 2'
                if any(e["eventType"] == ev.HOOK_CREATED and e["correlationId"] == hook for e in events):
                    raise EntityConflictError(f"hook {ev.short(hook)} already exists")
                note(f"hook {ev.short(hook)} has a row but no hook_created: repair")
                row = held
            else:                                                                                  # 2
                return await self.insert_event(run, ev.HOOK_CONFLICT, hook,
                                               {"token": token, "conflictingRunId": held["runId"]})
        else:
            await self.db.insert("hooks", hook, row)                                              # 3
        out = await self.insert_event(run, ev.HOOK_CREATED, hook, {                               # 4
            "token": token, "metadata": row["metadata"], "isWebhook": row["isWebhook"]})
        return {**out, "hook": row}

    async def _hook_received(self, run, req, current):
        hook = req["correlationId"]
        if await self.db.select("hooks", hook) is None:                                           # 1
            raise HookNotFoundError(f"hook {hook} not found")
        if not self.hook_received_tx:
            return await self.insert_event(run, ev.HOOK_RECEIVED, hook, req.get("eventData"))     # 2
        async with self.db.transaction() as tx:
            locked = await self.db.select("runs", run, tx=tx, for_update=True)
            if ev.is_terminal(locked):
                raise RunExpiredError(f"run {run} is {locked['status']}")
            out = await self.insert_event(run, ev.HOOK_RECEIVED, hook, req.get("eventData"), tx=tx)
        return out

    async def _hook_disposed(self, run, req, current):
        hook = req["correlationId"]
        if await self.db.select("hooks", hook) is None:                                           # 1
            raise HookNotFoundError(f"hook {hook} not found")
        if await self.db.delete("hooks", hook) is None:                                           # 2
            raise EntityConflictError(f"hook {ev.short(hook)} already disposed")
        return await self.insert_event(run, ev.HOOK_DISPOSED, hook, req.get("eventData"))         # 3

    # ---- waits --------------------------------------------------------------------------------

    async def _wait_created(self, run, req, current):
        corr = req["correlationId"]
        self._refuse_child_on_terminal_run(current)
        row = {"waitId": f"{run}-{corr}", "runId": run, "status": "waiting", "resumeAt": req["eventData"]["resumeAt"]}
        if await self.db.insert("waits", row["waitId"], row) is None:                            # 1
            raise EntityConflictError(f"wait {ev.short(corr)} already created")
        ev.stamp_writer(self.db.writers, (run, ev.WAIT_CREATED, corr))
        return await self.insert_event(run, ev.WAIT_CREATED, corr, req["eventData"])              # 2

    async def _wait_completed(self, run, req, current):
        corr = req["correlationId"]
        wid = f"{run}-{corr}"
        row = await self.db.update("waits", wid, lambda r: {"status": "completed"},               # 1
                                   where=lambda r: r["status"] == "waiting")
        if row is None:
            if await self.db.select("waits", wid) is None:
                raise WorkflowWorldError(f"Wait not found: {corr}")
            raise EntityConflictError(f"wait {ev.short(corr)} already completed")
        ev.stamp_writer(self.db.writers, (run, ev.WAIT_COMPLETED, corr))
        return await self.insert_event(run, ev.WAIT_COMPLETED, corr, req.get("eventData"))        # 2


class B12(PostgresWorld):
    """Before #1434 (and #1878): SELECT status, check, unconditional UPDATE; no uniqueness on events."""
    revision = "B12"
    guarded_updates = False
    creation_unique = False
    own_hook = "conflict"
    step_started_tx = False
    hook_received_tx = False
    run_created_409 = False


class P0(B12):
    """#1434: every step UPDATE guarded by `status NOT IN terminal`. Events still have no uniqueness (#2039)."""
    revision = "P0"
    guarded_updates = True


class P1(P0):
    """#1878/#2069: the partial unique index; a duplicate creation event fails 23505 -> 409."""
    revision = "P1"
    creation_unique = True


class P1m(MintEarly, P1):
    """P1 as @workflow/world-postgres 4.2.0 ships it (a token probe finding the run's own hook still writes
    hook_conflict: #2295 is not in it). `events.create` begins with `const eventId = wevt_${ulid()}`,
    before any statement, where P1 draws it in the INSERT. A late step_started INSERT then still sorts
    below a step_completed whose call began after its own: B11 needs step_completed's call to begin first
    and step_started's UPDATE to land before step_completed's (#2714 moved the mint after the row lock).
    The resilient run_started's run_created takes the early id here, its run_started a fresh one (4.2.0:
    the other way round); no workload on P1m reaches that path."""
    revision = "P1m"


class B2(P1):
    """#2295, first head: the token probe finding our own hook answers 409 without looking at the log."""
    revision = "B2"
    own_hook = "409"


class P2(B2):
    """#2295 merged: own hook -> probe for hook_created; present -> 409, absent -> insert it (repair)."""
    revision = "P2"
    own_hook = "repair"


class P3(P2):
    """#2714 (step_started in one transaction), #2987 (hook_received locks the run row), #2983."""
    revision = "P3"
    step_started_tx = True
    hook_received_tx = True
    run_created_409 = True


class B13(P3):
    """The versions of #3081: step_created answers 409 when the step row exists, row and event still
    two autocommits."""
    revision = "B13"
    step_created_409 = True


class B28(B13):
    """#3575: step_created's row and event in one transaction (a crash between them rolls both back);
    slot event ids (#3269/#3389) for runs with a slot marker; run creation still three autocommits (run
    row, slot marker, run_created: #3656), in start() and in run_started's resilient path."""
    revision = "B28"
    step_created_tx = True
    slot_ids = True


class P4(B28):
    """#3656: the run row, its slot marker and run_created in one transaction. Model: seeded runs have
    no slot marker (created before slots), so the other workloads see P4 as #3575 alone."""
    revision = "P4"
    run_create_tx = True


class B33(P4):
    """#3465 (closed): the queue's idempotency key claim outlives its message. A handler's {timeoutSeconds}
    re-adds its step message under the same key while the job is still held, the claim dedupes it
    away, the job completes: the step is never dispatched again (every later re-dispatch is deduped too).
    Storage is P4's; only the queue differs (models.queues)."""
    revision = "B33"
    queue_dedupe = "ever"


REVISIONS = {cls.revision: cls for cls in (B12, P0, P1, P1m, B2, P2, P3, B13, B28, P4, B33)}
