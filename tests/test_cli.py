"""The command line: exit codes, one-line errors, traces that replay, files never overwritten."""
from __future__ import annotations

import re
import dataclasses
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

import sim
from sim import at_end, cli, registry
from sim import strategy as strategies
from sim import trace as traces
from sim.trace import format_step
from scenarios.engine_toys import crash_orphan, lost_update


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, out, err, *needles):
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sim: error: "), err
    for n in needles:
        assert n in lines[0]


def sim_process(*argv, cwd):
    # a clean interpreter; a different hash seed proves nothing in the output depends on it
    env = dict(os.environ, PYTHONHASHSEED="123", CI="true")
    return subprocess.run([sys.executable, "-m", "sim", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)  # a hang guard, not a timing


def only_file(d: Path) -> Path:
    """The one violation's trace as found; explore also writes it shrunk, and the shrunk one's report."""
    files = sorted(d.iterdir())
    [found] = [f for f in files if "-shrunk" not in f.name]
    stem = found.name[:-len(".json")]
    assert sorted(f.name for f in files) == sorted([found.name, f"{stem}-shrunk.html", f"{stem}-shrunk.json"])
    return found


def shrunk_of(found: Path) -> Path:
    return found.with_name(found.name[:-len(".json")] + "-shrunk.json")


@pytest.fixture
def own_registry(monkeypatch):
    """An empty registry for this test only (built-ins are loaded first so they cannot leak in later)."""
    registry.all_scenarios()
    monkeypatch.setattr(registry, "_registry", {})
    return registry.register


@pytest.fixture
def lost_update_trace(tmp_path) -> Path:
    """A real failing trace, written by the library rather than by the code under test."""
    sc = registry.get("lost-update")
    st = strategies.make("dfs")
    res = sim.explore(sc, st)
    tr = sim.make_trace(sc, res.tape, strategy=st.describe(), execution=res.found_at)
    return traces.save(tr, tmp_path / "fixture", "lost-update")


# ---- explore ------------------------------------------------------------------------------

def test_buggy_scenario_exits_1_and_its_trace_replays(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "explore", "--scenario", "lost-update", "--seed", "7", "--out", tmp_path)
    assert code == 1
    path = only_file(tmp_path)
    tr = traces.load(path)
    assert tr.verdict.invariant == "I-COUNTER"
    # the default strategy is the portfolio; the trace says which member found the bug
    assert tr.strategy["name"] == "portfolio" and tr.strategy["seed"] == 7
    assert tr.strategy["member"]["name"] in {"random", "pct", "dpor"}
    assert path.name == f"lost-update-portfolio-seed7-{tr.digest[:8]}.json"
    assert "I-COUNTER violated" in out
    # shrunk by default: the shrunk trace is what the user is pointed at, its timeline is printed
    small = traces.load(shrunk_of(path))
    assert small.verdict.invariant == "I-COUNTER" and small.strategy["from_digest"] == tr.digest[:16]
    assert small.strategy["from"] == tr.strategy
    assert f"python -m sim replay {shrunk_of(path)}" in out
    assert "shrunk: " in out and "1 preemption(s)" in out
    assert "► I-COUNTER violated" in out  # the violating step is marked in the timeline
    code, out, _ = run_cli(capsys, "replay", shrunk_of(path))
    assert code == 1 and "reproduced: I-COUNTER" in out

    code, out, _ = run_cli(capsys, "replay", path)
    assert code == 1
    assert "reproduced: " + tr.verdict.describe() in out
    assert len([ln for ln in out.splitlines() if ln.strip().startswith("#")]) == len(tr.steps)


def test_holding_scenario_exits_0_and_writes_nothing(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "explore", "--scenario", "lost-update-locked", "--strategy", "dfs",
                           "--out", tmp_path)
    assert code == 0
    assert list(tmp_path.iterdir()) == []
    assert "exhaustive within" in out and "holds" in out


def test_all_matches_when_every_expectation_is_met(own_registry, tmp_path, capsys):
    own_registry(lost_update(), lost_update(locked=True))
    code, out, _ = run_cli(capsys, "explore", "--strategy", "dfs", "--out", tmp_path)
    assert code == 0  # the known bug was found, as expected, so it counts as a match
    assert "all 2 scenario(s) matched" in out
    # as found, shrunk, the shrunk one's report, and the index linking every scenario's verdict
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".html", ".html", ".json", ".json"]
    assert (tmp_path / "index.html").exists()


def test_all_reports_each_kind_of_mismatch(own_registry, tmp_path, capsys):
    own_registry(dataclasses.replace(lost_update(), name="buggy-but-expects-hold", expect="hold"),
                 dataclasses.replace(lost_update(), name="other-invariant", expect="I-OTHER",
                                     invariants=lost_update().invariants + (at_end("I-OTHER", lambda s: True),)),
                 lost_update(locked=True))
    code, out, _ = run_cli(capsys, "explore", "--strategy", "dfs", "--out", tmp_path)
    assert code == 1
    tail = out[out.index("did not match"):]
    assert "2 of 3 scenario(s) did not match" in out
    assert "buggy-but-expects-hold: expected to hold, found I-COUNTER" in tail
    assert "other-invariant: expected I-OTHER, found I-COUNTER" in tail
    assert "lost-update-locked" not in tail


def test_known_bug_not_found_within_budget_is_a_mismatch(own_registry, tmp_path, capsys):
    # dfs's first execution takes choice 0 everywhere, which by design injects no crash,
    # so crash-orphan (needs a crash) cannot fail within a budget of 1
    own_registry(crash_orphan())
    code, out, _ = run_cli(capsys, "explore", "--strategy", "dfs", "--budget", "1", "--out", tmp_path)
    assert code == 1
    assert "crash-orphan: expected I-ORPHAN, but no violation was found in 1 execution(s)" in out
    # the same run for one named scenario is judged by its verdict alone
    code, _, _ = run_cli(capsys, "explore", "--scenario", "crash-orphan", "--strategy", "dfs", "--budget", "1",
                         "--out", tmp_path)
    assert code == 0


def test_default_run_in_a_clean_process(tmp_path, capsys):
    """`python -m sim explore --seed 1` is the quickstart: every built-in expectation met, traces under cwd."""
    p = sim_process("explore", "--seed", "1", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stderr == ""  # CI=true: no progress bar in the log
    out_dir = tmp_path / "reports" / "traces"
    names = sorted(f.name for f in out_dir.iterdir())
    for sc in registry.all_scenarios():
        assert sc.name in p.stdout
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", sc.name)
        has_trace = any(n.startswith(f"{stem}-portfolio-seed1-") for n in names)
        assert has_trace == (sc.expect != "hold"), sc.name
    # the same exploration in this process (other hash seed) gives byte-identical traces: deduplicated
    code, out, _ = run_cli(capsys, "explore", "--scenario", "lost-update", "--seed", "1", "--out", out_dir)
    assert code == 1
    assert sorted(f.name for f in out_dir.iterdir()) == names


def test_explore_never_overwrites(tmp_path, capsys):
    argv = ("explore", "--scenario", "claim-publish", "--out", tmp_path)
    run_cli(capsys, *argv)
    first = only_file(tmp_path)
    content = first.read_text()
    run_cli(capsys, *argv)
    assert only_file(tmp_path) == first  # same content: same file

    first.write_text("a user's own notes\n")  # a different file where the next trace would go
    code, out, _ = run_cli(capsys, *argv)
    assert code == 1
    assert first.read_text() == "a user's own notes\n"
    second = tmp_path / (first.stem + "-1.json")
    assert second.read_text() == content
    assert f"trace:  {second} (as found)" in out


# ---- usage errors: one line, exit 2 -------------------------------------------------------

@pytest.mark.parametrize("argv, needles", [
    (["explore", "--scenario", "no-such"], ["unknown scenario 'no-such'", "`python -m sim list` lists them"]),
    (["explore", "--scenario", "claim-publis"], ["did you mean: claim-publish"]),
    (["explore", "--budget", "0"], ["--budget", "positive"]),
    (["explore", "--budget", "-3"], ["--budget"]),
    (["explore", "--time", "0"], ["--time"]),
    (["explore", "--budget", "5", "--time", "1"], ["not allowed with"]),
    (["explore", "--strategy", "bogus"], ["--strategy"]),
    (["explore", "--load", "no_such_module_for_sim_tests"], ["no_such_module_for_sim_tests"]),
    (["explore", "--frobnicate"], ["unrecognized arguments: --frobnicate"]),
    (["replay", "no-such-file.json"], ["no such trace file"]),
    ([], ["required"]),
])
def test_usage_errors_are_one_line(argv, needles, tmp_path, capsys):
    assert_one_line_error(*run_cli(capsys, *argv, *(["--out", tmp_path] if argv[:1] == ["explore"] else [])),
                          *needles)


def test_load_module_that_raises_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_models_for_cli.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert_one_line_error(*run_cli(capsys, "list", "--load", "broken_models_for_cli"), "boom at import")


# ---- replay -------------------------------------------------------------------------------

def rewrite(path: Path, edit, reseal: bool) -> Path:
    data = json.loads(path.read_text())
    edit(data)
    if reseal:
        data["digest"] = traces.Trace.model_validate(data).content_digest()
    out = path.with_name("edited.json")
    out.write_text(json.dumps(data))
    return out


def test_replay_malformed_json(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, ')
    assert_one_line_error(*run_cli(capsys, "replay", bad), "not valid JSON")


def test_replay_wrong_schema_version(lost_update_trace, capsys):
    p = rewrite(lost_update_trace, lambda d: d.update(schema_version=99), reseal=False)
    assert_one_line_error(*run_cli(capsys, "replay", p), "schema version 99")


def test_replay_tampered_trace(lost_update_trace, capsys):
    def edit(d):
        d["steps"][0]["label"] = "something else"
    p = rewrite(lost_update_trace, edit, reseal=False)
    assert_one_line_error(*run_cli(capsys, "replay", p), "digest mismatch")


def test_replay_divergence_is_one_line(lost_update_trace, capsys):
    def edit(d):
        d["tape"][0][1] += 1  # the model asks a 2-way question there; the trace now claims 3
    p = rewrite(lost_update_trace, edit, reseal=True)
    assert_one_line_error(*run_cli(capsys, "replay", p), "diverged")


def test_replay_with_a_different_verdict_exits_3(lost_update_trace, capsys):
    p = rewrite(lost_update_trace, lambda d: d.update(verdict={"status": "ok"}), reseal=True)
    code, out, err = run_cli(capsys, "replay", p)
    assert code == 3
    assert err == ""
    assert out.count("\n") == 1 and out.startswith("verdict changed:") and "I-COUNTER" in out


def test_replay_on_the_trio_engine(lost_update_trace, capsys):
    code, out, _ = run_cli(capsys, "replay", lost_update_trace, "--engine", "trio")
    assert code == 1
    assert "replayed on trio" in out and "reproduced: I-COUNTER" in out


def test_long_step_log_is_cut_unless_verbose(own_registry, tmp_path, capsys):
    own_registry(lost_update(points=30))
    code, out, _ = run_cli(capsys, "explore", "--scenario", "lost-update-2x30", "--strategy", "dfs",
                           "--no-shrink", "--out", tmp_path)
    assert code == 1
    assert "<== I-COUNTER" in out  # the violating step is marked in the step log
    html, found = sorted(tmp_path.iterdir())   # --no-shrink: the trace and its report
    assert html.name == found.name.replace(".json", ".html")
    n = len(traces.load(found).steps)
    assert n == 60  # any interleaving runs both workers' 30 points; the invariant is checked at the end
    step_lines = [ln for ln in out.splitlines() if ln.strip().startswith("#")]
    assert len(step_lines) == cli.STEP_LOG_TAIL and step_lines[-1].strip().startswith(f"#{n} ")
    assert f"{n - cli.STEP_LOG_TAIL} earlier step(s) not shown" in out

    code, out, _ = run_cli(capsys, "replay", "-v", found)
    assert code == 1
    assert len([ln for ln in out.splitlines() if ln.strip().startswith("#")]) == n


# ---- list, bench, helpers -----------------------------------------------------------------

def test_list_shows_every_registered_scenario(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.split()[:3] == ["name", "bug", "expect"])
    end = next(i for i, ln in enumerate(lines) if "workload parameters" in ln)
    # a row's name starts at the first column; a wrapped description continues on lines that start blank
    rows = {ln.split()[0]: ln for ln in lines[start + 2:end] if ln.strip() and not ln.startswith("  ")}
    scenarios = registry.all_scenarios()
    assert set(rows) == {s.name for s in scenarios}
    for s in scenarios:
        assert s.expect in rows[s.name] and s.faults.describe() in rows[s.name]


def counter_model(name: str, extra: str = "") -> str:
    """The source of a user's own model: two unlocked increments (I-N: the lost update)."""
    return textwrap.dedent(f"""
        from sim import Scenario, at_end, point

        def setup(k):
            st = {{"n": 0}}
            async def inc():
                await point("read n", reads=("n",))
                v = st["n"]
                await point("write n", writes=("n",))
                st["n"] = v + 1
            for i in range(2):
                k.process(f"w{{i}}", lambda p: p.spawn("inc", inc))
            return st

        SCENARIOS = [Scenario({name!r}, setup, invariants=(at_end("I-N", lambda s: s["n"] == 2),),
                              expect="I-N", {extra})]
    """)


def test_user_module_outside_the_package(tmp_path):
    """--load registers a user's scenarios; its traces need the same --load to replay."""
    (tmp_path / "my_world.py").write_text(counter_model("user-counter", 'description="a user\'s own model"'))
    listed = sim_process("list", "--load", "my_world", cwd=tmp_path)
    assert listed.returncode == 0 and "user-counter" in listed.stdout and "a user's own model" in listed.stdout
    ex = sim_process("explore", "--scenario", "user-counter", "--load", "my_world", "--out", "out", cwd=tmp_path)
    assert ex.returncode == 1, ex.stderr
    path = only_file(tmp_path / "out")
    assert sim_process("replay", path, "--load", "my_world", cwd=tmp_path).returncode == 1
    # the trace records what was loaded: replay needs nothing else
    assert json.loads(path.read_text())["load"] == ["my_world"]
    assert sim_process("replay", path, cwd=tmp_path).returncode == 1
    elsewhere = sim_process("replay", path, cwd=tmp_path / "out")     # my_world is not importable there
    assert elsewhere.returncode == 2 and elsewhere.stderr.count("\n") == 1
    assert "comes from --load my_world, which cannot be loaded here" in elsewhere.stderr


def test_a_model_loaded_by_file_path_explores_replays_shrinks_and_reports_from_its_traces_alone(tmp_path):
    (tmp_path / "proj" / "models").mkdir(parents=True)
    (tmp_path / "proj" / "models" / "counter_world.py").write_text(counter_model("file-counter"))
    proj = tmp_path / "proj"
    ex = sim_process("explore", "--load", "models/counter_world.py", "--out", "out", cwd=proj)
    # "all" with --load is the loaded module's scenarios only
    assert ex.returncode == 0 and "file-counter" in ex.stdout and "claim-publish" not in ex.stdout, ex.stderr
    assert "all 1 scenario(s) matched" in ex.stdout
    shrunk = next((proj / "out").glob("*-shrunk.json"))
    assert json.loads(shrunk.read_text())["load"] == ["models/counter_world.py"]
    # from another folder: the relative path is found above the trace
    for argv, code in ((["replay", shrunk], 1), (["shrink", shrunk, "--out", tmp_path / "s"], 1),
                       (["report", shrunk], 0)):
        p = sim_process(*argv, cwd=tmp_path)
        assert p.returncode == code and "Traceback" not in p.stderr, (argv[0], p.stderr)
    missing = sim_process("explore", "--load", "models/nope.py", cwd=proj)
    assert missing.returncode == 2 and "no such file models/nope.py" in missing.stderr


def test_bench_passes_its_arguments_through(monkeypatch):
    seen = []
    fake = type(sys)("sim_bench.bench")
    fake.main = lambda argv: seen.append(argv) or 5
    monkeypatch.setitem(sys.modules, "sim_bench.bench", fake)
    assert cli.main(["bench", "--seed", "3", "-h", "lost-update", "--x=1"]) == 5
    assert seen == [["--seed", "3", "-h", "lost-update", "--x=1"]]


def test_help_documents_exit_codes(capsys):
    code, out, _ = run_cli(capsys, "explore", "--help")
    assert code == 0 and "mismatch" in out and "expectation" in out
    code, out, _ = run_cli(capsys, "replay", "--help")
    assert code == 0 and "3  the replay ran to the end but gives a different verdict" in out
    assert "4  an internal error of sim itself" in out


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("ci, tty, enabled", [("", True, True), ("true", True, False), ("", False, False)])
def test_progress_bar_only_on_an_interactive_stderr(ci, tty, enabled, monkeypatch):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(sys, "stderr", _Tty() if tty else io.StringIO())
    assert cli._progress_enabled() is enabled


def test_step_line_format():
    s = traces.Step(i=3, t=5, kind="run", actor="p1/w", process="p1", label="write [x]",
                    reads=["a", "b"], writes=["x"], notes=["n1", "n2"])
    assert format_step(s) == "#3 t=5 p1/w write [x] [r: a, b] [w: x]  -- n1; n2"
    buf = io.StringIO()
    tr = traces.Trace(schema_version=1, sim_version="0", scenario="s", revision="1", params={}, faults={},
                      max_steps=1, strategy={}, engine="fast", tape=[], steps=[s],
                      verdict=traces.Verdict(status="violation", invariant="I-X", step=3, message="m"))
    cli.print_step_log(Console(file=buf, width=200), tr)
    assert buf.getvalue() == "  #3 t=5 p1/w write [x] [r: a, b] [w: x]  -- n1; n2  <== I-X\n"  # no markup eaten


def test_a_workload_named_on_a_model_it_is_not_registered_for_is_built_not_a_traceback(capsys, tmp_path):
    # `workload@world:REV` given in full for an unregistered pair: built on demand, as with --model
    code, out, err = run_cli(capsys, "explore", "--scenario", "step-dup@postgres:B2", "--budget", "3",
                             "--no-shrink", "--out", str(tmp_path))
    assert "Traceback" not in out + err
    assert "step-dup@postgres:B2" in out


# ---- output paths and disk errors ---------------------------------------------------------

@pytest.mark.parametrize("out", ["a-file", "/dev/null"])
def test_an_out_that_is_not_a_folder_is_a_usage_error(out, tmp_path, capsys):
    if out == "a-file":
        out = tmp_path / "a-file"
        out.write_text("a user's file\n")
    assert_one_line_error(*run_cli(capsys, "explore", "--scenario", "claim-publish", "--out", out),
                          "exists and is not a folder")
    if not str(out).startswith("/dev"):
        assert out.read_text() == "a user's file\n"


def test_an_unwritable_out_keeps_the_verdict_and_says_the_trace_was_not_saved(tmp_path, capsys, monkeypatch):
    from sim import trace as traces

    def full_disk(*a, **kw):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(traces.tempfile, "mkstemp", full_disk)
    code, out, err = run_cli(capsys, "explore", "--scenario", "claim-publish", "--out", tmp_path / "t")
    assert code == 1 and "Traceback" not in out + err
    assert "I-ONE-CREATED violated" in out and "trace NOT saved: cannot write" in out
    assert "No space left on device" in out and "#8 " in out     # the counterexample is still shown


def test_a_huge_seed_gives_file_names_that_fit(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "explore", "--scenario", "claim-publish", "--seed", 10 ** 300, "--out", tmp_path)
    assert code == 1
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names and all(len(n.encode()) <= 200 for n in names)
    assert any(n.endswith("-shrunk.json") for n in names)


def test_temp_files_of_a_killed_writer_are_swept(tmp_path, capsys):
    import subprocess
    dead = subprocess.Popen(["true"])
    dead.wait()                     # a process id nobody holds any more
    left = tmp_path / f".claim-publish-x.json.{dead.pid}.tmpabc123"
    left.write_text("half a trace")
    mine = tmp_path / "notes.txt"
    mine.write_text("a user's notes")
    run_cli(capsys, "explore", "--scenario", "claim-publish", "--out", tmp_path)
    assert not left.exists() and mine.read_text() == "a user's notes"


def test_all_mode_tells_expected_violations_briefly_and_links_them_from_an_index(own_registry, tmp_path, capsys):
    own_registry(lost_update(), dataclasses.replace(lost_update(), name="buggy-but-expects-hold", expect="hold"))
    out_dir = tmp_path / "reports" / "traces"
    code, out, _ = run_cli(capsys, "explore", "--out", out_dir)
    assert code == 1
    # the expected one: two lines, no timeline; the mismatch: in full
    assert "lost-update: I-COUNTER found at execution" in out and "as expected" in out
    assert out.count("step ║") == 1 and "buggy-but-expects-hold: I-COUNTER violated" in out
    index = tmp_path / "reports" / "traces" / "index.html"
    assert f"reports: {index}" in out
    page = index.read_text()
    assert "1 of 2 scenario(s) matched" in page and "-shrunk.html" in page and 'class="bad"' in page
    code, out, _ = run_cli(capsys, "explore", "--out", out_dir, "--timelines")
    assert out.count("step ║") == 2     # --timelines: every violation in full
