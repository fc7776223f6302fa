"""Statement families of issue 15, each case run over every interleaving on the model and on the server.

A case is a few actors, each a list of statements on `Database` (the model's interface, which
the real backend implements too), optionally inside one transaction that commits or rolls back.
Exploring a case with DFS under `--backend model` and under `--backend postgres` gives the set
of outcomes each allows: what every statement returned, in the order the statements returned (so a statement that
finishes inside another's transaction on one side only is an outcome of that side), and what
committed in the end. The sets
must be equal: a statement the server lets through where the model waits (or the reverse)
shows up as an outcome only one side reaches. Crashes are the kernel's: a process dying
mid-transaction (on the server, its connection is killed).
"""
from __future__ import annotations

from dataclasses import dataclass

from models.postgres.backend import DeadlockDetected, database
from models.postgres.db import InFailedTransaction, UniqueViolation
from sim import DFS, Scenario, at_end, backends, explore
from sim.scenario import Faults

TERMINAL = ("completed", "failed", "cancelled")
TABLES = ("runs", "steps", "hooks")
RUN = "r1"


def _open(row) -> bool:
    return row["status"] not in TERMINAL


# ---- statements: (what, args) -> async (db, tx) -> a comparable result ---------------------------

async def _do(db, tx, op):
    what, *args = op
    try:
        if what == "update":       # ("update", table, pk, {col: value}, guarded)
            table, pk, values, guarded = args
            row = await db.update(table, pk, lambda r: values, where=_open if guarded else None, tx=tx)
            return None if row is None else _plain(row)
        if what == "select":       # ("select", table, pk, for_update)
            row = await db.select(args[0], args[1], tx=tx, for_update=args[2])
            return None if row is None else _plain(row)
        if what == "insert":       # ("insert", table, pk, row)
            return await db.insert(args[0], args[1], {**args[2]}, tx=tx) is not None
        if what == "delete":       # ("delete", table, pk): DELETE ... RETURNING
            row = await db.delete(args[0], args[1], tx=tx)
            return None if row is None else _plain(row)
        if what == "event":        # ("event", type, corr): INSERT INTO events (creation index from P1)
            await db.insert_event(RUN, args[0], args[1], tx=tx)
            return "inserted"
    except UniqueViolation:
        return "23505"
    except DeadlockDetected:
        return "40P01"
    except InFailedTransaction:
        return "25P02"
    raise ValueError(what)


def _plain(row: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in row.items()))


class _Rollback(Exception):
    pass


@dataclass(frozen=True)
class Actor:
    ops: tuple
    tx: str | None = None          # None: each statement autocommits; "commit" | "rollback"


@dataclass(frozen=True)
class Case:
    family: str
    name: str
    actors: tuple[Actor, ...]
    seed: tuple = ()                 # (table, pk, row) committed before the start
    events: tuple = ()               # (type, corr) committed before the start
    crashes: int = 0                 # processes may die (each actor is its own process, not restarted)


def scenario(case: Case, seen: set) -> Scenario:
    def setup(k):
        db = database()
        for table, pk, row in case.seed:
            db.seed(table, pk, dict(row))
        for t, corr in case.events:
            db.seed_event(RUN, t, corr)
        history = []   # (actor, result) as each statement returns, (actor, "end") when its transaction ended

        def program(i, a):
            async def run():
                if a.tx is None:
                    for op in a.ops:
                        history.append((i, await _do(db, None, op)))
                    return
                try:
                    async with db.transaction() as tx:
                        for op in a.ops:
                            history.append((i, await _do(db, tx, op)))
                        if a.tx == "rollback":
                            raise _Rollback
                except _Rollback:
                    pass
                history.append((i, "end"))
            return run

        for i, a in enumerate(case.actors):
            k.process(f"p{i}", lambda p, i=i, a=a: p.spawn("main", program(i, a)), restart=False)
        return db, history

    def record(state):
        db, history = state
        rows = tuple((t, tuple(_plain(r) for r in db.peek_table(t))) for t in TABLES)
        log = tuple((e["eventType"], e["correlationId"]) for e in db.peek_log(RUN))
        seen.add((tuple(history), rows, log))

    return Scenario(name=f"conformance-{case.family}-{case.name}", setup=setup,
                    invariants=(at_end("record", record),), faults=Faults(crashes=case.crashes))


def outcomes(case: Case, on: str) -> tuple[set, int]:
    """Every outcome of the case on backend `on`, and the number of interleavings explored."""
    seen: set = set()
    with backends.using(on):
        res = explore(scenario(case, seen), DFS())
    assert res.violation is None, f"{case.name} on {on}: {res.violation}"
    assert res.complete, f"{case.name} on {on}: not explored to the end"
    return seen, res.executions


# ---- the families ----------------------------------------------------------------------------------

RUNNING = ("runs", RUN, {"runId": RUN, "status": "running", "note": ""})
COMPLETED = ("runs", RUN, {"runId": RUN, "status": "completed", "note": ""})
STEP = ("steps", "s1", {"stepId": "s1", "status": "pending"})
HOOK = ("hooks", "h1", {"hookId": "h1", "runId": RUN, "token": "t"})
FAIL = ("update", "runs", RUN, {"status": "failed"}, True)
COMPLETE = ("update", "runs", RUN, {"status": "completed"}, True)
NOTE = ("update", "runs", RUN, {"note": "x"}, False)
LOCK_RUN = ("select", "runs", RUN, True)
READ_RUN = ("select", "runs", RUN, False)
INSERT_STEP = ("insert", "steps", "s1", STEP[2])
CREATE = ("event", "step_created", "c1")

CASES = [
    # guarded UPDATE (issue 15's 1 and 4): the guard on the committed row, the wait, the re-check
    Case("guarded-update", "two-guards-race", (Actor((FAIL,)), Actor((COMPLETE,))), (RUNNING,)),
    Case("guarded-update", "guard-vs-tx-completing", (Actor((COMPLETE, NOTE), "commit"), Actor((FAIL,))), (RUNNING,)),
    Case("guarded-update", "guard-vs-tx-rolled-back", (Actor((COMPLETE,), "rollback"), Actor((FAIL,))), (RUNNING,)),
    Case("guarded-update", "false-guard-vs-lock", (Actor((LOCK_RUN, NOTE), "commit"), Actor((FAIL,))), (COMPLETED,)),
    Case("guarded-update", "unmatched-keeps-no-lock", (Actor((FAIL, READ_RUN), "commit"), Actor((NOTE,))),
         (COMPLETED,)),
    # INSERT ... ON CONFLICT DO NOTHING (issue 15's 2)
    Case("insert-on-conflict", "two-inserters", (Actor((INSERT_STEP,), "commit"), Actor((INSERT_STEP,))), ()),
    Case("insert-on-conflict", "inserter-rolls-back", (Actor((INSERT_STEP,), "rollback"), Actor((INSERT_STEP,))), ()),
    Case("insert-on-conflict", "vs-for-update", (Actor((("select", "steps", "s1", True),), "commit"),
                                                 Actor((INSERT_STEP,))), (STEP,)),
    # unique index on creation events (issue 15's 3): commit and rollback of the first inserter
    Case("unique-index", "commit", (Actor((CREATE,), "commit"), Actor((CREATE,))), ()),
    Case("unique-index", "rollback", (Actor((CREATE,), "rollback"), Actor((CREATE,))), ()),
    Case("unique-index", "both-in-tx", (Actor((NOTE, CREATE), "commit"), Actor((CREATE,), "commit")), (RUNNING,)),
    Case("unique-index", "aborted-tx-commits-nothing", (Actor((NOTE, CREATE, READ_RUN), "commit"), Actor((READ_RUN,))),
         (RUNNING,),
         (("step_created", "c1"),)),
    Case("unique-index", "failed-keeps-no-lock", (Actor((CREATE,), "commit"), Actor((CREATE,))), (),
         (("step_created", "c1"),)),
    # SELECT ... FOR UPDATE
    Case("for-update", "lock-then-update", (Actor((LOCK_RUN, NOTE), "commit"), Actor((LOCK_RUN, FAIL), "commit")),
         (RUNNING,)),
    Case("for-update", "vs-plain-read", (Actor((LOCK_RUN, COMPLETE), "commit"), Actor((READ_RUN,))), (RUNNING,)),
    # DELETE ... RETURNING: exactly one deleter gets the row
    Case("delete-returning", "two-deleters", (Actor((("delete", "hooks", "h1"),)),
                                              Actor((("delete", "hooks", "h1"),))), (HOOK,)),
    Case("delete-returning", "deleter-rolls-back", (Actor((("delete", "hooks", "h1"),), "rollback"),
                                                    Actor((("delete", "hooks", "h1"),))), (HOOK,)),
    # autocommit vs transaction: a reader sees both writes or neither of a transaction, any of autocommits
    Case("autocommit-vs-tx", "tx", (Actor((NOTE, COMPLETE), "commit"), Actor((READ_RUN, READ_RUN))), (RUNNING,)),
    Case("autocommit-vs-tx", "autocommit", (Actor((NOTE, COMPLETE)), Actor((READ_RUN, READ_RUN))), (RUNNING,)),
    # crash = the connection killed mid-transaction: its writes roll back, its locks go
    Case("crash", "mid-transaction", (Actor((COMPLETE, CREATE), "commit"), Actor((FAIL,))), (RUNNING,), crashes=1),
    Case("crash", "holder-of-unique-key", (Actor((NOTE, CREATE), "commit"), Actor((CREATE,))), (RUNNING,), crashes=1),
]
