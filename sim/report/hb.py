"""The happens-before graph of a trace (networkx), and its DOT text.

Nodes are step indices. An edge u -> v (u < v) says step v could not have moved before u:
  program    consecutive steps of one actor;
  conflict   u and v touch a key and at least one of them writes it (the footprints);
  crash      the crash follows the last steps of the actors it kills, and precedes every step
             of the process's next incarnation;
  redeliver  the redelivery precedes the consumer's next step;
  clock      a clock jump is seen by every actor (now(), timeouts): it follows each actor's
             previous step and precedes each actor's next one.
The result is the transitive reduction: only edges no path already implies, so it stays readable.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.tracemodel import Trace

import networkx as nx

from sim.report import lanes as L

MAX_LABEL = 60
WHY_ORDER = ["program", "crash", "redeliver", "clock", "conflict"]   # the first one names an edge's style


def happens_before(trace: Trace) -> nx.DiGraph:
    g = nx.DiGraph()
    for s in trace.steps:
        g.add_node(s.i, actor=s.actor, process=s.process, label=s.label, kind=s.kind)
    for u, v, why, key in _edges(trace):
        if not g.has_edge(u, v):
            g.add_edge(u, v, why="", keys=[])
        e = g.edges[u, v]
        e["why"] = " ".join(sorted(set(e["why"].split()) | {why}, key=WHY_ORDER.index))
        if key is not None and key not in e["keys"]:
            e["keys"] = sorted(e["keys"] + [key])
    reduced = nx.transitive_reduction(g)   # every edge goes forward in step order: a DAG
    reduced.add_nodes_from(g.nodes(data=True))
    reduced.add_edges_from((u, v, g.edges[u, v]) for u, v in reduced.edges)
    return reduced


def _edges(trace: Trace):
    yield from _program_order(trace)
    yield from _conflicts(trace)
    yield from _faults(trace)


def _program_order(trace: Trace):
    last: dict[str, int] = {}
    for s in trace.steps:
        if s.kind == "run" and s.actor:
            if s.actor in last:
                yield last[s.actor], s.i, "program", None
            last[s.actor] = s.i


def _conflicts(trace: Trace):
    """Per key: each access after the last write, and each write after the reads since it.
    Their transitive closure orders every conflicting pair, which is all the reduction needs."""
    last_write: dict[str, int] = {}
    reads_since: dict[str, list[int]] = {}
    for s in trace.steps:
        for k in s.reads:
            if k in last_write and last_write[k] != s.i:
                yield last_write[k], s.i, "conflict", k
            reads_since.setdefault(k, []).append(s.i)
        for k in s.writes:
            if k in last_write and last_write[k] != s.i:
                yield last_write[k], s.i, "conflict", k
            for r in reads_since.pop(k, []):
                if r != s.i:
                    yield r, s.i, "conflict", k
            last_write[k] = s.i


def _faults(trace: Trace):
    steps = trace.steps
    crashes: dict[str, int] = {}
    for n, s in enumerate(steps):
        later = steps[n + 1:]
        if s.kind == "crash":
            k = crashes[s.process] = crashes.get(s.process, 0) + 1
            dying, reborn = _prefix(s.process, k - 1), _prefix(s.process, k)
            for last in _last_steps(steps[:n], lambda a: a.startswith(dying)):
                yield last, s.i, "crash", None
            for t in later:
                if t.actor.startswith(reborn):
                    yield s.i, t.i, "crash", None
        elif s.kind == "redeliver":
            nxt = next((t for t in later if t.kind == "run" and t.actor == s.actor), None)
            if nxt is not None:
                yield s.i, nxt.i, "redeliver", None
        elif s.kind == "time":
            for last in _last_steps(steps[:n], lambda a: True):
                yield last, s.i, "clock", None
            for first in _first_steps(later):
                yield s.i, first, "clock", None


def _prefix(process: str, incarnation: int) -> str:
    return f"{process}/" if incarnation == 0 else f"{process}#{incarnation}/"


def _last_steps(before, wanted) -> list[int]:
    """The last step of each actor (for which `wanted(actor)`) among `before`."""
    last: dict[str, int] = {}
    for t in before:
        if t.kind == "run" and t.actor and wanted(t.actor):
            last[t.actor] = t.i
    return sorted(last.values())


def _first_steps(after) -> list[int]:
    first: dict[str, int] = {}
    for t in after:
        if t.kind == "run" and t.actor:
            first.setdefault(t.actor, t.i)
    return sorted(first.values())


# ---- DOT ------------------------------------------------------------------------------------

_EDGE_STYLE = {"conflict": ' style=dashed color="#1f5fbf"', "crash": ' color="#c00000" penwidth=2',
               "redeliver": ' color="#b06000" penwidth=2', "clock": ' style=dotted'}


def dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: nx.DiGraph, trace: Trace) -> str:
    """DOT text: a cluster per process, the violating step filled red; sorted, so byte-stable."""
    bad = trace.verdict.step if trace.verdict.status == "violation" else None
    lines = ["digraph happens_before {", '  graph [rankdir=TB fontname="monospace"];',
             '  node [shape=box fontname="monospace" fontsize=10];', '  edge [fontname="monospace" fontsize=8];',
             f"  label={dot_string(trace.scenario + ': ' + L.verdict_line(trace))};"]
    by_process: dict[str, list[int]] = {}
    for n in sorted(graph.nodes):
        by_process.setdefault(graph.nodes[n].get("process") or "", []).append(n)
    for k, process in enumerate(sorted(by_process, key=L.natural_key)):
        indent = "  "
        if process:
            lines.append(f"  subgraph cluster_{k} {{")
            lines.append(f"    label={dot_string('process ' + process)};")
            indent = "    "
        lines.extend(indent + _node(graph, n, n == bad) for n in by_process[process])
        if process:
            lines.append("  }")
    for u, v in sorted(graph.edges):
        lines.append(f"  s{u} -> s{v}{_edge(graph.edges[u, v])};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edge(e: dict) -> str:
    """Program order is the plain arrow; a conflict is labelled with its key, a fault with its kind."""
    why = e.get("why", "").split()
    if not why or why[0] == "program":
        return ""
    keys = [L.abbreviate(k) for k in e.get("keys", [])]
    text = why[0] if why[0] != "conflict" else keys[0] + (f" +{len(keys) - 1}" if len(keys) > 1 else "")
    return f" [label={dot_string(L.truncate(text, MAX_LABEL))}{_EDGE_STYLE[why[0]]}]"


def _node(graph: nx.DiGraph, n: int, violating: bool) -> str:
    a = graph.nodes[n]
    who = a.get("actor") or a.get("process") or "kernel"
    label = f"#{n} {who}\n{L.truncate(L.abbreviate(a.get('label', '')), MAX_LABEL)}"
    attrs = f"label={dot_string(label)}"
    if violating:
        attrs += ' style=filled fillcolor="#ff9d9d" penwidth=2'
    elif a.get("kind") != "run":   # faults and clock jumps: not any actor's own step
        attrs += ' style=filled fillcolor="#ffe9b3"'
    return f"s{n} [{attrs}];"
