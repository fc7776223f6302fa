"""The real backend (`--backend postgres`, models/postgres/backend.py) under sim's scheduler."""
from __future__ import annotations

import json

import sim
from sim import DFS, backends, registry
from sim import strategy as strategies
from sim.cli import main
from tests.real_postgres.conformance import LOCK_RUN, NOTE, RUNNING, Actor, Case, outcomes

RUN2 = ("runs", "r2", {"runId": "r2", "status": "running", "note": ""})
LOCK_RUN2 = ("select", "runs", "r2", True)


def test_2331_is_found_on_the_server_and_its_trace_replays_on_both_backends(pg_backend):
    s = registry.get("step-2331@postgres:P2")
    with backends.using("postgres"):
        res = sim.explore(s, strategies.make("portfolio", 1), budget=200)
        assert res.violation is not None and res.violation.invariant == "I-S2"
        trace = sim.make_trace(s, res.tape, strategy={"name": "portfolio", "seed": 1})
        assert trace.backend == "postgres" and '"backend": "postgres"' in trace.to_json()
        on_server = sim.replay(trace)
    with backends.using("model"):
        on_model = sim.replay(trace)
    assert on_server.same_verdict and on_model.same_verdict
    assert on_model.replayed.verdict.invariant == "I-S2"


def test_the_transaction_of_p3_stops_2331_on_the_server(pg_backend):
    with backends.using("postgres"):
        res = sim.explore(registry.get("step-2331@postgres:P3"), strategies.make("random", 1), budget=40)
    assert res.violation is None and res.executions == 40


def test_a_crash_kills_the_connection_and_releases_its_locks(pg_backend):
    """P4's step_created transaction dies after its INSERTs: the redelivery's INSERT must not wait for the
    dead connection (it did, as a kernel deadlock, before crashes killed connections)."""
    with backends.using("postgres"):
        res = sim.explore(registry.get("step-create-crash@postgres:P4"), DFS(), budget=60)
    assert res.violation is None and res.crashes > 0


def test_a_wait_for_cycle_is_broken_by_the_driver_with_40P01(pg_backend):
    case = Case("deadlock", "opposite-order", (Actor((LOCK_RUN, LOCK_RUN2), "commit"),
                                               Actor((LOCK_RUN2, LOCK_RUN), "commit")), (RUNNING, RUN2))
    seen, n = outcomes(case, "postgres")
    cancelled = [h for h, _rows, _log in seen if any(r == "40P01" for _a, r in h)]
    assert n > 1 and cancelled, "no interleaving closed the cycle"
    assert all(sum(r == "40P01" for _a, r in h) == 1 for h in cancelled), "exactly one side is cancelled"


def test_a_commit_that_wakes_two_waiters_is_reported_as_the_servers_choice(pg_backend):
    from models.postgres.backend import RACES
    case = Case("race", "two-waiters", (Actor((LOCK_RUN,), "commit"), Actor((NOTE,)), Actor((NOTE,))), (RUNNING,))
    before = RACES[0]
    outcomes(case, "postgres")
    assert RACES[0] > before


def test_cli_records_the_backend_and_replays_on_either(pg_backend, tmp_path, capsys):
    out = tmp_path / "traces"
    rc = main(["explore", "--model", "postgres:P2", "--scenario", "step-2331", "--backend", "postgres",
               "--budget", "200", "--no-shrink", "--out", str(out)])
    assert rc == 1
    [path] = out.glob("*.json")
    assert json.loads(path.read_text())["backend"] == "postgres"
    assert main(["replay", str(path)]) == 1                       # the trace's backend: the server
    assert main(["replay", str(path), "--backend", "model"]) == 1
    assert "backend postgres" in capsys.readouterr().out


def test_cli_refuses_an_unknown_backend(capsys):
    assert main(["explore", "--scenario", "step-2331@postgres:P2", "--backend", "oracle"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
