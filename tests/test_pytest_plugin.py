"""The pytest plugin, driven through pytester (it is loaded from the `pytest11` entry point)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sim
from scenarios import engine_toys as toys
from sim import strategy as strategies
from sim import trace as traces
from sim.explore import DEFAULT_BUDGET

pytest_plugins = ["pytester"]

FAILING_HOLDS = """
from scenarios import engine_toys as toys

def test_claim(sim_explore):
    sim_explore(toys.claim_then_publish(), budget=500).assert_holds()
"""


def run(pytester, *args):
    # Hypothesis' own plugin imports all of hypothesis at the end of every run, and pytester
    # unloads it again after each in-process run: a second per run, and nothing to do with us.
    # -rN: no short summary, which under CI=true would repeat every failure message
    return pytester.runpytest_inprocess("-p", "no:hypothesispytest", "-rN", *args)


def replay_paths(text: str) -> list[str]:
    return re.findall(r"^replay: python -m sim replay (\S+)$", text, re.M)


# ---- failure messages ---------------------------------------------------------------------

def test_failing_assert_holds_prints_invariant_step_log_and_replay_command(pytester):
    pytester.makepyfile(test_inner=FAILING_HOLDS)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "scenario claim-publish: I-ONE-CREATED violated at step *: 2 created events (by w*, w*)",
        "found by random(seed=1, *) at execution * (fast engine; stopped at the first violation within *",
        "step log (* steps, * choices):",
        "  #1 t=0 p*/worker check claim [[]r: claim/name[]]",
        "  #* t=0 p*/worker publish created [[]w: log/events[]]  -- created by w*  <== I-ONE-CREATED",
        "trace:  reports/traces/claim-publish-random-seed1-*.json",
        "replay: python -m sim replay reports/traces/claim-publish-random-seed1-*.json",
        "rerun:  pytest test_inner.py::test_claim --sim-strategy random --sim-seed 1 --sim-budget 500",
    ])
    assert "Traceback" not in out and "def test_claim" not in out  # pytrace=False: no code dump
    # one step line per recorded step, and the command names a trace that reproduces it
    [path] = replay_paths(out)
    tr = traces.load(pytester.path / path)
    assert len(re.findall(r"^  #\d+ ", out, re.M)) == len(tr.steps)
    assert tr.verdict.invariant == "I-ONE-CREATED" and sim.replay(tr).same
    # the printed command, run as printed from where pytest ran, reproduces the violation
    cmd = re.search(r"^replay: (python -m sim replay \S+)$", out, re.M).group(1).split()
    done = subprocess.run([sys.executable, *cmd[1:]], cwd=pytester.path, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr  # 1: the replay reports a violation
    assert f"reproduced: {tr.verdict.describe()}" in done.stdout


def test_trace_dir_option_and_nothing_written_into_the_tests(pytester, tmp_path):
    pytester.makepyfile(test_inner=FAILING_HOLDS)
    result = run(pytester, "--sim-trace-dir", str(tmp_path / "out"))
    result.assert_outcomes(failed=1)
    [path] = replay_paths(result.stdout.str())
    assert Path(path) == (tmp_path / "out" / Path(path).name).resolve()
    found = Path(path).name
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([found, found[:-5] + "-shrunk.json"])
    assert not (pytester.path / "reports").exists()


MINIMAL_2 = (r"^  (no schedule with at most 1 preemption\(s\) and 0 fault\(s\) fails I-ONE-CREATED"
             r"|I-ONE-CREATED with 2 preemption\(s\) and at most 0 fault\(s\); none with 1 or fewer) ")


def test_a_failure_shows_the_counterexample_shrunk_unless_told_not_to(pytester):
    pytester.makepyfile(test_inner=FAILING_HOLDS)
    result = run(pytester)
    out = result.stdout.str()
    # claim-then-publish needs both workers past the claim check before either publishes: 2 preemptions
    assert re.search(MINIMAL_2, out, re.M), out   # the bounded search's proof, in either of its forms
    result.stdout.fnmatch_lines(["shrunk: * -> 8 steps, 0 fault(s), 2 preemption(s), *",
                                 "shrunk trace: reports/traces/claim-publish-random-seed1-*-shrunk.json (python -m sim "
                                 "replay reports/traces/claim-publish-random-seed1-*-shrunk.json)"])
    assert "► I-ONE-CREATED violated" in out                      # the shrunk timeline
    small = re.search(r"^shrunk trace: (\S+) ", out, re.M).group(1)
    tr = traces.load(pytester.path / small)
    assert tr.verdict.invariant == "I-ONE-CREATED" and sim.replay(tr).same
    result = run(pytester, "--sim-no-shrink")
    result.assert_outcomes(failed=1)
    assert "shrunk:" not in result.stdout.str() and "shrunk trace:" not in result.stdout.str()


def test_assert_violates_without_violation_says_how_much_was_explored(pytester):
    pytester.makepyfile(test_inner="""
        from scenarios import engine_toys as toys

        def test_fixed(sim_explore):
            sim_explore(toys.claim_then_publish(exclusive=True), strategy="dfs").assert_violates("I-ONE-CREATED")
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    # DFS covers the 6 schedules of the exclusive claim (see scenarios/test_engine_toys.py)
    result.stdout.fnmatch_lines([
        "scenario claim-publish-xcreate: expected I-ONE-CREATED to be violated, but no violation was found "
        "in 6 execution(s), 24 step(s) by dfs(*) (fast engine; "
        "exhaustive within workers=2, exclusive=true, managed=true, 0 crash(es), 0 redelivery(ies), 2000 steps)",
    ])
    assert "replay:" not in result.stdout.str()


def test_assert_violates_wrong_invariant_shows_the_counterexample(pytester):
    pytester.makepyfile(test_inner="""
        from scenarios import engine_toys as toys

        def test_wrong(sim_explore):
            sim_explore(toys.lost_update(), budget=60).assert_violates("I-SOMETHING-ELSE")
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "scenario lost-update: expected I-SOMETHING-ELSE to be violated, got I-COUNTER violated at quiescence (after step *)*",
        "  #* t=0 p*/worker write x [[]w: x[]]  -- x = 1",
        "*(at quiescence, after step *)  <== I-COUNTER",
        "replay: python -m sim replay reports/traces/lost-update-random-seed1-*.json",
    ])


def test_unregistered_scenario_gets_a_note_instead_of_a_false_promise(pytester):
    pytester.makepyfile(test_inner="""
        from scenarios import engine_toys as toys

        def test_bigger(sim_explore):
            sim_explore(toys.lost_update(points=3), budget=60).assert_holds()
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["note:   scenario 'lost-update-2x3' is not registered*"])


def test_a_model_that_ignores_the_tape_is_called_out(pytester):
    pytester.makepyfile(test_inner="""
        from sim import Scenario, at_end, point

        runs = [0]

        def setup(sim):
            runs[0] += 1  # state outside the tape: the re-run for the trace behaves differently

            async def worker():
                await point("step")

            sim.process("p1", lambda p: p.spawn("w", worker))
            return runs[0]

        FLAKY = Scenario("flaky", setup, invariants=(at_end("I-EVEN", lambda n: n % 2 == 0 or f"run {n}"),))

        def test_flaky(sim_explore):
            sim_explore(FLAKY).assert_holds()
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "scenario flaky: I-EVEN violated at quiescence (after step 1): run 1",
        "note:   re-running this tape gave ok (no invariant violated): the model depends on something outside*",
        "note:   scenario 'flaky' is not registered*",
    ])


# ---- options reach the fixture ------------------------------------------------------------

RECORD = """
import dataclasses, json
from scenarios import engine_toys as toys

def test_record(sim_explore):
    res = sim_explore(toys.lost_update(locked=True)).assert_holds()
    pinned = sim_explore(toys.lost_update(locked=True), seed=9, budget=3, strategy="random")
    full = sim_explore(dataclasses.replace(toys.lost_update(points=4), invariants=()), strategy="dfs", budget=None)
    with open("seen.json", "w") as f:
        json.dump({"strategy": res.strategy, "executions": res.executions, "engine": res.engine,
                   "pinned": [pinned.strategy, pinned.executions], "full": [full.executions, full.complete]}, f)
"""


def run_and_read(pytester, *args) -> dict:
    pytester.makepyfile(test_inner=RECORD)
    run(pytester, *args).assert_outcomes(passed=1)
    return json.loads((pytester.path / "seen.json").read_text())


def test_defaults_reach_the_fixture(pytester):
    seen = run_and_read(pytester)
    assert seen["strategy"] == strategies.make("random", seed=1).describe()
    assert seen["executions"] == DEFAULT_BUDGET
    assert seen["engine"] == "fast"


def test_options_reach_the_fixture(pytester):
    seen = run_and_read(pytester, "--sim-seed", "5", "--sim-strategy", "pct", "--sim-budget", "7")
    assert seen["strategy"] == strategies.make("pct", seed=5).describe()
    assert seen["executions"] == 7
    # arguments a test passes win over the command line; budget=None is "no budget" (DFS: all
    # C(8, 4) = 70 interleavings of two 4-step workers), not "take --sim-budget"
    assert seen["pinned"] == [strategies.make("random", seed=9).describe(), 3]
    assert seen["full"] == [70, True]


def test_dfs_option_runs_to_completion(pytester):
    seen = run_and_read(pytester, "--sim-strategy", "dfs")
    assert seen["strategy"]["name"] == "dfs"
    assert seen["executions"] == 2  # the locked lost update has 2 schedules (who locks first)


def test_seed_changes_what_is_found(pytester):
    pytester.makepyfile(test_inner=FAILING_HOLDS)
    found = set()
    for seed in ("1", "2", "3"):
        out = run(pytester, "--sim-seed", seed).stdout.str()
        assert f"found by random(seed={seed}," in out
        found.add(re.search(r"at execution (\d+)", out).group(1) + replay_paths(out)[0])
    assert len(found) == 3  # each seed is its own search (and its own trace file)


# ---- usage errors -------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--sim-strategy", "bogus"], "invalid choice: 'bogus'"),
    (["--sim-engine", "bogus"], "invalid choice: 'bogus'"),
    (["--sim-seed", "abc"], "invalid int value: 'abc'"),
    (["--sim-seed", "-1"], "--sim-seed must be >= 0, got -1"),
    (["--sim-budget", "0"], "--sim-budget must be >= 1, got 0"),
])
def test_bad_options_are_usage_errors(pytester, args, message):
    pytester.makepyfile(test_inner="def test_x(): pass")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "collected" not in result.stdout.str()


# ---- the regression corpus ----------------------------------------------------------------

def claim_publish_trace() -> traces.Trace:
    sc = toys.claim_then_publish()
    strat = strategies.make("random", seed=1)
    res = sim.explore(sc, strat, budget=500)
    return sim.make_trace(sc, res.tape, strategy=strat.describe(), execution=res.found_at)


def test_regression_traces_replay_and_bad_ones_fail_alone(pytester):
    good = claim_publish_trace()
    d = pytester.mkdir("regressions")
    traces.save(good, d, "good")
    text = good.to_json()
    # edited by hand: the digest no longer matches
    (d / "tampered.json").write_text(text.replace('"message": "2 created', '"message": "3 created'))
    # re-sealed with a verdict the model does not give
    wrong = good.verdict.model_copy(update={"invariant": "I-SOME-CREATED"})
    traces.save(good.model_copy(update={"verdict": wrong}).sealed(), d, "wrong-verdict")
    # re-sealed with a tape the model does not ask for
    tape = [("step", 7, 0)] + list(good.tape[1:])
    traces.save(good.model_copy(update={"tape": tape}).sealed(), d, "diverging")
    (d / "garbage.json").write_text("{not json")
    (pytester.path / "other.json").write_text("{}")  # not in a regressions folder: not collected

    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1, failed=4)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["PASSED regressions/good.json::good"])
    # each failure section: headed by the item and what it recorded, then the one-line reason
    found = sections(out)
    recorded, wrong_recorded = good.verdict.describe(), good.verdict.describe().replace("I-ONE-", "I-SOME-")
    assert sorted(found) == sorted([f"diverging: recorded {recorded}", "garbage: unreadable trace",
                                    "tampered: unreadable trace", f"wrong-verdict: recorded {wrong_recorded}"])
    [diverged] = found[f"diverging: recorded {recorded}"]
    assert re.fullmatch(r"diverging.json: replay diverged at step \d+, choice 0: the trace recorded a step "
                        r"choice among 7, the model now asks a step choice among 2; "
                        r"the trace's step \d+ was #\d+ t=0 p\d/worker check claim \[r: claim/name\]", diverged)
    assert found["garbage: unreadable trace"] == [
        f"{d / 'garbage.json'}: not valid JSON (Expecting property name enclosed in double quotes at line 1)"]
    assert found["tampered: unreadable trace"] == [
        f"{d / 'tampered.json'}: digest mismatch: the trace was modified after it was written"]
    assert found[f"wrong-verdict: recorded {wrong_recorded}"] == [
        f"wrong-verdict.json: verdict changed: the trace recorded {wrong_recorded}; replay gives {recorded}"]
    assert "Traceback" not in out and "other.json" not in out


def sections(out: str) -> dict[str, list[str]]:
    """The FAILURES part of a pytest report: {head line: body lines}."""
    part = out.split("= FAILURES =")[1].split("\n=")[0]
    found: dict[str, list[str]] = {}
    head = None
    for line in part.splitlines()[1:]:
        m = re.fullmatch(r"_+ (.*?) _+", line)
        if m:
            head = m.group(1)
            found[head] = []
        elif line:
            found[head].append(line)
    return found


def test_regression_engine_option_is_used_for_replay(pytester):
    traces.save(claim_publish_trace(), pytester.mkdir("regressions"), "good")
    result = run(pytester, "--sim-engine", "trio")
    try:
        import sim.engine.tasks  # noqa: F401
    except ImportError:
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert "--sim-engine trio: this engine is not available" in result.stderr.str()
    else:
        result.assert_outcomes(passed=1)


def test_the_shipped_regressions_are_real_traces():
    shipped = sorted((Path(__file__).parents[1] / "scenarios" / "regressions").glob("*.json"))
    assert len(shipped) >= 3
    verdicts = {traces.load(p).verdict.status for p in shipped}
    assert verdicts == {"ok", "violation"}


def test_corrupt_files_in_the_regression_corpus_fail_their_own_items_only(pytester):
    """One bad file (deep nesting, a 5000-digit integer, a lone surrogate) never stops collection."""
    import shutil
    d = pytester.path / "regressions"
    d.mkdir()
    good = Path(__file__).parents[1] / "scenarios" / "regressions" / "claim-publish-two-created.json"
    shutil.copy(good, d / "good.json")
    (d / "deep.json").write_text("[" * 100000 + "]" * 100000)
    (d / "bigint.json").write_text('{"schema_version": 1, "max_steps": ' + "9" * 5000 + "}")
    (d / "surrogate.json").write_text(good.read_text().replace('"claim-publish"', '"claim-publish\\ud800"', 1))
    result = run(pytester, str(d))
    result.assert_outcomes(passed=1, failed=3)
    out = result.stdout.str()
    assert "nested too deeply" in out and "integer too long" in out and "lone surrogate" in out
    assert "Traceback" not in out
