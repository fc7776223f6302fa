"""`sim shrink`, `sim report`, `sim regress`: what they write, what they refuse, and that nothing a user
saved is overwritten."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import sim
from sim import cli, registry, report
from sim import trace as traces
from sim.explore import run_tape, trace_of
from sim.shrink import Guided


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *needles):
    assert code == 2 and err.count("\n") == 1 and err.startswith("sim: error: "), err
    for n in needles:
        assert n in err, (n, err)


@pytest.fixture(scope="module")
def b3_found(tmp_path_factory) -> Path:
    """B3's counterexample as random exploration found it (seed 1: with two crashes it does not need)."""
    d = tmp_path_factory.mktemp("found")
    assert cli.main(["explore", "--scenario", "hook-pairs@local:B3", "--seed", "1", "--no-shrink",
                     "--out", str(d)]) == 1
    [path] = d.glob("*.json")      # and its HTML report
    return path


def _passing_trace(tmp_path) -> Path:
    s = registry.get("claim-publish-xcreate")
    k = run_tape(s, Guided([]))
    return traces.save(trace_of(s, k, strategy={"name": "guided"}, engine="fast"), tmp_path, "passing")


# ---- shrink -------------------------------------------------------------------------------

def test_shrink_writes_a_smaller_trace_beside_the_original_that_replays(b3_found, capsys):
    found = traces.load(b3_found)
    assert found.verdict.invariant == "I-H1"
    code, out, _ = run_cli(capsys, "shrink", b3_found)
    assert code == 1
    small_path = b3_found.with_name(b3_found.stem + "-shrunk.json")
    small = traces.load(small_path)
    assert small.verdict.invariant == "I-H1"
    assert "-> 41 steps, 0 fault(s), 1 preemption(s)" in out
    assert re.search(r"no schedule with at most 0 preemption\(s\) and 0 fault\(s\) fails I-H1|"
                     r"I-H1 with 1 preemption\(s\) and at most 0 fault\(s\); none with 0 or fewer", out)
    assert sum(1 for s in found.steps if s.kind == "crash") > sum(1 for s in small.steps if s.kind == "crash") == 0
    assert "║" in out and "► I-H1 violated" in out          # the timeline, not the step log
    assert sim.replay(small).same
    # again: the same file (deduplicated), and a user's different file there is never overwritten
    assert run_cli(capsys, "shrink", b3_found)[0] == 1
    assert sorted(p.name for p in b3_found.parent.glob("*.json")) == sorted([b3_found.name, small_path.name])


def test_shrink_never_overwrites_a_users_file(b3_found, tmp_path, capsys):
    mine = tmp_path / (b3_found.stem + "-shrunk.json")
    mine.write_text("my notes\n")
    code, out, _ = run_cli(capsys, "shrink", b3_found, "--out", tmp_path)
    assert code == 1
    assert mine.read_text() == "my notes\n"
    assert traces.load(tmp_path / (b3_found.stem + "-shrunk-1.json")).verdict.invariant == "I-H1"


def test_shrink_refuses_what_it_cannot_shrink(b3_found, tmp_path, capsys):
    code, _, err = run_cli(capsys, "shrink", _passing_trace(tmp_path))
    one_line_error(code, err, "violates nothing", "nothing to shrink")
    code, _, err = run_cli(capsys, "shrink", tmp_path / "missing.json")
    one_line_error(code, err, "no such trace file")
    tampered = tmp_path / "tampered.json"
    data = json.loads(b3_found.read_text())
    data["tape"][0][2] = 1 - data["tape"][0][2]
    tampered.write_text(json.dumps(data))
    code, _, err = run_cli(capsys, "shrink", tampered)
    one_line_error(code, err, "digest mismatch")
    code, _, err = run_cli(capsys, "shrink", b3_found, "--max-candidates", "0")
    one_line_error(code, err, "--max-candidates")


def test_shrink_reports_a_trace_the_model_no_longer_replays(b3_found, tmp_path, capsys):
    # the same tape resealed: as if recorded against another revision of the model
    t = traces.load(b3_found)
    tape = [list(c) for c in t.tape]
    first_step = next(c for c in tape if c[0] == "step")
    first_step[1] += 1                                      # the model now "asks" with a different option count
    moved = traces.save(t.model_copy(update={"tape": [tuple(c) for c in tape]}).sealed(), tmp_path, "moved")
    code, _, err = run_cli(capsys, "shrink", moved)
    one_line_error(code, err, "replay diverged at step")


# ---- report -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, needle", [("text", "║"), ("md", "sequenceDiagram"), ("html", "<table"),
                                         ("dot", "digraph")])
def test_report_formats(b3_found, fmt, needle, capsys):
    code, out, _ = run_cli(capsys, "report", b3_found, "--format", fmt)
    assert code == 0 and needle in out
    assert out.rstrip("\n") == report.render(traces.load(b3_found), fmt).rstrip("\n")


def test_report_to_a_file_never_overwrites(b3_found, tmp_path, capsys):
    dest = tmp_path / "b3.html"
    assert run_cli(capsys, "report", b3_found, "--format", "html", "-o", dest)[0] == 0
    page = dest.read_text()
    assert "hook_created" in page and "http://" not in page and "https://" not in page
    assert run_cli(capsys, "report", b3_found, "--format", "html", "-o", dest)[0] == 0  # same content: fine
    dest.write_text("mine\n")
    code, _, err = run_cli(capsys, "report", b3_found, "--format", "html", "-o", dest)
    one_line_error(code, err, "not overwritten")
    assert dest.read_text() == "mine\n"


def test_report_usage_errors(b3_found, tmp_path, capsys):
    code, _, err = run_cli(capsys, "report", b3_found, "--format", "pdf")
    one_line_error(code, err, "--format")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    code, _, err = run_cli(capsys, "report", bad)
    one_line_error(code, err, "not valid JSON")


# ---- regress ------------------------------------------------------------------------------

def test_regress_saves_a_trace_pytest_will_replay(b3_found, tmp_path, capsys):
    corpus = tmp_path / "regressions"
    code, out, _ = run_cli(capsys, "regress", b3_found, "--name", "b3", "--expect", "I-H1", "--dir", corpus)
    assert code == 0 and "expected verdict I-H1" in out
    saved = corpus / "b3.json"
    assert saved.read_text() == b3_found.read_text()      # the trace itself: `sim replay` works on it
    assert run_cli(capsys, "regress", b3_found, "--name", "b3", "--dir", corpus)[0] == 0  # idempotent
    code, _, err = run_cli(capsys, "regress", _passing_trace(tmp_path), "--name", "b3", "--dir", corpus)
    one_line_error(code, err, "holds another trace", "not overwritten")
    assert saved.read_text() == b3_found.read_text()
    code, _, _ = run_cli(capsys, "regress", _passing_trace(tmp_path), "--name", "xcreate-holds",
                         "--expect", "hold", "--dir", corpus)
    assert code == 0


def test_regress_refuses_a_wrong_expectation_or_name(b3_found, tmp_path, capsys):
    code, _, err = run_cli(capsys, "regress", b3_found, "--name", "b3", "--expect", "I-H2", "--dir", tmp_path)
    one_line_error(code, err, "expected verdict I-H2", "gives I-H1")
    code, _, err = run_cli(capsys, "regress", b3_found, "--name", "../b3", "--dir", tmp_path)
    one_line_error(code, err, "--name")
    code, _, err = run_cli(capsys, "regress", b3_found, "--dir", tmp_path)
    one_line_error(code, err, "--name")
    assert list(tmp_path.iterdir()) == []


def test_the_shipped_corpus_covers_the_model_bugs():
    shipped = {p.stem: traces.load(p) for p in
               (Path(__file__).parents[1] / "scenarios" / "regressions").glob("*.json")}
    by_scenario = {t.scenario: t.verdict.invariant for t in shipped.values()}
    assert by_scenario["hook-pairs@local:B3"] == "I-H1"
    assert by_scenario["step-2331@postgres:P2"] == "I-S2"
    assert by_scenario["step-create-crash@postgres:B13"] == "I-ORPHAN"


def test_explore_reports_a_model_outside_the_tape_as_nondeterministic(monkeypatch, tmp_path, capsys):
    """The violation depends on state the tape does not control: re-running the found tape gives ok, so
    the counterexample would record `ok`; explore says the model is nondeterministic instead."""
    from sim import Scenario, at_end, point
    runs = [0]

    def setup(k):
        runs[0] += 1
        state = {"first": runs[0] == 1}

        async def w():
            await point("step")
        k.process("p1", lambda p: p.spawn("w", w))
        return state

    flaky = Scenario("flaky", setup, invariants=(at_end("I-FIRST", lambda s: not s["first"]),), expect="I-FIRST")
    registry.all_scenarios()
    monkeypatch.setattr(registry, "_registry", {})
    registry.register(flaky)
    code, out, err = run_cli(capsys, "explore", "--scenario", "flaky", "--out", tmp_path)
    assert code == 2 and "Traceback" not in out + err and err.count("\n") == 1, err
    assert "the model is nondeterministic: the search saw I-FIRST violated" in err and "re-running its tape gives ok" in err
    assert not list(tmp_path.glob("*.json"))   # no counterexample that records `ok`
