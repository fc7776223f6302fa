"""Registered world-local workloads on a real directory: the model's verdicts, found at the same
execution (the fs backend touches the same store keys, so every strategy takes the same path), and
traces that replay on either backend."""
from __future__ import annotations

import pytest

import sim
from sim import backends, registry
from sim import strategy as strategies
from sim.cli import main

from benchmarks.backends_fs import agreement


@pytest.mark.parametrize("name", ["hook-pairs@local:B3", "hook-1665-crash@local:L1", "hook-dup-retry@local:L1"])
def test_a_registered_workload_gives_the_models_verdict_on_a_real_directory(name):
    [(row_name, expect, model, fs, same)] = agreement(budget=40, seed=1, names=[name])
    assert same, (model, fs)
    assert registry.get(name).expects("hold" if fs.verdict == "holds" else fs.verdict)


def test_a_trace_found_on_the_real_directory_replays_on_the_model_and_on_the_directory():
    sc = registry.get("hook-pairs@local:B3")
    with backends.using("fs"):
        res = sim.explore(sc, strategies.make("portfolio", 1), budget=40)
        assert res.violation is not None and res.violation.invariant == "I-H1"
        trace = sim.make_trace(sc, res.tape, strategy=res.strategy)
        assert trace.backend == "fs" and sim.replay(trace).same
    with backends.using("model"):
        assert sim.replay(trace).same      # the same verdict AND the same step log on the model
        # the same tape recorded on the model: the very same trace but for the backend it names
        on_model = sim.make_trace(sc, res.tape, strategy=res.strategy)
        assert on_model.backend == "model"
        assert on_model.model_copy(update={"backend": "fs"}).sealed().digest == trace.digest


def test_cli_backend_fs_explores_world_local_only(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(backends.ENV, "model")
    assert main(["explore", "--scenario", "hook-pairs@local:B3", "--backend", "fs", "--budget", "20",
                 "--no-shrink", "--out", str(tmp_path)]) == 1
    assert "I-H1" in capsys.readouterr().out
    [trace] = tmp_path.glob("*.json")
    assert main(["replay", str(trace), "--backend", "fs"]) == 1   # reproduced on the directory
    assert main(["replay", str(trace), "--backend", "model"]) == 1
    assert "reproduced: I-H1" in capsys.readouterr().out
    assert main(["explore", "--scenario", "step-2331@postgres:P2", "--backend", "fs"]) == 2
    assert "world-local scenarios only" in capsys.readouterr().err
    # several scenarios: explored in worker processes, which inherit the backend (B14 and B15 find I-S1)
    assert main(["explore", "--scenario", "step-create-pair", "--backend", "fs", "--budget", "30", "--no-shrink",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "not on world-local left out" in out and "step-create-pair@local:B15" in out and "postgres:" not in out
    assert main(["explore", "--backend", "nfs"]) == 2
