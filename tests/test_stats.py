"""Exploration statistics: they observe without steering, and count what can be counted by hand."""
from __future__ import annotations

import os
import subprocess
import sys

import sim
from sim import cli, registry
from sim.stats import Observed
from sim.strategy import make
from sim.strategy.dfs import DFS


def test_observing_changes_no_answer():
    s = registry.get("hook-pairs@local:B3")
    plain = sim.explore(s, make("portfolio", seed=2), budget=300)
    seen = sim.explore(s, make("portfolio", seed=2), budget=300, stats=True)
    assert (plain.found_at, plain.tape, plain.steps, plain.decisions) == \
        (seen.found_at, seen.tape, seen.steps, seen.decisions)
    assert plain.points is None and seen.points is not None


def test_exhaustive_counts_match_the_hand_count():
    # exclusive-create claim: whichever worker creates the claim publishes; the other stops at the
    # claim. Two terminal states (w1 or w2 won), and each worker steps from the same 3 points
    res = sim.explore(registry.get("claim-publish-xcreate"), DFS(), stats=True)
    assert res.complete
    assert res.terminal_states == 2
    assert res.points == 2 * len(("xcreate claim", "scan events", "publish created"))
    st = res.stats()
    assert st["schedules"] == res.executions and st["faults injected"] == 0


def test_a_scenario_without_stores_has_no_state_count():
    res = sim.explore(registry.get("lost-update"), DFS(), stats=True)  # plain dict state
    assert res.terminal_states is None and "distinct terminal states: n/a" in res.stats_text()


def test_faults_injected_are_counted():
    res = sim.explore(registry.get("hook-1665-crash@postgres:P3"), make("random", seed=1), budget=200, stats=True)
    assert res.stats()["faults injected"] == res.crashes + res.redeliveries > 0


def test_incarnations_and_ids_fold_into_one_point():
    o = Observed(DFS())
    o.points.update({("p1/consumer", "READ runs/wrun_01KDVDNA00B3V1N73GTH6W588C"),
                     ("p1#1/consumer", "READ runs/wrun_01KDVDNA00QFE0CKRTEGH5RJ0W"),
                     ("p1/consumer", "ack creations#4"), ("p1/consumer", "ack creations#12")})
    assert o.distinct_points() == 2


def test_fingerprints_do_not_depend_on_the_hash_seed():
    code = ("import sim; from sim import registry; from sim.strategy import make; from sim.stats import Observed;"
            "o = Observed(make('random', seed=4));"
            "sim.explore(registry.get('hook-pairs@local:L1'), o, budget=40);"
            "print(sorted(o.states), o.distinct_points())")
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout for h in ("0", "4242")]
    assert outs[0] and outs[0] == outs[1]


def test_cli_stats_table_and_report(tmp_path, capsys):
    code = cli.main(["explore", "--scenario", "claim-publish", "--stats", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1 and "exploration statistics" in out and "distinct terminal states" in out
    [html] = tmp_path.glob("*-shrunk.html")
    assert "scheduling points covered" in html.read_text()
