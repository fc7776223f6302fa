"""Counterexample reports: what each format shows is what the trace holds, and nothing leaks.

Traces come from real explorations: B3 (two processes, one hook published twice: I-H1) under
portfolio seed 3, and seed 1, whose counterexample crashes p2, restarts it as p2#1 and
redelivers a message to it.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from html import unescape

import networkx as nx
import pytest

from models.events import short
from sim import registry
from sim.explore import explore, make_trace
from sim.report import FORMATS, happens_before, html, markdown, render, swimlane, to_dot
from sim.report.lanes import abbreviate
from sim.strategy import make

ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")


def _trace(name: str, seed: int):
    s = registry.get(name)
    res = explore(s, make("portfolio", seed))
    assert res.violation is not None
    return make_trace(s, res.tape, strategy=res.strategy, execution=res.found_at)


@pytest.fixture(scope="module")
def b3():
    return _trace("hook-pairs@local:B3", 3)


@pytest.fixture(scope="module")
def crashed():
    t = _trace("hook-pairs@local:B3", 1)
    # the properties below are about crashes and redeliveries: the seed must still give one of each
    assert any(s.kind == "crash" for s in t.steps) and any(s.kind == "redeliver" for s in t.steps)
    return t


@pytest.fixture(scope="module", params=["b3", "crashed"])
def trace(request):
    return request.getfixturevalue(request.param)


# ---- reading the swimlane back ---------------------------------------------------------------

def _lanes_from_header(text: str) -> list[tuple[str, str]]:
    """(process, lane title) per column, read off the two header rows only."""
    procs, titles = text.splitlines()[:2]
    out = []
    for p, t in zip(procs.split("║")[1:], titles.split("║")[1:]):
        out += [(p.strip(), cell.strip()) for cell in t.split("│")]
    return out


def _cells(line: str) -> tuple[str, list[str]]:
    head, *procs = line.split("║")
    return head.strip(), [c.strip() for p in procs for c in p.split("│")]


def _step_rows(text: str) -> dict[int, list[str]]:
    """Step number -> the lines of its row block (the line with the number, then continuations)."""
    rows: dict[int, list[str]] = {}
    current = None
    for line in text.splitlines()[3:]:
        if "║" not in line:
            break
        head = _cells(line)[0]
        if head:
            current = int(head.lstrip("► "))
            rows[current] = []
        rows[current].append(line)
    return rows


def test_every_actor_has_a_column_under_its_process(trace):
    text = swimlane(trace)
    lanes = _lanes_from_header(text)
    actors = {s.actor: s.process for s in trace.steps if s.actor}
    for actor, process in actors.items():
        incarnation, role = actor.split("/", 1)
        mine = [title for p, title in lanes if p == process and title.split(" (")[0] == role]
        assert len(mine) == 1, (actor, lanes)
        if incarnation != process:           # a restarted incarnation is named in its lane's title
            assert incarnation in mine[0]
    assert [p for p, _ in lanes] == sorted((p for p, _ in lanes), key=lambda p: int(p[1:]))


def test_each_step_is_written_in_its_actors_column_only(trace):
    text = swimlane(trace)
    lanes = _lanes_from_header(text)
    rows = _step_rows(text)
    assert sorted(rows) == [s.i for s in trace.steps]
    for s in trace.steps:
        if s.kind not in ("run", "redeliver"):
            continue
        cells = _cells(rows[s.i][0])[1]
        filled = [k for k, c in enumerate(cells) if c]
        assert len(filled) == 1
        process, title = lanes[filled[0]]
        assert process == s.process and title.split(" (")[0] == s.actor.split("/", 1)[1]
        label = abbreviate(s.label)
        assert label.startswith(cells[filled[0]].rstrip("…").removeprefix("↺ ").removeprefix("⇥ "))


def test_the_violating_step_is_marked_and_the_verdict_closes_the_timeline(trace):
    text = swimlane(trace)
    marked = [line for line in text.splitlines() if line.lstrip().startswith("►")]
    assert len(marked) == 1 and int(_cells(marked[0])[0].lstrip("► ")) == trace.verdict.step
    v = trace.verdict
    assert text.rstrip().splitlines()[-1].endswith(abbreviate(v.describe()))
    assert f"{v.invariant} violated" in "".join(_step_rows(text)[v.step])


def test_a_crash_row_cuts_across_its_process_only(crashed):
    text = swimlane(crashed)
    rows = _step_rows(text)
    lanes = _lanes_from_header(text)
    crash = next(s for s in crashed.steps if s.kind == "crash")
    cells = _cells(rows[crash.i][0])[1]
    mine = [k for k, (p, _) in enumerate(lanes) if p == crash.process]
    assert f"CRASH {crash.process}" in " ".join(cells[k] for k in mine)
    assert f"restart {crash.process} as {crash.process}#1" in " ".join(cells[k] for k in mine)
    assert not any(cells[k] for k in range(len(lanes)) if k not in mine)
    redelivery = next(s for s in crashed.steps if s.kind == "redeliver")
    assert "↺ redeliver" in rows[redelivery.i][0]


def test_a_clock_jump_runs_across_every_lane_and_orders_the_steps_around_it():
    t = _trace("hook-1665-crash@postgres:P3", 2)   # a seed whose counterexample has a clock jump and two processes
    jump = next(s for s in t.steps if s.kind == "time")
    assert {s.process for s in t.steps if s.process} == {"p1", "p2"}
    text = swimlane(t)
    line = _step_rows(text)[jump.i][0]
    assert "⏱ clock" in line and line.count("║") == line.count("║", 0, line.index("⏱")) == 1
    g = happens_before(t)
    before = [s.i for s in t.steps if s.kind == "run" and s.i < jump.i]
    after = [s.i for s in t.steps if s.kind == "run" and s.i > jump.i]
    assert nx.has_path(g, before[-1], jump.i) and nx.has_path(g, jump.i, after[0])


def test_ids_are_abbreviated_like_the_models_notes_and_nowhere_left_whole(b3):
    whole = sorted({m for s in b3.steps for k in s.writes for m in re.findall(r"[a-z]+_" + ULID.pattern, k)})
    assert whole  # the trace does carry ULID ids
    for full in whole:
        assert abbreviate(full) == short(full)
    assert abbreviate("x/wrun_01KDVDNA00B3V1N73GTH6W588C-hook_01KDVDNA00N7V08MPYDE7G2NXH]") == \
        "x/wrun_…588C-hook_…2NXH]"
    for fmt in FORMATS:
        assert not ULID.search(render(b3, fmt)), fmt


def test_long_texts_are_cut_to_the_width(b3):
    long = "PUT " + "/".join(["segment"] * 40)
    t = b3.model_copy(update={"steps": [b3.steps[0].model_copy(update={"label": long})] + b3.steps[1:]})
    text = swimlane(t, width=100)
    table = text.rstrip().splitlines()[:-2]            # the verdict line below the table is not cut
    assert max(len(line) for line in table) <= 100
    first = _cells(_step_rows(text)[t.steps[0].i][0])[1]
    assert any(c.startswith("PUT segment/") and c.endswith("…") for c in first)


# ---- Mermaid -----------------------------------------------------------------------------------

_MERMAID_FORMS = [
    r"sequenceDiagram",
    r"box rgb\(\d+, \d+, \d+\) .+",
    r"end",
    r"participant [AS]\d+ as .+",
    r"participant K as kernel",
    r"[AS]\d+-?->>[AS]\d+: .+",
    r"Note (over|right of|left of) [AS]\d+(,[AS]\d+)?: .+",
    r"rect rgb\(\d+, \d+, \d+\)",
]


def _mermaid_block(md: str) -> list[str]:
    m = re.search(r"^```mermaid\n(.*?)^```$", md, re.S | re.M)
    assert m, "no mermaid block"
    return [line.strip() for line in m.group(1).splitlines()]


def _decode(alias: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), alias).replace("#lt;", "<").replace(
        "#gt;", ">").replace("#amp;", "&")


def test_mermaid_has_one_participant_per_actor_boxed_by_process(trace):
    lines = _mermaid_block(markdown(trace))
    assert lines[0] == "sequenceDiagram"
    actors, box = {}, None
    for line in lines:
        if line.startswith("box "):
            box = _decode(line.split(" process ", 1)[1])
        elif line == "end" and box is not None:
            box = None
        elif line.startswith("participant A"):
            assert box is not None, "an actor outside its process's box"
            name = _decode(line.split(" as ", 1)[1])
            actors[name] = box
    assert actors == {s.actor: s.process for s in trace.steps if s.actor}
    stores = {_decode(line.split(" as ", 1)[1]) for line in lines if line.startswith("participant S")}
    assert {k.split("/", 1)[0] for s in trace.steps for k in s.writes[:1]} <= stores


def test_mermaid_lines_are_all_known_statements(trace):
    lines = _mermaid_block(markdown(trace))
    declared = {line.split()[1] for line in lines if line.startswith("participant ")}
    depth = 0
    for line in lines:
        assert any(re.fullmatch(f, line) for f in _MERMAID_FORMS), line
        # `;` ends a statement and `#` starts a comment unless they are entity codes
        assert ";" not in re.sub(r"#\w+;", "", line) and "#" not in re.sub(r"#\w+;", "", line), line
        for ref in re.findall(r"\b[AS]\d+\b|\bK\b", line.split(":", 1)[0]):
            assert ref in declared, line
        depth += line.startswith(("box ", "rect ")) - (line == "end")
        assert depth >= 0
    assert depth == 0


def test_mermaid_marks_crash_redelivery_and_the_violation(crashed):
    text = "\n".join(_mermaid_block(markdown(crashed)))
    assert re.search(r"Note over A\d+,A\d+: \[\d+\] ✗ CRASH p2", text)    # over both p2 incarnations
    assert re.search(r"Note over A\d+: \[\d+\] ↺ redeliver", text)
    v = crashed.verdict
    assert re.search(rf"rect rgb\([^)]*\)\n.*\[{v.step}\] .*\nNote over A\d+: ► {v.invariant} violated\nend", text)


# ---- HTML --------------------------------------------------------------------------------------

def test_html_is_self_contained(trace):
    page = html(trace, stats="executions 8")
    low = page.lower()
    for bad in ("http://", "https://", "<script", "<link", "src=", "url(", "@import"):
        assert bad not in low, bad
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_html_table_groups_actor_columns_under_process_headers(crashed):
    page = html(crashed)
    procs = re.findall(r'<th class="pstart" colspan="(\d+)">([^<]*)</th>', page)
    roles = re.search(r'<tr class="roles">(.*?)</tr>', page).group(1)
    titles = [unescape(t) for t in re.findall(r"<th[^>]*>([^<]*)</th>", roles)]
    assert sum(int(n) for n, _ in procs) == len(titles)
    assert [p for _, p in procs] == ["p1", "p2"]
    assert "consumer (p2, p2#1)" in titles
    crash = next(s for s in crashed.steps if s.kind == "crash")
    assert re.search(rf'<tr id="step-{crash.i}" class="crash">.*CRASH p2', page)
    assert f'<tr id="step-{crashed.verdict.step}" class="run violation">' in page


def test_every_text_from_the_trace_is_escaped(b3):
    evil = "<b>&amp; \"x\" <script>"
    steps = [s.model_copy(update={"label": evil, "notes": [evil]}) if s.i == 1 else s for s in b3.steps]
    t = b3.model_copy(update={"steps": steps, "scenario": "<i>scn</i>"})
    page = html(t, stats="<stats> & ```")
    assert "<b>" not in page and "<i>" not in page and "<script>" not in page and "<stats>" not in page
    assert "&lt;b&gt;&amp;amp; &quot;x&quot; &lt;script&gt;" in page
    assert "&lt;stats&gt; &amp; ```" in page
    md = markdown(t, stats="<stats> & ```")
    assert "````text\n<stats> & ```\n````" in md          # a fence longer than the content's backticks
    assert "# Counterexample: &lt;i&gt;scn&lt;/i&gt;" in md
    assert "#lt;b#gt;#amp;amp#59; \"x\" #lt;script#gt;" in "\n".join(_mermaid_block(md))
    assert 'label="#1 p1/consumer\\n<b>&amp; \\"x\\" <script>"' in render(t, "dot")


# ---- happens-before ----------------------------------------------------------------------------

def test_hb_is_a_dag_keeping_program_order_and_every_conflict(trace):
    g = happens_before(trace)
    assert nx.is_directed_acyclic_graph(g)
    assert sorted(g.nodes) == [s.i for s in trace.steps]
    for s in trace.steps:
        assert g.nodes[s.i] == {"actor": s.actor, "process": s.process, "label": s.label, "kind": s.kind}
    reach = {n: nx.descendants(g, n) for n in g.nodes}
    steps = trace.steps
    for a_i, a in enumerate(steps):
        for b in steps[a_i + 1:]:
            same_actor = a.kind == b.kind == "run" and a.actor and a.actor == b.actor
            conflict = (set(a.writes) & (set(b.reads) | set(b.writes))) or (set(a.reads) & set(b.writes))
            if same_actor or conflict:
                assert b.i in reach[a.i], (a.i, b.i)


def test_hb_is_transitively_reduced(b3):
    g = happens_before(b3)
    for u, v in list(g.edges):
        h = g.copy()
        h.remove_edge(u, v)
        assert not nx.has_path(h, u, v), (u, v)


def test_hb_orders_the_two_hook_created_writes_of_the_violation(b3):
    hook = re.search(r"for hook (\S+)", b3.verdict.message).group(1)
    publishes = [s.i for s in b3.steps if any(n.startswith(f"published hook_created {hook} ") for n in s.notes)]
    assert len(publishes) == 2 and b3.verdict.step in publishes
    assert nx.has_path(happens_before(b3), publishes[0], publishes[1])


def test_hb_crash_precedes_the_next_incarnation_and_redelivery_its_consumers_next_step(crashed):
    g = happens_before(crashed)
    crash = next(s for s in crashed.steps if s.kind == "crash")
    reborn = [s.i for s in crashed.steps if s.actor.startswith(f"{crash.process}#1/")]
    assert reborn and all(nx.has_path(g, crash.i, i) for i in reborn)
    before = [s.i for s in crashed.steps if s.i < crash.i and s.actor.startswith(f"{crash.process}/")]
    assert before and nx.has_path(g, before[-1], crash.i)
    r = next(s for s in crashed.steps if s.kind == "redeliver")
    nxt = next(s.i for s in crashed.steps if s.i > r.i and s.kind == "run" and s.actor == r.actor)
    assert nx.has_path(g, r.i, nxt)


def test_dot_names_every_step_in_its_process_cluster_and_colours_the_violation(crashed):
    dot = render(crashed, "dot")
    assert dot == to_dot(happens_before(crashed), crashed)
    assert dot.startswith("digraph happens_before {") and dot.rstrip().endswith("}")
    for s in crashed.steps:
        assert re.search(rf"^\s+s{s.i} \[label=", dot, re.M), s.i
    clusters = re.findall(r"subgraph cluster_\d+ \{\n\s+label=\"process (\w+)\";\n((?:\s+s\d+ \[.*\n)+)", dot)
    assert [p for p, _ in clusters] == ["p1", "p2"]
    for p, body in clusters:
        ids = {int(i) for i in re.findall(r"s(\d+) \[", body)}
        assert ids == {s.i for s in crashed.steps if s.process == p}
    assert re.search(rf"s{crashed.verdict.step} \[label=.*fillcolor=\"#ff9d9d\"", dot)
    assert dot.count("{") == dot.count("}")


# ---- determinism and the entry point -------------------------------------------------------------

_DIGESTS = """
import hashlib, sys
from sim import registry
from sim.explore import explore, make_trace
from sim.report import FORMATS, render
from sim.strategy import make
s = registry.get("hook-pairs@local:B3")
r = explore(s, make("portfolio", 1))
t = make_trace(s, r.tape, strategy=r.strategy, execution=r.found_at)
print(" ".join(hashlib.sha256(render(t, f, stats="x").encode()).hexdigest() for f in FORMATS))
"""


def test_reports_are_byte_identical_across_processes_and_hash_seeds(crashed):
    here = " ".join(hashlib.sha256(render(crashed, f, stats="x").encode()).hexdigest() for f in FORMATS)
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _DIGESTS], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == here


def test_render_rejects_unknown_formats_and_passes_stats(b3):
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        render(b3, "pdf")
    assert "executions: 8" in render(b3, "md", stats="executions: 8")
    assert "executions: 8" in render(b3, "html", stats="executions: 8")
    assert render(b3, "text") == swimlane(b3)


def test_each_preemption_is_marked_where_it_happens(trace):
    preempting = [s.i for s in trace.steps if any(n.startswith("preempts ") for n in s.notes)]
    assert preempting   # both fixtures' schedules switch away from a running actor at least once
    marked = [int(_cells(line)[0].lstrip("► ")) for line in swimlane(trace).splitlines()
              if "⇥ " in line and _cells(line)[0].strip()]
    assert marked == preempting
