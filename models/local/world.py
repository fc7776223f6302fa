"""world-local's `events.create` (domain doc 2.2), common to every hook revision.

One `LocalWorld` is the storage instance of one simulated process, over the data
directory every process shares. This module holds the prologue/epilogue of
2.2.1 and the run, step and wait algorithms (2.2.2-2.2.6, 2.2.8) as they stood at
L1. Hook creation, receipt and disposal differ between the review rounds of #2295
and live in `models.local.hooks`, one class per revision.
"""
from __future__ import annotations

from models import events as ev
from models.events import (EntityConflictError, HookNotFoundError, RunExpiredError, TooEarlyError,
                           WorkflowRunNotFoundError, WorkflowWorldError)
from models.local.fs import DataDir, instance_mutex
from sim import backends, keys_where, note, now, point
from sim.store import Derived

# E3: these events do not read the run first
_NO_RUN_READ = frozenset({ev.RUN_CREATED, ev.STEP_COMPLETED, ev.STEP_RETRYING})


# ---- layout (2.2) -------------------------------------------------------------------------

def run_path(run): return f"runs/{run}"
def step_path(run, corr): return f"steps/{run}-{corr}"
def wait_path(run, corr): return f"waits/{run}-{corr}"
def hook_path(hook): return f"hooks/{hook}"
def events_dir(run): return f"events/{run}"
def event_path(run, eid): return f"events/{run}/{eid}"
def claim_path(token): return f"hooks/tokens/{token}"
def lock_path(kind, name, what): return f".locks/{kind}/{name}.{what}"


def _in_logs(k) -> bool:
    """The listing of `events`, each run's event listing and its event files."""
    return k[0] in ("dir", "fs") and (k[1] == "events" or k[1].startswith("events/"))


def _is_hook(k) -> bool:
    """The listing of `hooks` and the files directly in it (the token claims are one level down)."""
    return (k[0] == "dir" and k[1] == "hooks") or (k[0] == "fs" and k[1].startswith("hooks/") and k[1].count("/") == 1)


class LocalView:
    """What invariants read of the data directory (without recording accesses): the same questions
    `models.postgres.world.PostgresView` answers about the tables. `log_reads` and `entity_reads`
    are the footprint keys `runs`+`log` and those plus `hooks` read (for invariants' `reads`)."""
    hook_fields = ("runId", "hookId", "token", "metadata", "isWebhook", "createdAt")
    log_reads = keys_where(_in_logs)
    # I-ORPHAN for waits: also every process's key, which a crash writes (a record's writer dies)
    wait_reads = keys_where(lambda k: _in_logs(k) or k[0] == "process" or (k[0] in ("dir", "fs") and (
        k[1] in ("waits", ".locks/waits") or k[1].startswith(("waits/", ".locks/waits/")))))
    entity_reads = keys_where(lambda k: _in_logs(k) or _is_hook(k))

    def __init__(self, fs: DataDir):
        self.fs = fs
        self._logs = Derived(fs.files, fs.dirs)

    def runs(self) -> tuple:
        return self.fs.dirs.peek("events", ())

    def log_key(self, run: str) -> tuple:
        """The footprint key that changes whenever the run's log does."""
        return self.fs.dkey(events_dir(run))

    def log(self, run: str) -> list:
        """The run's events in log order (shared by every caller in one state: do not mutate it)."""
        return self._logs.get(run, lambda: self._read_log(run))

    def _read_log(self, run: str) -> list:
        names = self.fs.dirs.peek(events_dir(run), ())
        return sorted((self.fs.files.peek(f"{events_dir(run)}/{n}") for n in names), key=ev.log_order)

    def run(self, run: str):
        return self.fs.files.peek(run_path(run))

    def hook(self, hook: str):
        return self.fs.files.peek(hook_path(hook))

    def hooks(self) -> list:
        return [h for h in (self.fs.files.peek(f"hooks/{n}") for n in self.fs.dirs.peek("hooks", ())) if h]

    def step(self, run: str, corr: str):
        return self.fs.files.peek(step_path(run, corr))

    def steps(self) -> list:
        return [s for s in (self.fs.files.peek(f"steps/{n}") for n in self.fs.dirs.peek("steps", ())) if s]

    def waits(self) -> list:
        return [w for w in (self.fs.files.peek(f"waits/{n}") for n in self.fs.dirs.peek("waits", ())) if w]

    @property
    def writers(self) -> dict:
        """Ghost: which process incarnation wrote each wait record (models.events.stamp_writer)."""
        return self.fs.writers

    def run_ids(self) -> list:
        """Every run with an entity or a log (I-R1 compares the two)."""
        entities = [n for n in self.fs.dirs.peek("runs", ())]
        return sorted(set(self.runs()) | set(entities))

    def wait_side_records(self, run: str, corr: str, t: str) -> list:
        """The durable records a wait_created (created lock, entity) or wait_completed (completed lock,
        entity completed) leaves besides its event."""
        name, entity = f"{run}-{corr}", self.fs.files.peek(wait_path(run, corr))
        if t == ev.WAIT_CREATED:
            return [what for what, rec in (("created lock", self.fs.files.peek(lock_path("waits", name, "created"))),
                                            ("entity", entity)) if rec is not None]
        return [what for what, rec in (("completed lock", self.fs.files.peek(lock_path("waits", name, "completed"))),
                                        ("entity completed", entity if entity and entity["status"] == "completed"
                                         else None)) if rec is not None]

    def hook_side_records(self, run: str, hook: str, token: str) -> list:
        """The durable records of a hook creation besides its event: the token claim (if it names
        this hook) and the entity."""
        claim = self.fs.files.peek(claim_path(token))
        mine = claim is not None and (claim.get("runId"), claim.get("hookId")) == (run, hook)
        return [what for what, rec in (("claim", claim if mine else None), ("entity", self.hook(hook))) if rec]

    def step_side_records(self, run: str, corr: str) -> list:
        return [what for what, rec in (("created lock", self.fs.files.peek(lock_path("steps", f"{run}-{corr}", "created"))),
                                        ("entity", self.step(run, corr))) if rec is not None]


class LocalWorld:
    """Storage instance of one process. Subclasses are the hook revisions (models.local.hooks)."""

    revision = "?"
    in_process_queue = True    # 2.4: one in-memory queue per process (models.queues)
    process_ulids = False      # E2: see mint()
    publish_exclusive = True   # E6: XCREATE the event file (L0: the racy no-overwrite write)
    hook_mutex = True          # E1: hook_created under hookLocks[(run, hook)]
    complete_ended_waits = False   # #3749: wait_completed of a terminal run whose wait entity is gone
    step_mutex = True          # E1: step events under stepLocks[(run, corr)]

    def __init__(self, fs: DataDir):
        self.fs = fs

    @classmethod
    def storage(cls) -> DataDir:
        """The durable state every process's instance shares (a scenario makes one per execution): the
        model, or with `--backend fs` a fresh real directory (models.local.realfs)."""
        if backends.current() == "fs":
            from models.local.realfs import RealDataDir
            return RealDataDir()
        return DataDir()

    view = LocalView

    @property
    def frontiers(self):
        """Ghost for I-LOG3 (None unless checked): models.events.WriterFrontiers."""
        return self.fs.frontiers

    @classmethod
    def seed_run(cls, fs: DataDir, run: str, status: str = "running") -> None:
        """A run that start() created (run_created) and, unless pending, a delivery started."""
        fs.seed(run_path(run), {"runId": run, "status": status})
        cls.seed_event(fs, run, ev.RUN_CREATED)
        if status == "running":
            cls.seed_event(fs, run, ev.RUN_STARTED)

    @staticmethod
    def seed_event(fs: DataDir, run: str, t: str, corr: str | None = None, data: dict | None = None) -> dict:
        eid = fs.seed_event_id()
        e = ev.event(eid, run, t, corr, data)
        fs.seed(event_path(run, eid), e)
        return e

    @classmethod
    def seed_wait(cls, fs: DataDir, run: str, corr: str, resume_at: int) -> dict:
        """A wait as wait_created left it: its created lock, its entity and its event."""
        fs.seed(lock_path("waits", f"{run}-{corr}", "created"), {})
        fs.seed(wait_path(run, corr), {"runId": run, "waitId": f"{run}-{corr}", "status": "waiting",
                                       "resumeAt": resume_at})
        return cls.seed_event(fs, run, ev.WAIT_CREATED, corr, {"resumeAt": resume_at})

    @classmethod
    def seed_hook(cls, fs: DataDir, run: str, hook: str, token: str) -> dict:
        """A hook as L1's hook_created left it: its event, its token claim (with the event's id) and its entity."""
        e = cls.seed_event(fs, run, ev.HOOK_CREATED, hook, {"token": token, "metadata": None, "isWebhook": False})
        fs.seed(claim_path(token), {"token": token, "hookId": hook, "runId": run, "eventId": e["eventId"]})
        fs.seed(hook_path(hook), {"runId": run, "hookId": hook, "token": token, "metadata": None, "isWebhook": False,
                                  "createdAt": e["createdAt"]})
        return e

    @staticmethod
    def seed_step(fs: DataDir, run: str, corr: str, name: str, status: str = "pending", attempt: int = 0,
                  **fields) -> None:
        """A step entity as step_created (and `attempt` step_started) left it, with its created lock."""
        fs.seed(lock_path("steps", f"{run}-{corr}", "created"), {})
        fs.seed(step_path(run, corr), {"runId": run, "stepId": corr, "stepName": name, "status": status,
                                       "attempt": attempt, **fields})

    # ---- the interface the runtime calls ----------------------------------------------------

    async def events_create(self, run: str, req: dict) -> dict:
        t = req["eventType"]
        corr = req.get("correlationId")
        lock = None
        if t.startswith("step_") and self.step_mutex:
            lock = instance_mutex("stepLocks", f"{run}-{corr}")
        elif t == ev.HOOK_CREATED and self.hook_mutex:
            lock = instance_mutex("hookLocks", f"{run}-{corr}")
        if lock is None:
            return await self._create(run, req)
        async with lock:
            return await self._create(run, req)

    async def events_list(self, run: str, after: str | None = None) -> list:
        """All of the run's events in log order: one directory snapshot (events never change). `after`:
        a cursor page (2.2.9), only the events whose key (createdAt, eventId) is above the cursor's."""
        log = sorted(await self.fs.scan(events_dir(run), immutable=True), key=ev.log_order)
        if after is not None:
            cursor = (ev.created_at_of(after), after)
            log = [e for e in log if ev.log_order(e) > cursor]
        ev.observe_log(self.fs.observed, run, log, page=after is not None)
        return log

    async def runs_get(self, run: str):
        return await self.fs.read(run_path(run))

    async def active_run_ids(self) -> list:
        """The world's start: SCAN runs/ for the runs that are not terminal (to re-enqueue them)."""
        return [r["runId"] for r in await self.fs.scan("runs", " (reenqueue)") if not ev.is_terminal(r)]

    async def hooks_get_by_token(self, token: str) -> dict:
        """SCAN hooks/ for the entity holding `token` (resumeHook's lookup); revisions add a rebuild."""
        for hook in await self.fs.scan("hooks", " (getByToken)"):
            if hook.get("token") == token:
                return hook
        raise HookNotFoundError(f"no hook with token {token}")

    # ---- 2.2.1 ----------------------------------------------------------------------------

    async def _create(self, run: str, req: dict) -> dict:
        t = req["eventType"]
        eid = await self.mint()                                   # E2: the sort key is fixed here
        if self.fs.frontiers is not None:
            self.fs.frontiers.record(self.fs.observed, run, eid)
        current = None if t in _NO_RUN_READ else await self.fs.read(run_path(run))   # E3
        resilient = t == ev.RUN_STARTED and bool(req.get("eventData"))   # run_started carrying the run input
        if t != ev.RUN_CREATED and t not in _NO_RUN_READ and current is None and not resilient:
            raise WorkflowRunNotFoundError(f"run {run} not found")
        handler = getattr(self, "_" + t)
        return await handler(run, req, eid, current)

    async def mint(self) -> str:
        """E2. By default ids are minted at distinct instants, so they order by mint: the order
        is a shared clock (every writer's clock agrees and no two mints share a millisecond), and
        minting is a step that every other mint depends on. With `process_ulids` (the `u`
        revisions), each process mints from its own monotonic ULID factory on the machine's clock,
        and a mint may fall in the millisecond of the mint before it, where ids of two processes
        order as the tape says (section 1.1; `models.events.mint_process_ulid`).

        The factory is process-wide (1.1): world-local serves one app from one server process, in
        which every simulated process of a scenario (a worker, a resumeHook caller) is a world instance
        with its own queue and mutexes (2.2's tagged instances), so they share one factory and their ids
        are monotonic, as the plain revision's. A workload whose processes are separate OS processes
        on one data directory says so (`DataDir.separate_os_processes`): one factory each."""
        clock = self.fs.clock
        key = clock.key("wall" if self.process_ulids else "ids")
        await point("E2 mint eventId", reads=(key,), writes=(key,))
        if self.process_ulids:
            return ev.mint_process_ulid(clock, one_factory=not self.fs.separate_os_processes)
        seq = clock["ids"] + 1
        clock["ids"] = seq
        return ev.event_id_at(now(), seq)

    async def publish(self, run: str, e: dict) -> bool:
        """E6: make the event visible; False when its path already exists."""
        path = event_path(run, e["eventId"])
        if self.publish_exclusive:
            ok = await self.fs.xcreate(path, e, f" ({e['eventType']})")
        else:
            try:
                await self.fs.put_nx_racy(path, e, f" ({e['eventType']})")
                ok = True
            except EntityConflictError:
                ok = False
        if ok:
            note(f"published {ev.describe(e)}")
        return ok

    async def _publish_or_409(self, run, e) -> dict:
        if not await self.publish(run, e):
            raise EntityConflictError(f"event {e['eventId']} already published")
        return {"event": e}

    @staticmethod
    def _refuse_child_on_terminal_run(current) -> None:
        if ev.is_terminal(current):
            raise EntityConflictError("run is terminal: no new child entities")

    # ---- 2.2.2 runs -----------------------------------------------------------------------

    async def _run_created(self, run, req, eid, _current):
        entity = {"runId": run, "status": "pending", **req.get("eventData", {})}
        if not await self.fs.xcreate(run_path(run), entity):                             # 1
            raise EntityConflictError(f"run {run} already exists")
        # ✂ the run exists without run_created: a later run_started succeeds, the log lacks it
        out = await self._publish_or_409(run, ev.event(eid, run, ev.RUN_CREATED, data=req.get("eventData")))
        return {**out, "run": entity}                                                    # 2

    async def _create_run_resilient(self, run, req):
        """run_started's resilient path (2a, 2b): the run does not exist and the request carries its input."""
        entity = {"runId": run, "status": "pending", **req["eventData"]}
        if not await self.fs.xcreate(run_path(run), entity, " (resilient start)"):      # 2a
            return await self.fs.read(run_path(run))   # a concurrent run_created won
        # ✂ between 2a and 2b; the fresh eventId is minted after run_started's own (E2)
        e = ev.event(await self.mint(), run, ev.RUN_CREATED, data=req["eventData"])
        await self.fs.put_nx_racy(event_path(run, e["eventId"]), e, " (run_created)")   # 2b
        note(f"published {ev.describe(e)}")
        return entity

    async def _run_started(self, run, req, eid, current):
        if current is None:
            current = await self._create_run_resilient(run, req)
        if ev.is_terminal(current):
            raise RunExpiredError(f"run {run} is {current['status']}")
        if current["status"] == "running":
            return {"run": current, "events": await self.events_list(run)}   # idempotent: no event
        async with instance_mutex("runLocks", run):                          # MUTEX_P(runId)
            fresh = await self.fs.read(run_path(run))
            entity = {**fresh, "status": "running", "startedAt": fresh.get("startedAt", ev.created_at_of(eid))}
            await self.fs.put(run_path(run), entity)
        await self._publish_or_409(run, ev.event(eid, run, ev.RUN_STARTED))
        return {"run": entity, "events": await self.events_list(run)}       # E8: preload after the write

    async def _terminal_run(self, run, req, eid, current):
        t = req["eventType"]
        if ev.is_terminal(current):
            if t == ev.RUN_CANCELLED and current["status"] == "cancelled":
                return await self._publish_or_409(run, ev.event(eid, run, t))
            raise EntityConflictError(f"run {run} is already {current['status']}")
        async with instance_mutex("runLocks", run):
            fresh = await self.fs.read(run_path(run))
            entity = {**fresh, "status": ev.RUN_STATUS_OF[t], "completedAt": ev.created_at_of(eid)}
            await self.fs.put(run_path(run), entity)
        await self.delete_all_hooks_for_run(run)
        await self.delete_all_waits_for_run(run)
        return await self._publish_or_409(run, ev.event(eid, run, t, data=req.get("eventData")))

    _run_completed = _run_failed = _run_cancelled = _terminal_run

    async def delete_all_waits_for_run(self, run):
        for name in await self.fs.listdir("waits"):
            if name.startswith(f"{run}-"):
                await self.fs.delete(f"waits/{name}")

    # ---- 2.2.3-2.2.5 steps ----------------------------------------------------------------

    async def _step_created(self, run, req, eid, current):
        corr = req["correlationId"]
        self._refuse_child_on_terminal_run(current)
        if not await self.fs.xcreate(lock_path("steps", f"{run}-{corr}", "created"), {}):
            raise EntityConflictError(f"step {corr} already created")
        step = {"runId": run, "stepId": corr, "stepName": req["eventData"].get("stepName"), "status": "pending",
                "attempt": 0}
        await self.fs.put_nx_racy(step_path(run, corr), step)
        return await self._publish_or_409(run, ev.event(eid, run, ev.STEP_CREATED, corr, req["eventData"]))

    async def _read_open_step(self, run, corr, current):
        return ev.check_open_step(await self.fs.read(step_path(run, corr)), corr, run, current)

    async def _step_started(self, run, req, eid, current):
        corr = req["correlationId"]
        step = await self._read_open_step(run, corr, current)                      # 2
        if step.get("retryAfter") is not None and step["retryAfter"] > now():      # 3
            raise TooEarlyError(step["retryAfter"] - now())
        fresh = await self.fs.read(step_path(run, corr))     # 4: narrows, does not close, the cross-process window
        if ev.is_terminal(fresh):
            raise EntityConflictError(f"step {ev.short(corr)} is already {fresh['status']}")
        step = {**fresh, "status": "running", "attempt": fresh["attempt"] + 1, "retryAfter": None}   # 5
        await self.fs.put(step_path(run, corr), step)
        out = await self._publish_or_409(run, ev.event(eid, run, ev.STEP_STARTED, corr,
                                                          {**(req.get("eventData") or {}), "attempt": step["attempt"]}))
        return {**out, "step": step}

    async def _step_terminal(self, run, req, eid, current):
        t, corr = req["eventType"], req["correlationId"]
        step = await self._read_open_step(run, corr, current)
        if not await self.fs.xcreate(lock_path("steps", f"{run}-{corr}", "terminal"), {}):
            raise EntityConflictError(f"step {corr} already terminal")
        status = "completed" if t == ev.STEP_COMPLETED else "failed"
        await self.fs.put(step_path(run, corr), {**step, "status": status})
        return await self._publish_or_409(run, ev.event(eid, run, t, corr, req.get("eventData")))

    _step_completed = _step_failed = _step_terminal

    async def _step_retrying(self, run, req, eid, _current):
        """2.2.5: no lock file (the step goes back to pending); read (terminal -> 409), PUT, publish."""
        corr = req["correlationId"]
        step = await self._read_open_step(run, corr, None)
        d = req.get("eventData", {})
        await self.fs.put(step_path(run, corr), {**step, "status": "pending", "error": d.get("error"),
                                                 "retryAfter": d.get("retryAfter")})
        return await self._publish_or_409(run, ev.event(eid, run, ev.STEP_RETRYING, corr, d))

    # ---- 2.2.6 waits ----------------------------------------------------------------------

    async def _wait_created(self, run, req, eid, current):
        corr = req["correlationId"]
        self._refuse_child_on_terminal_run(current)
        if not await self.fs.xcreate(lock_path("waits", f"{run}-{corr}", "created"), {}):
            raise EntityConflictError(f"wait {corr} already created")
        ev.stamp_writer(self.fs.writers, (run, ev.WAIT_CREATED, corr))
        wait = {"runId": run, "waitId": f"{run}-{corr}", "status": "waiting",
                "resumeAt": req["eventData"]["resumeAt"]}
        await self.fs.put_nx_racy(wait_path(run, corr), wait)
        return await self._publish_or_409(run, ev.event(eid, run, ev.WAIT_CREATED, corr, req["eventData"]))

    async def _wait_completed(self, run, req, eid, current):
        corr = req["correlationId"]
        lock = lock_path("waits", f"{run}-{corr}", "completed")
        if not await self.fs.xcreate(lock, {}):
            raise EntityConflictError(f"wait {corr} already completed")
        ev.stamp_writer(self.fs.writers, (run, ev.WAIT_COMPLETED, corr))
        wait = await self.fs.read(wait_path(run, corr))
        if wait is None:
            # the termination deleted it. The prologue's read of the run may predate that termination (a
            # second delivery in flight in this process ended the run meanwhile): the sketch of #3749's world
            # side re-reads the run before it answers "Wait not found"
            if self.complete_ended_waits and (ev.is_terminal(current) or ev.is_terminal(await self.fs.read(run_path(run)))):
                return await self._publish_or_409(run, ev.event(eid, run, ev.WAIT_COMPLETED, corr, req.get("eventData")))
            await self.fs.delete(lock)
            raise WorkflowWorldError(f"Wait not found: {corr}")
        await self.fs.put(wait_path(run, corr), {**wait, "status": "completed"})
        return await self._publish_or_409(run, ev.event(eid, run, ev.WAIT_COMPLETED, corr, req.get("eventData")))

    # ---- 2.2.7 hooks: receipt and disposal (L1); creation is per revision -------------------

    async def _hook_received(self, run, req, eid, current):
        corr = req["correlationId"]
        if await self.fs.read(hook_path(corr)) is None:
            raise HookNotFoundError(f"hook {corr} not found")
        return await self._publish_or_409(run, ev.event(eid, run, ev.HOOK_RECEIVED, corr, req.get("eventData")))

    async def _hook_disposed(self, run, req, eid, current):
        corr = req["correlationId"]
        if await self.fs.read(hook_path(corr)) is None:
            raise HookNotFoundError(f"hook {corr} not found")
        if not await self.fs.xcreate(lock_path("hooks", corr, "disposed"), {}):
            raise EntityConflictError(f"hook {corr} already disposed")
        hook = await self.fs.read(hook_path(corr))
        if hook is not None:
            await self.release_token(run, corr, hook["token"])
        await self.fs.delete(hook_path(corr))
        return await self._publish_or_409(run, ev.event(eid, run, ev.HOOK_DISPOSED, corr, req.get("eventData")))

    async def delete_all_hooks_for_run(self, run):
        for name in await self.fs.listdir("hooks"):
            hook = await self.fs.read(f"hooks/{name}")
            if hook is not None and hook.get("runId") == run:
                await self.release_token(run, hook["hookId"], hook["token"])
                await self.fs.delete(hook_path(hook["hookId"]))

    async def release_token(self, run, hook, token):
        """What disposal and run termination delete besides the entity (revisions add the marker)."""
        await self.fs.delete(claim_path(token))

    async def _hook_created(self, run, req, eid, current):
        raise NotImplementedError
