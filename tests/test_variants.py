"""Variants: scenarios rebuilt with other parameters and fault budgets, by name and from the command line."""
from __future__ import annotations

import dataclasses
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim import Faults, registry, variants
from sim import strategy as strategies
from sim import trace as traces
from sim.strategy import DFS, RandomWalk
from scenarios.engine_toys import lost_update
from tests.test_cli import assert_one_line_error, only_file, run_cli


# ---- names and values ---------------------------------------------------------------------

@pytest.mark.parametrize("raw, like, value", [
    ("3", 2, 3), ("-1", 0, -1), ("true", False, True), ("false", True, False), ("pending", "running", "pending"),
    ("7", None, 7), ("true", None, True), ("word", None, "word"), ("12", "running", "12"),
])
def test_values_take_the_type_of_the_parameter(raw, like, value):
    got = variants.convert("k", raw, like)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("raw, like, needle", [
    ("x", 2, "takes an integer"), ("1.5", 2, "takes an integer"), ("yes", False, "takes true or false"),
    ("a,b", "s", "without spaces"), ("", "s", "non-empty"), ("a]", "s", "brackets"),
])
def test_bad_values_are_refused(raw, like, needle):
    with pytest.raises(variants.VariantError, match=needle):
        variants.convert("k", raw, like)


def test_split_and_malformed_names():
    assert variants.split("hook-pairs@local:L1") == ("hook-pairs@local:L1", {})
    assert variants.split("a@m:R[x=1,y=true]") == ("a@m:R", {"x": "1", "y": "true"})
    for bad in ("a[x=1", "a]", "a[x=1][y=2]", "a[x]", "a[x=1,x=2]", "a[=1]"):
        with pytest.raises(variants.VariantError):
            variants.split(bad)


@settings(max_examples=60, deadline=None)
@given(points=st.integers(2, 5), workers=st.integers(1, 4), locked=st.booleans(),
       crashes=st.integers(0, 3), redeliveries=st.integers(0, 3), max_steps=st.integers(1, 3000))
def test_a_variant_name_rebuilds_the_same_scenario(points, workers, locked, crashes, redeliveries, max_steps):
    base = registry.get("lost-update")
    v = variants.vary(base, {"points": str(points), "workers": workers, "locked": locked}, crashes=crashes,
                      redeliveries=redeliveries, max_steps=max_steps)
    again = registry.get(v.name)
    assert again.name == v.name
    assert (again.params, again.faults, again.max_steps) == (v.params, v.faults, v.max_steps)
    assert v.params["points"] == points and v.params["workers"] == workers and v.params["locked"] is locked
    assert v.faults == Faults(crashes, redeliveries) and v.max_steps == max_steps
    # only what differs from the registered scenario is in the name; nothing differing is the scenario itself
    _, spec = variants.split(v.name)
    assert ("points" in spec) == (points != 2) and ("crashes" in spec) == (crashes != 0)
    assert (v is base) == (not spec)
    if spec:
        assert v.expect == "hold" and v.bug == ""
    # entries in any order name the same variant
    if len(spec) > 1:
        shuffled = f"lost-update[{','.join(f'{k}={val}' for k, val in reversed(list(spec.items())))}]"
        assert registry.get(shuffled).name == v.name


def test_a_variant_of_a_variant_keeps_what_it_does_not_override():
    v = registry.get("hook-pairs@local:L1[pairs=1,redeliveries=0]")
    w = variants.vary(v, {"pairs": "3"}, lookup=registry.get)
    assert w.name == "hook-pairs@local:L1[pairs=3,redeliveries=0]"
    assert w.params["pairs"] == 3 and w.faults == Faults(crashes=1, redeliveries=0)
    assert variants.vary(v, {"pairs": 2}, redeliveries=1, lookup=registry.get) is registry.get("hook-pairs@local:L1")


def test_model_variants_rebuild_the_workload():
    s = registry.get("hook-pairs@local:L1[pairs=1]")
    assert s.params["pairs"] == 1 and s.model == "local:L1" and s.workload == "hook-pairs"
    assert variants.parameters(s) == {"pairs": 1}
    assert variants.parameters(registry.get("hook-1665@postgres:P3")) == {"complete": False}
    assert variants.parameters(registry.get("hook-converge@local:L1")) == {}
    # fewer hooks: fewer steps in the first schedule
    first = [sim.explore(registry.get(n), DFS(), budget=1).steps
             for n in ("hook-pairs@local:L1[pairs=1]", "hook-pairs@local:L1")]
    assert first[0] < first[1]


@pytest.mark.parametrize("name, needle", [
    ("hook-pairs@local:L1[pairs=x]", "pairs takes an integer"),
    ("hook-pairs@local:L1[pairs=0]", "pairs must be >= 1"),
    ("hook-pairs@local:L1[nope=1]", "no parameter 'nope' (its parameters: pairs=2)"),
    ("hook-converge@local:L1[pairs=1]", "it takes no parameters"),
    ("hook-pairs@local:L1[crashes=-1]", "crashes must be >= 0"),
    ("hook-pairs@local:L1[max_steps=0]", "max_steps must be >= 1"),
    ("no-such[pairs=1]", "unknown scenario 'no-such'"),
])
def test_unbuildable_variants_are_unknown_scenarios(name, needle):
    with pytest.raises(registry.UnknownScenario, match=r".*" + needle.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):
        registry.get(name)


def test_bounds_state_the_parameters():
    res = sim.explore(registry.get("lost-update-locked[workers=3]"), DFS())
    assert res.complete and res.ok
    assert res.bounds() == "exhaustive within points=2, workers=3, locked=true, 0 crash(es), 0 redelivery(ies), 2000 steps"


# ---- traces -------------------------------------------------------------------------------

def test_a_variants_trace_replays_from_its_name(tmp_path):
    s = registry.get("lost-update[workers=3,max_steps=50]")
    res = sim.explore(s, DFS())
    assert res.violation.invariant == "I-COUNTER"
    tr = sim.make_trace(s, res.tape, strategy={"name": "dfs"})
    assert tr.scenario == "lost-update[workers=3,max_steps=50]" and tr.params["workers"] == 3 and tr.max_steps == 50
    loaded = traces.load(traces.save(tr, tmp_path, "v"))
    again = sim.replay(loaded)
    assert again.same and again.replayed.steps == tr.steps


def test_replay_refuses_a_trace_whose_scenario_now_differs(tmp_path, monkeypatch):
    s = registry.get("lost-update")
    res = sim.explore(s, DFS())
    tr = sim.make_trace(s, res.tape, strategy={"name": "dfs"})
    changed = dataclasses.replace(s, faults=Faults(crashes=1))
    with pytest.raises(sim.TraceError, match=r"recorded with faults \{'crashes': 0, 'redeliveries': 0\}.*now has"):
        sim.replay(tr, scenario=changed)
    other = dataclasses.replace(s, params={**s.params, "workers": 5})
    with pytest.raises(sim.TraceError, match="recorded with params"):
        sim.replay(tr, scenario=other)


# ---- command line -------------------------------------------------------------------------

def test_explore_a_variant_and_replay_its_trace(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "explore", "--scenario", "lost-update", "--param", "workers=3", "--crashes", "0",
                           "--strategy", "dfs", "--no-shrink", "--out", tmp_path)
    assert code == 1
    assert 'lost-update[workers=3]: a variant of lost-update; its expectation is unknown, so it is checked as "hold"' in out
    row = next(ln for ln in out.splitlines() if ln.strip().startswith("lost-update[workers=3] "))
    assert "I-COUNTER" in row and "workers=3" in row
    path = only_file_no_shrink(tmp_path)
    assert traces.load(path).scenario == "lost-update[workers=3]"
    code, out, _ = run_cli(capsys, "replay", path)
    assert code == 1 and "reproduced: I-COUNTER" in out


def only_file_no_shrink(d):
    traces_ = [f for f in d.iterdir() if f.suffix == ".json"]
    assert len(traces_) == 1
    return traces_[0]


def test_budgets_apply_to_every_selected_scenario(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "explore", "--scenario", "hook-pairs", "--model", "local:L1", "--param", "pairs=1",
                           "--redeliveries", "0", "--max-steps", "400", "--strategy", "random", "--budget", "20",
                           "--out", tmp_path)
    assert code == 0, out
    assert "hook-pairs@local:L1[pairs=1,redeliveries=0,max_steps=400]" in out
    assert "sampled within pairs=1, 1 crash(es), 0 redelivery(ies), 400 steps" in out


def test_options_equal_to_the_scenario_change_nothing(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "explore", "--scenario", "lost-update", "--param", "workers=2", "--crashes", "0",
                           "--strategy", "dfs", "--no-shrink", "--out", tmp_path)
    assert code == 1 and "a variant" not in out and "lost-update[" not in out


@pytest.mark.parametrize("argv, needles", [
    (["--param", "pairs=x"], ["hook-pairs@local:L1", "pairs takes an integer, got 'x'"]),
    (["--param", "nope=1"], ["no parameter 'nope'", "pairs=2"]),
    (["--param", "pairs"], ["expected NAME=VALUE"]),
    (["--param", "crashes=1"], ["use --crashes N"]),
    (["--crashes", "-1"], ["crashes must be >= 0, got -1"]),
    (["--redeliveries", "x"], ["--redeliveries", "invalid int value"]),
    (["--max-steps", "0"], ["--max-steps"]),
    (["--param", "pairs=1", "--param", "pairs=2"], ["pairs given twice"]),
])
def test_bad_variant_options_are_one_line_errors(argv, needles, tmp_path, capsys):
    assert_one_line_error(*run_cli(capsys, "explore", "--scenario", "hook-pairs@local:L1", *argv, "--out", tmp_path),
                          *needles)


def test_a_parameter_on_a_scenario_without_it_is_an_error(tmp_path, capsys):
    assert_one_line_error(*run_cli(capsys, "explore", "--scenario", "hook-converge@local:L1", "--param", "pairs=1",
                                   "--out", tmp_path), "hook-converge@local:L1", "takes no parameters")
    assert_one_line_error(*run_cli(capsys, "explore", "--scenario", "hook-pairs@local:L1[pairs=x]",
                                   "--out", tmp_path), "pairs takes an integer")


def test_list_shows_parameters(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and "workload parameters" in out
    tail = out[out.index("workload parameters"):].splitlines()
    rows = {ln.split()[0]: ln for ln in tail[3:] if ln.strip()}
    assert "pairs=2" in rows["hook-pairs"] and "points=2, workers=2, locked=false" in rows["lost-update"]
    assert "hook-converge" not in rows   # it takes none


def test_a_loaded_module_declares_parameters_with_a_factory(tmp_path, monkeypatch, capsys, isolated_registry):
    (tmp_path / "user_params_for_cli.py").write_text(textwrap.dedent("""
        from sim import Scenario, at_end, point

        def counter(workers: int = 2, locked: bool = False) -> Scenario:
            def setup(sim):
                st = {"x": 0}
                async def w():
                    await point("read", reads=("x",))
                    v = st["x"]
                    await point("write", writes=("x",))
                    st["x"] = v + 1
                for i in range(workers):
                    sim.process(f"p{i}", lambda p: p.spawn("w", w))
                return st
            return Scenario("user-counter", setup, invariants=(at_end("I-N", lambda st: st["x"] == workers),),
                            expect="I-N", params={"workers": workers}, factory=counter)

        SCENARIOS = [counter()]
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = run_cli(capsys, "list", "--load", "user_params_for_cli")
    assert "workers=2, locked=false" in out
    code, out, _ = run_cli(capsys, "explore", "--load", "user_params_for_cli", "--scenario", "user-counter",
                           "--param", "workers=1", "--strategy", "dfs", "--out", tmp_path / "t")
    assert code == 0 and "user-counter[workers=1]" in out and "exhaustive within workers=1, locked=false" in out
    code, out, _ = run_cli(capsys, "explore", "--load", "user_params_for_cli", "--scenario", "user-counter[workers=3]",
                           "--strategy", "dfs", "--no-shrink", "--out", tmp_path / "t")
    assert code == 1
    path = only_file_no_shrink(tmp_path / "t")
    code, out, _ = run_cli(capsys, "replay", "--load", "user_params_for_cli", path)
    assert code == 1 and "user-counter[workers=3]" in out
