"""The released @workflow/world-postgres under sim's scheduler (models/npm/pgworld.py): the statement
gate, lock waits seen on the server, verdicts on #2331's workload.

These need Node and npm (the pinned versions install themselves on first use) and the session's
server. Outside CI they are skipped when `node` is missing; in CI they fail instead.
"""
from __future__ import annotations

import os
import shutil

import pytest

import sim
from models.npm.pgworld import database, label, read_only
from models.npm.workers import pool
from sim import registry
from sim.strategy import make as make_strategy

IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
needs_node = pytest.mark.skipif(shutil.which("node") is None and not IN_CI, reason="Node.js is not installed")
LATEST = "4.3.7"
NOW = 1_700_000_000_000


def test_statement_labels_and_read_only():
    assert label('insert into "workflow"."workflow_events" ("id") values ($1)') == "insert workflow_events"
    assert label("begin") == "begin"
    assert label('select "status" from "workflow"."workflow_steps" where x for update') == \
        "select workflow_steps for update"
    assert read_only('select "id" from "workflow"."workflow_runs"')
    assert not read_only('select "id" from "workflow"."workflow_runs" for update')
    assert not read_only('update "workflow"."workflow_steps" set x = 1')


def _drain(w, call: int) -> None:
    while call not in w.done:
        assert w.pending, f"call {call} stuck: {w.inflight}"
        w.send({"cmd": "go", "op": w.pending[0]["op"]})


def _call(w, method: str, *args) -> int:
    w.calls += 1
    w.send({"cmd": "call", "call": w.calls, "method": method, "args": list(args), "now": NOW})
    return w.calls


@needs_node
def test_every_statement_waits_at_the_gate_and_a_lock_wait_is_seen(pg_backend):
    db = database(LATEST)
    db.reset()
    p = pool(LATEST, "postgres")
    a, b = p.take(), p.take()
    try:
        for seed, w in enumerate((a, b)):
            w.pending, w.done, w.calls = [], {}, 0
            w.send({"cmd": "reset", "db": db.config, "seed": seed, "now": NOW})
        run = "wrun_01HF7YAT004K56Q5QJ4DGRFHX3"
        c = _call(a, "events.create", run, {"eventType": "run_created", "eventData": {
            "deploymentId": "d", "workflowName": "w", "input": []}})
        # nothing reached the server: the first statement (BEGIN) waits at the gate
        assert [op["sql"] for op in a.pending] == ["begin"]
        assert db.query("SELECT count(*) FROM workflow.workflow_runs") == (("0",),)
        _drain(a, c)
        assert a.done[c]["ok"] and db.query("SELECT count(*) FROM workflow.workflow_runs") == (("1",),)
        for t in ("run_started", "step_created"):
            extra = {"correlationId": "step_1", "eventData": {"stepName": "s", "input": []}} if t == "step_created" else {}
            _drain(a, _call(a, "events.create", run, {"eventType": t, **extra}))
        # A's step_started takes the step row lock (BEGIN, then its guarded UPDATE) and stops there
        c1 = _call(a, "events.create", run, {"eventType": "step_started", "correlationId": "step_1"})
        while not a.pending[0]["sql"].lower().startswith("update"):
            a.send({"cmd": "go", "op": a.pending[0]["op"]})
        a.send({"cmd": "go", "op": a.pending[0]["op"]})
        # B's step_completed: its guarded UPDATE of the same row is sent, and the server makes it wait
        c2 = _call(b, "events.create", run, {"eventType": "step_completed", "correlationId": "step_1",
                                             "eventData": {"result": 1}})
        while not b.inflight:
            assert b.pending, b.done
            b.send({"cmd": "go", "op": b.pending[0]["op"]})
        assert b.inflight[0]["call"] == c2 and set(b.inflight[0]["blockers"]) <= set(a.pids)
        assert b.inflight[0]["blockers"], b.inflight
        # A commits: B's statement finishes on its next settle, and B runs to its end
        _drain(a, c1)
        b.send({"cmd": "settle"})
        assert not b.inflight
        _drain(b, c2)
        assert b.done[c2]["ok"], b.done[c2]
    finally:
        for w in (a, b):
            w.send({"cmd": "drop"})
            p.give_back(w)


@needs_node
def test_the_latest_release_holds_on_2331_sampled(pg_backend):
    sc = registry.get(f"step-2331@postgres-npm:{LATEST}")
    assert sc.revision == f"world-postgres@{LATEST}" and sc.expect == "hold"
    res = sim.explore(sc, make_strategy("random", 1), budget=4)
    assert res.violation is None and res.executions == 4
