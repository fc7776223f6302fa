"""Differential testing of world-local's models against the released package (models.npm.differential).

The differences found so far are listed in benchmarks/differences/index.json with the trace that shows
each. A difference the model was fixed for must not come back: the model revision that now stands for
the release (models.npm.scenarios.MODEL_OF) reaches the package's outcome again, found by search. This
needs no Node (the outcome is stored); replaying the package's own trace, which does, checks that the
stored outcome is what the package gives.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from models.npm.differential import outcome, reach, replay_outcome, sample, shared, to_quiescence
from models.npm.scenarios import MODEL_OF
from sim import RandomWalk, registry
from sim.explore import run_tape

DIFFS = Path(__file__).resolve().parent.parent / "benchmarks" / "differences"
INDEX = json.loads((DIFFS / "index.json").read_text())
IN_CI = os.environ.get("CI") == "true"
needs_node = pytest.mark.skipif(shutil.which("node") is None and not IN_CI, reason="Node.js is not installed")


def frozen(x):
    """JSON lists back to the tuples outcomes are made of."""
    return tuple(frozen(v) for v in x) if isinstance(x, list) else x


def scenario_name(workload: str, world: str) -> str:
    name, bracket, params = workload.partition("[")
    return f"{name}@{world}{bracket}{params}"


def test_an_outcome_is_taken_at_quiescence_not_at_the_first_violation():
    # B15's hook-pairs breaks I-H2 early in most schedules; run to quiescence, every creation of the
    # hook has been logged by then, so each log holds one event per delivery that got through
    name = "hook-pairs@local:B15[pairs=1]"
    sc = registry.get(name)
    for seed in range(1, 21):
        k = run_tape(to_quiescence(sc), RandomWalk(seed=seed))
        assert k.violation is None
        verdicts, logs = outcome(sc, k)
        (_run, per), = logs
        hook = dict(per)["2NXH"]
        assert len(hook) >= 2, (seed, hook)
        assert ("I-H2" in verdicts) == ({"hook_created", "hook_conflict"} <= set(hook))


def test_reach_finds_an_outcome_the_sample_saw_and_not_one_it_cannot_reach():
    name = "hook-pairs@local:B15[pairs=1]"
    seen = sample(name, 10)
    rare = min(seen, key=lambda o: (seen[o][2], o))
    assert reach(name, rare, 5000) is not None
    verdicts, logs = rare
    impossible = (("ok",), logs)   # a log with hook_conflict always breaks I-H2 or I-ORPHAN
    assert reach(name, impossible, 300) is None


def test_shared_invariants_leave_out_those_only_the_model_checks():
    only = shared("hook-pairs@local:L1s", "hook-pairs@local-npm:4.4.1")
    assert "I-H2" in only and "I-H5" not in only


@pytest.mark.parametrize("d", [d for d in INDEX if d["status"] == "fixed"],
                         ids=lambda d: f"{d['workload']}@{d['version']}")
def test_a_fixed_difference_does_not_come_back(d):
    name = scenario_name(d["workload"], MODEL_OF[d["version"]])
    target = frozen(d["outcome"])
    assert (DIFFS / d["trace"]).is_file()
    assert reach(name, target, 20000, shared(name, scenario_name(d["workload"], f"local-npm:{d['version']}"))) \
        is not None, f"{name} no longer reaches the package's outcome {target}"


def test_every_listed_difference_has_its_trace_and_a_cause():
    for d in INDEX:
        assert (DIFFS / d["trace"]).is_file(), d["trace"]
        assert d["status"] in ("fixed", "fixed in the package's world", "sampling"), d
        assert d["cause"], d


@pytest.mark.parametrize("d", [d for d in INDEX if d["side"] == "model"], ids=lambda d: d["trace"])
def test_a_model_trace_still_shows_its_outcome(d):
    trace = json.loads((DIFFS / d["trace"]).read_text())
    only = shared(trace["scenario"], scenario_name(d["workload"], f"local-npm:{d['version']}"))
    assert replay_outcome(trace["scenario"], trace["tape"], only) == frozen(d["outcome"])


@needs_node
@pytest.mark.parametrize("d", [d for d in INDEX if d["status"] == "fixed in the package's world"],
                         ids=lambda d: f"{d['workload']}@{d['version']}")
def test_a_fixed_package_world_difference_does_not_come_back(d):
    from sim.shrink import Guided
    name = scenario_name(d["workload"], f"local-npm:{d['version']}")
    sc = registry.get(name)
    verdicts, _ = outcome(sc, run_tape(to_quiescence(sc), Guided([])))
    assert verdicts != tuple(d["outcome"][0]), f"{name}'s default schedule ends in {verdicts} again"


@needs_node
def test_the_package_trace_shows_its_outcome():
    d = next(d for d in INDEX if d["status"] == "fixed" and d["side"] == "real")
    trace = json.loads((DIFFS / d["trace"]).read_text())
    only = shared(trace["scenario"], scenario_name(d["workload"], d["model"]))
    assert replay_outcome(trace["scenario"], trace["tape"], only) == frozen(d["outcome"])
