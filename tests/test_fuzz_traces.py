"""A fuzzer of the trace loader and replay: Hypothesis mutates a real trace (its JSON values, its
structure, its bytes) and every outcome must be a loaded trace or a one-line TraceError, and every
loaded trace must replay to a result or a one-line TraceError: never another exception, never a hang.
Mutations that keep the digest valid are the interesting ones (the digest is recomputed, as a forger
would), so most examples reach replay."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim import registry
from sim import trace as traces
from sim.tracemodel import Trace


@pytest.fixture(scope="module")
def original() -> dict:
    sc = registry.get("claim-publish")
    res = sim.explore(sc, sim.DFS())
    return json.loads(sim.make_trace(sc, res.tape, strategy={"name": "dfs"}, execution=res.found_at).to_json())


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
                      st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
JSON = st.recursive(JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=12)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, path + (i,))


def _set(doc, path, new):
    if not path:
        return new
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = new
    return doc


def _reseal(doc):
    """Recompute the digest as a forger would (only when the rest still validates)."""
    try:
        t = Trace.model_validate(doc)
    except Exception:
        return doc
    doc = dict(doc)
    doc["digest"] = t.content_digest()
    return doc


def _load_and_replay(tmp_path, raw: bytes):
    p = tmp_path / "fuzzed.json"
    p.write_bytes(raw)
    try:
        t = traces.load(p)
    except traces.TraceError as e:
        assert "\n" not in str(e)
        return
    try:
        sim.replay(t)
    except traces.TraceError as e:
        assert "\n" not in str(e)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_value_loads_or_fails_in_one_line_and_replays_or_fails_in_one_line(original, tmp_path, data):
    doc = json.loads(json.dumps(original))
    paths = list(_paths(doc))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        try:
            doc = _set(doc, path, data.draw(JSON))
        except (KeyError, IndexError, TypeError):
            pass     # an earlier mutation replaced the parent
        paths = list(_paths(doc))
    if isinstance(doc, dict) and data.draw(st.booleans()):
        doc = _reseal(doc)
    _load_and_replay(tmp_path, json.dumps(doc, allow_nan=True).encode("utf-8", "surrogatepass"))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 10**6), junk=st.binary(max_size=16))
def test_truncated_or_corrupted_bytes_fail_in_one_line(original, tmp_path, cut, junk):
    raw = json.dumps(original).encode()
    cut %= len(raw) + 1
    _load_and_replay(tmp_path, raw[:cut] + junk + raw[cut + len(junk):])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_forged_tape_replays_or_diverges_in_one_line(original, tmp_path, data):
    """Tape edits with a recomputed digest: replay must diverge, mismatch or reproduce, never crash."""
    doc = json.loads(json.dumps(original))
    tape = doc["tape"]
    i = data.draw(st.integers(0, max(0, len(tape) - 1)))
    if tape:
        kind, n, v = tape[i]
        tape[i] = [kind, data.draw(st.integers(0, n + 2)), data.draw(st.integers(-1, n + 2))]
    if data.draw(st.booleans()):
        del tape[data.draw(st.integers(0, len(tape))):]
    _load_and_replay(tmp_path, json.dumps(_reseal(doc)).encode())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_forged_step_never_replays_as_reproduced(original, data):
    """Any edit of a step's fields, with the digest recomputed, is caught by the step-log comparison."""
    doc = json.loads(json.dumps(original))
    step = data.draw(st.sampled_from(doc["steps"]))
    field = data.draw(st.sampled_from(["label", "notes", "reads", "writes", "actor", "process", "t"]))
    new = {"label": st.text(min_size=1, max_size=10), "actor": st.text(min_size=1, max_size=10),
           "process": st.text(min_size=1, max_size=10), "t": st.integers(0, 10**6),
           "notes": st.lists(st.text(max_size=10), max_size=2), "reads": st.lists(st.text(max_size=10), max_size=2),
           "writes": st.lists(st.text(max_size=10), max_size=2)}[field]
    value = data.draw(new.filter(lambda v: v != step[field]))
    step[field] = value
    forged = Trace.model_validate(_reseal(doc))
    assert not sim.replay(forged).same
