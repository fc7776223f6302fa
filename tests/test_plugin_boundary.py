"""The plugin boundary: a model written outside sim/ and models/ (tests/outside_model.py), using only
`import sim` public names, runs under every strategy and engine and registers like ours."""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import sim
from sim import DFS, explore, make_trace, registry
from sim.strategy import make
from tests import outside_model
from tests.outside_model import bank_transfer

ENGINES = ["fast", "trio"]
SOURCE = Path(outside_model.__file__)


def test_outside_model_uses_only_public_sim_names():
    tree = ast.parse(SOURCE.read_text())
    public = set(sim.__all__)
    used = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name == "sim" or not alias.name.startswith(("sim.", "models")), alias.name
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            assert not mod.startswith(("sim.", "models")), f"imports {mod}"
            if mod == "sim":
                assert {a.name for a in node.names} <= public
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sim":
            used.append(node.attr)
    assert used and set(used) <= public, sorted(set(used) - public)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("strategy", ["random", "pct", "dfs"])
def test_the_racy_transfer_is_found_and_replays(strategy, engine):
    scn = bank_transfer(locked=False)
    s = make(strategy, seed=1)
    ex = explore(scn, s, engine=engine, budget=2000)
    assert ex.violation is not None and ex.violation.invariant == "I-TOTAL"
    assert "expected 200" in ex.violation.message
    t = make_trace(scn, ex.tape, strategy=s.describe(), engine=engine, execution=ex.found_at)
    r = sim.replay(t, scenario=scn)
    assert r.same and r.replayed.to_json() == t.to_json()


@pytest.mark.parametrize("engine", ENGINES)
def test_the_locked_transfer_holds_exhaustively(engine):
    ex = explore(bank_transfer(locked=True), DFS(), engine=engine)
    assert ex.ok and ex.complete and ex.executions > 1
    assert ex.bounds().startswith("exhaustive")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_the_locked_transfer_holds_under_sampling(strategy, engine):
    ex = explore(bank_transfer(locked=True), make(strategy, seed=1), engine=engine, budget=300)
    assert ex.ok and ex.executions == 300


def test_lost_updates_both_create_and_destroy_money():
    # without the invariant DFS runs to completion; each teller can overwrite the other's write
    # of A or of B, so some schedules lose money and others make it
    scn = dataclasses.replace(bank_transfer(locked=False), invariants=())
    rec = outside_model.Record(DFS())
    ex = explore(scn, rec)
    totals = {r.state.total() for r in rec.runs}
    assert ex.complete and min(totals) < 200 < max(totals) and 200 in totals


def test_outside_scenarios_register_through_load_module():
    registry.load_module("tests.outside_model")
    names = [s.name for s in registry.all_scenarios()]
    assert "outside-bank" in names and "outside-bank-locked" in names
    assert registry.get("outside-bank") is outside_model.SCENARIOS[0]
    assert "lost-update" in names  # the entry-point scenarios are still there
    registry.load_module("tests.outside_model")  # loading twice is harmless


def test_a_registered_outside_trace_replays_by_name():
    registry.load_module("tests.outside_model")
    scn = registry.get("outside-bank")
    ex = explore(scn, make("random", seed=4))
    t = make_trace(scn, ex.tape, strategy={"name": "random", "seed": 4})
    assert sim.replay(t).same  # found by name, no scenario object passed
