"""Replay compares the whole step log, recomputed from the model: a renamed step, a changed or
dropped footprint, a changed note or a forged step log does not replay as "reproduced", and the
message names the first step that differs (not where the tape ran out)."""
from __future__ import annotations

import json

import pytest

import sim
from sim import Scenario, TraceError, cli, make_trace, note, point
from sim import trace as traces


def two_workers(*, label="write x", reads=("x",), noted="wrote x", extra_point=False, revision="1"):
    """Two processes each read then write key x; `label`, `reads`, `noted` and `extra_point` are the
    knobs a later version of the model might turn."""
    def setup(k):
        async def worker(name):
            await point("read x", reads=reads)
            await point(label, writes=("x",))
            note(f"{noted} by {name}")
            if extra_point:
                await point("one more step")
        k.process("p1", lambda p: p.spawn("w", worker, "p1"))
        k.process("p2", lambda p: p.spawn("w", worker, "p2"))
    return Scenario("two-workers", setup, revision=revision)


@pytest.fixture(scope="module")
def recorded():
    return make_trace(two_workers(), [1, 1, 0], strategy={"name": "test"})


def test_the_same_model_reproduces_with_the_same_log(recorded):
    r = sim.replay(recorded, scenario=two_workers())
    assert r.same and r.step_difference is None


@pytest.mark.parametrize("change, field, needle", [
    (dict(label="put x"), "label", "'put x'"),
    (dict(reads=()), "reads", "['x']"),                 # a dropped READ footprint
    (dict(noted="stored x"), "notes", "stored x by"),
])
def test_a_changed_model_with_the_same_verdict_is_a_behaviour_change(recorded, change, field, needle):
    r = sim.replay(recorded, scenario=two_workers(**change))
    assert r.same_verdict and not r.same            # the verdict alone would have passed
    msg = r.describe_mismatch()
    assert msg.startswith("behaviour changed: step ") and f"{field}: trace has" in msg and needle in msg
    first = min(s.i for s, t in zip(recorded.steps, r.replayed.steps) if s != t)
    assert msg.startswith(f"behaviour changed: step {first} "), msg
    assert "\n" not in msg


def test_a_forged_step_log_with_a_recomputed_digest_is_not_reproduced(recorded, tmp_path):
    data = json.loads(recorded.to_json())
    data["steps"][1]["label"] = "something else"
    data["steps"][2]["notes"] = ["forged"]
    forged = traces.Trace.model_validate(data).sealed()         # a digest that matches the forgery
    assert forged.digest != recorded.digest
    r = sim.replay(forged, scenario=two_workers())
    assert not r.same and f"step {data['steps'][1]['i']} " in r.step_difference
    assert "trace has 'something else'" in r.step_difference


def test_a_divergence_names_the_first_step_that_changed_not_where_the_tape_ran_out(recorded):
    # the new model renames the second step AND asks more questions later: the message leads with
    # the rename, which is where behaviour first changed
    with pytest.raises(TraceError) as e:
        sim.replay(recorded, scenario=two_workers(label="put x", extra_point=True, revision="2"))
    msg = str(e.value)
    assert msg.startswith("behaviour changed at step ") and "label: trace has 'write x'" in msg, msg
    assert "replay diverged" in msg and "\n" not in msg


def test_a_divergence_with_an_unchanged_prefix_says_only_where_it_diverged(recorded):
    with pytest.raises(TraceError) as e:
        sim.replay(recorded, scenario=two_workers(extra_point=True, revision="2"))
    assert str(e.value).startswith("replay diverged at step "), str(e.value)


def test_the_cli_replay_of_a_forged_regression_exits_3_and_regress_refuses_it(tmp_path, capsys):
    d = tmp_path / "found"
    assert cli.main(["explore", "--scenario", "claim-publish", "--seed", "1", "--no-shrink", "--out", str(d)]) == 1
    [path] = d.glob("*.json")
    capsys.readouterr()
    data = json.loads(path.read_text())
    data["steps"][0]["notes"] = data["steps"][0]["notes"] + ["forged note"]
    forged = traces.Trace.model_validate(data).sealed()
    fp = tmp_path / "forged.json"
    fp.write_text(forged.to_json())
    assert cli.main(["replay", str(fp)]) == 3
    out = capsys.readouterr().out
    assert "behaviour changed: step " in out and "forged note" in out
    corpus = tmp_path / "corpus"
    assert cli.main(["regress", str(fp), "--name", "forged", "--dir", str(corpus)]) == 2
    assert "a regression must replay as recorded" in capsys.readouterr().err
    assert not corpus.exists() or not any(corpus.iterdir())


# ---- a nondeterministic model: each new counterexample is run twice -------------------------

MODEL_READING_A_GLOBAL = '''
import itertools
from sim import Scenario, at_end, point, note

CALLS = itertools.count()   # process-global state: a stand-in for the wall clock or `random`


def setup(k):
    st = {"n": 0}

    async def inc():
        await point("read n", reads=("n",))
        v = st["n"]
        await point("write n", writes=("n",))
        st["n"] = v + 1
        note(f"call {next(CALLS)}")      # differs between two runs of the same tape
    for i in range(2):
        k.process(f"w{i}", lambda p: p.spawn("inc", inc))
    return st


SCENARIOS = [Scenario("leaky-counter", setup, invariants=(at_end("I-N", lambda s: s["n"] == 2),), expect="I-N")]
'''


def test_a_counterexample_from_a_nondeterministic_model_is_reported_with_the_step(tmp_path, monkeypatch, capsys,
                                                                                 isolated_registry):
    (tmp_path / "leaky_model_for_replay_tests.py").write_text(MODEL_READING_A_GLOBAL)
    monkeypatch.syspath_prepend(str(tmp_path))
    code = cli.main(["explore", "--scenario", "leaky-counter", "--load", "leaky_model_for_replay_tests",
                     "--seed", "1", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "the model is nondeterministic: two runs of the same tape differ at step " in err
    assert "notes: the first run has [" in err and "'call " in err
