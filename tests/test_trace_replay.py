"""Traces: replay gives the same verdict at the same step, divergence is loud, files are safe."""
from __future__ import annotations

import dataclasses
import json

import pytest

import sim
from sim import DFS, Faults, RandomWalk, Scenario, TraceError, explore, make_trace, point, ulid
from sim import registry
from sim.trace import load, save
from scenarios import engine_toys
from tests.outside_model import Record

BUGGY = [s for s in engine_toys.SCENARIOS if s.expect != "hold"]


def found(scn, strategy=None):
    strategy = strategy or RandomWalk(7)
    ex = explore(scn, strategy)
    assert ex.violation is not None, f"{scn.name}: nothing found"
    return make_trace(scn, ex.tape, strategy=strategy.describe(), execution=ex.found_at)


@pytest.fixture(scope="module")
def cp_trace():
    return found(registry.get("claim-publish"))


@pytest.mark.parametrize("scn", BUGGY, ids=lambda s: s.name)
def test_a_trace_replays_to_the_same_verdict_at_the_same_step(scn):
    t = found(scn, DFS())
    assert t.verdict.status == "violation" and t.verdict.invariant == scn.expect
    r = sim.replay(t)
    assert r.same and r.replayed.verdict.step == t.verdict.step
    assert r.replayed.to_json() == t.to_json()


@pytest.mark.parametrize("scn", [s for s in engine_toys.SCENARIOS if s.expect == "hold"], ids=lambda s: s.name)
def test_a_passing_trace_replays_ok(scn):
    rec = Record(RandomWalk(2))
    explore(scn, rec, budget=5)
    for run in rec.runs:
        t = make_trace(scn, run.tape, strategy={"name": "random"})
        assert t.verdict.status == "ok"
        assert sim.replay(t).replayed.to_json() == t.to_json()


def test_a_saved_violation_replays_1000_times_with_the_same_verdict(cp_trace, tmp_path):
    path = save(cp_trace, tmp_path, "claim-publish")
    t = load(path)
    results = [sim.replay(t) for _ in range(1000)]
    assert all(r.same for r in results)
    assert {r.replayed.digest for r in results} == {t.digest}  # byte-identical every time
    assert t.verdict.invariant == "I-ONE-CREATED"


# ---- divergence ---------------------------------------------------------------------------

def with_one_more_actor(scn: Scenario) -> Scenario:
    def setup(k):
        st = scn.setup(k)

        async def extra():
            await point("one more point")
        k.process("late-comer", lambda p: p.spawn("a", extra))
        return st
    return dataclasses.replace(scn, setup=setup, revision="2")


def test_replay_against_a_changed_model_names_the_step_and_revisions(cp_trace):
    with pytest.raises(TraceError) as e:
        sim.replay(cp_trace, scenario=with_one_more_actor(registry.get("claim-publish")))
    msg = str(e.value)
    assert "\n" not in msg
    assert "replay diverged at step" in msg and "choice 0" in msg
    assert "revision 1" in msg and "revision 2" in msg


def serial(points_of_first: int, revision: str) -> Scenario:
    def setup(k):
        async def worker(n):
            for i in range(n):
                await point(f"step {i}")
        k.process("p1", lambda p: p.spawn("a", worker, points_of_first))
        k.process("p2", lambda p: p.spawn("a", worker, 3))
    return Scenario("serial", setup, revision=revision)


def test_divergence_names_the_step_being_decided():
    # rev 1: p1 runs steps 1-3 (choices 0-2), p2 finishes alone. rev 2: p1 has a 4th point, so
    # deciding step 4 asks a 4th choice the trace does not have
    t = make_trace(serial(3, "1"), [0, 0, 0], strategy={"name": "test"})
    assert [s.i for s in t.steps] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(TraceError, match=r"diverged at step 4, choice 3"):
        sim.replay(t, scenario=serial(4, "2"))


def test_divergence_on_the_trio_engine_is_a_trace_error(cp_trace):
    with pytest.raises(TraceError, match="replay diverged"):
        sim.replay(cp_trace, engine="trio", scenario=with_one_more_actor(registry.get("claim-publish")))


def test_a_truncated_tape_is_a_divergence(cp_trace):
    short = cp_trace.model_copy(update={"tape": cp_trace.tape[:-1]})
    with pytest.raises(TraceError, match="the trace recorded no more choices"):
        sim.replay(short)


def test_extra_choices_are_a_divergence(cp_trace):
    long = cp_trace.model_copy(update={"tape": cp_trace.tape + [("step", 2, 0)]})
    with pytest.raises(TraceError, match=r"1 more choice\(s\)"):
        sim.replay(long)


def test_a_different_choice_range_is_a_divergence(cp_trace):
    kind, n, v = cp_trace.tape[0]
    bad = cp_trace.model_copy(update={"tape": [(kind, n + 1, v)] + cp_trace.tape[1:]})
    with pytest.raises(TraceError, match=f"among {n + 1}.*among {n}"):
        sim.replay(bad)


def ulid_last() -> Scenario:
    def setup(k):
        async def minter():
            await point("mint")
            ulid()
        k.process("p1", lambda p: p.spawn("a", minter))
        k.process("p2", lambda p: p.spawn("a", minter))
    return Scenario("ulid-last", setup)


def test_a_truncated_data_choice_is_reported_as_missing():
    t = make_trace(ulid_last(), [0, 5, 6], strategy={"name": "test"})
    assert [k for k, _, _ in t.tape] == ["step", "ulid", "ulid"]
    short = t.model_copy(update={"tape": t.tape[:-1]})
    with pytest.raises(TraceError, match="the trace recorded no more choices"):
        sim.replay(short, scenario=ulid_last())


def test_unknown_scenario_is_a_trace_error(cp_trace):
    with pytest.raises(TraceError, match="unknown scenario 'nope'"):
        sim.replay(cp_trace.model_copy(update={"scenario": "nope"}))


# ---- load ---------------------------------------------------------------------------------

def one_line_error(path) -> str:
    with pytest.raises(TraceError) as e:
        load(path)
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


def edited(cp_trace, tmp_path, edit) -> str:
    data = json.loads(cp_trace.to_json())
    edit(data)
    p = tmp_path / "edited.json"
    p.write_text(json.dumps(data))
    return one_line_error(p)


def test_load_missing_file(tmp_path):
    assert "no such trace file" in one_line_error(tmp_path / "absent.json")


def test_load_malformed_json(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"schema_version": 1,')
    assert "not valid JSON" in one_line_error(p)


def test_load_not_an_object(tmp_path):
    p = tmp_path / "list.json"
    p.write_text("[1, 2]")
    assert "not a sim trace" in one_line_error(p)


def test_load_wrong_schema_version(cp_trace, tmp_path):
    assert "schema version 99" in edited(cp_trace, tmp_path, lambda d: d.update(schema_version=99))


def test_load_missing_field(cp_trace, tmp_path):
    assert "malformed trace: verdict" in edited(cp_trace, tmp_path, lambda d: d.pop("verdict"))


def test_load_tampered_field(cp_trace, tmp_path):
    def tamper(d):
        d["tape"][0][2] = 1 - d["tape"][0][2]
    assert "digest mismatch" in edited(cp_trace, tmp_path, tamper)


def test_load_round_trips(cp_trace, tmp_path):
    t = load(save(cp_trace, tmp_path, "t"))
    assert t == cp_trace and t.to_json() == cp_trace.to_json()


# ---- save ---------------------------------------------------------------------------------

def test_save_never_overwrites_a_different_file_and_dedups(cp_trace, tmp_path):
    other = found(engine_toys.lost_update())
    first = save(cp_trace, tmp_path, "t")
    second = save(other, tmp_path, "t")
    assert (first.name, second.name) == ("t.json", "t-1.json")
    assert first.read_text() == cp_trace.to_json() and second.read_text() == other.to_json()
    assert save(cp_trace, tmp_path, "t") == first and save(other, tmp_path, "t") == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t-1.json", "t.json"]  # no temp file left


def test_save_keeps_a_users_file(cp_trace, tmp_path):
    mine = tmp_path / "t.json"
    mine.write_text("my notes\n")
    p = save(cp_trace, tmp_path, "t")
    assert mine.read_text() == "my notes\n" and p.name == "t-1.json"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["t-1.json", "t.json"]


def test_saved_trace_is_canonical_json(cp_trace, tmp_path):
    raw = save(cp_trace, tmp_path, "t").read_text()
    assert raw == cp_trace.to_json() and raw.endswith("\n")
    assert json.loads(raw)["digest"] == cp_trace.content_digest()


def test_trace_with_faults_round_trips(tmp_path):
    scn = engine_toys.crash_orphan()
    t = found(scn, DFS())
    assert any(s.kind == "crash" for s in t.steps) and t.faults == {"crashes": 1, "redeliveries": 0}
    back = load(save(t, tmp_path, "orphan"))
    assert sim.replay(back).same
    assert Faults(**back.faults) == scn.faults


@pytest.mark.parametrize("text, needle", [
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ('{"a": ' * 5000 + "1" + "}" * 5000, "nested too deeply"),
    ('{"schema_version": 1, "max_steps": ' + "9" * 5000 + "}", "integer too long"),
    ('{"schema_version": true}', "schema version True is not supported"),
    (b"\xff\xfe not utf-8", "not UTF-8"),
])
def test_load_refuses_hostile_json_in_one_line(text, needle, tmp_path):
    p = tmp_path / "hostile.json"
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    assert needle in one_line_error(p)


def test_load_refuses_a_lone_surrogate(cp_trace, tmp_path):
    text = cp_trace.to_json().replace('"claim-publish"', '"claim-publish\\ud800"', 1)
    p = tmp_path / "surrogate.json"
    p.write_text(text)
    assert "lone surrogate" in one_line_error(p)


def test_load_refuses_what_is_not_a_regular_file(tmp_path):
    import os
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert "not a regular file" in one_line_error(fifo)        # would block forever on open/read
    assert "not a regular file" in one_line_error("/dev/zero")  # would fill memory
    assert "is a directory" in one_line_error(tmp_path)


def test_load_refuses_steps_out_of_order_and_tape_values_out_of_range(cp_trace, tmp_path):
    """A forger can reseal a trace no execution records; the report's graph would get a cycle."""
    from sim.tracemodel import Trace
    doc = json.loads(cp_trace.to_json())
    doc["steps"][2]["i"] = doc["steps"][1]["i"]
    p = tmp_path / "dup.json"
    p.write_text(Trace.model_validate(doc).sealed().to_json())
    assert "steps are numbered upwards" in one_line_error(p)
    doc = json.loads(cp_trace.to_json())
    kind, n, _ = doc["tape"][0]
    doc["tape"][0] = [kind, n, n]
    p.write_text(Trace.model_validate(doc).sealed().to_json())
    assert "outside 0.." in one_line_error(p)
