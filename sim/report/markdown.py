"""Markdown report: verdict, metadata, the text swimlane, and a Mermaid sequence diagram.

The diagram has one participant per actor (boxed by process) and one per store (the first
path segment of the keys steps touch). A step that writes sends an arrow to the store of its
first written key; a read-only step gets a dashed arrow back from the store it read; crashes,
redeliveries and clock jumps are notes; the violating step sits in a red `rect`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.tracemodel import Step, Trace

import json
import re

from sim.report import lanes as L
from sim.report.text import swimlane

MAX_MESSAGE = 72   # a wider arrow label makes the whole diagram wider, not just that arrow
VIOLATION_BG = "rect rgb(255, 221, 221)"
BOX_BG = "rgb(244, 244, 244)"  # an explicit colour: a box title that looks like a colour name stays a title

# Mermaid decodes `#name;` / `#code;` entities before it parses, so they are how a text says `#`
# and `;` (which its lexer would read as a comment / statement end) or `<`, `>`, `&` (HTML to it).
_TEXT = {"#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}
# a participant's alias ends at `-`, `>`, `:` or `,` too (they start arrows and lists)
_ALIAS = {**_TEXT, "-": "#45;", ":": "#58;", ",": "#44;"}
# characters Markdown would read as markup in running text
_MD = re.compile(r"([\\`*_\[\]|~])")


def mermaid_text(text: str, table: dict = _TEXT) -> str:
    return "".join(table.get(c, c) for c in text)


def md_text(text: str) -> str:
    return _MD.sub(r"\\\1", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fenced(body: str, lang: str = "") -> str:
    """A code block whose fence is longer than any backtick run inside it."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body.rstrip(chr(10))}\n{fence}"


def markdown(trace: Trace, stats: str | None = None) -> str:
    parts = [f"# Counterexample: {md_text(trace.scenario)}", "", f"**{md_text(L.verdict_line(trace))}**", "",
             _metadata(trace)]
    if stats:
        parts += ["", "## Exploration statistics", "", fenced(stats, "text")]
    parts += ["", "## Timeline", "", fenced(swimlane(trace), "text"),
              "", "## Sequence diagram", "", fenced(mermaid(trace), "mermaid"), ""]
    return "\n".join(parts)


def _metadata(trace: Trace) -> str:
    rows = [("scenario", f"{trace.scenario} (revision {trace.revision})"),
            ("strategy", json.dumps(trace.strategy, sort_keys=True)),
            ("engine", trace.engine),
            ("found at execution", "-" if trace.execution is None else str(trace.execution)),
            ("faults", ", ".join(f"{k} {v}" for k, v in sorted(trace.faults.items()))),
            ("tape", L.tape_summary(trace)),
            ("steps", str(len(trace.steps)))]
    if trace.params:
        rows.insert(1, ("params", json.dumps(trace.params, sort_keys=True)))
    return "\n".join(["| | |", "|---|---|"] + [f"| {k} | {md_text(v)} |" for k, v in rows])


# ---- the sequence diagram ---------------------------------------------------------------

def mermaid(trace: Trace) -> str:
    lay = L.layout(trace)
    ids = _participant_ids(lay)
    stores = _stores(trace)
    lines = ["sequenceDiagram"]
    for process, idx in lay.processes():
        lines.append(f"    box {BOX_BG} process {mermaid_text(process, _ALIAS)}")
        for a in _process_participants(lay, idx):
            lines.append(f"        participant {ids[a]} as {mermaid_text(a, _ALIAS)}")
        lines.append("    end")
    for n, store in enumerate(stores):
        lines.append(f"    participant S{n} as {mermaid_text(store, _ALIAS)}")
    store_ids = {s: f"S{n}" for n, s in enumerate(stores)}
    everyone = list(ids.values())
    if not everyone:  # only clock jumps: notes still need someone to stand over
        lines.append("    participant K as kernel")
        everyone = ["K"]
    for s in trace.steps:
        where = _anchor(s, lay, ids, everyone)
        body = [_statement(s, where, ids, store_ids)]
        if L.is_violating(trace, s):
            note = mermaid_text(f"{L.VIOLATION} {trace.verdict.invariant} violated")
            body = [VIOLATION_BG, *body, f"Note over {where}: {note}", "end"]
        lines.extend(f"    {x}" for x in body)
    return "\n".join(lines) + "\n"


def _process_participants(lay: L.Layout, idx: list[int]) -> list[str]:
    """A process's actors, lane by lane; the process itself when none of its actors stepped."""
    names = [a for i in idx for a in lay.lanes[i].actors]
    return names or [lay.lanes[idx[0]].process]


def _participant_ids(lay: L.Layout) -> dict[str, str]:
    """Actor (or bare process) -> `A<n>`: ids must avoid `-`, `#`, `/` and the like."""
    out: dict[str, str] = {}
    for _, idx in lay.processes():
        for a in _process_participants(lay, idx):
            out[a] = f"A{len(out)}"
    return out


def _stores(trace: Trace) -> list[str]:
    seen: dict[str, None] = {}
    for s in trace.steps:
        for k in s.writes[:1] or s.reads[:1]:
            seen.setdefault(L.store_of(k), None)
    return list(seen)


def _message(s: Step, text: str) -> str:
    said = [L.truncate(f"[{s.i}] {text}", MAX_MESSAGE)] + [L.truncate(n, MAX_MESSAGE) for n in L.other_notes(s)]
    return "<br/>".join(mermaid_text(x) for x in said)


def _anchor(s: Step, lay: L.Layout, ids: dict, everyone: list[str]) -> str:
    """Whom a note about the step stands over: its actor, its crashed process, or everyone."""
    if s.kind == "crash":
        return _over([ids[a] for a in _process_participants(lay, lay.lanes_of(s.process))])
    if s.actor in ids:
        return ids[s.actor]
    return _over(everyone)


def _statement(s: Step, where: str, ids: dict, store_ids: dict) -> str:
    text = _message(s, L.event_text(s))
    if s.kind == "run" and s.actor in ids:
        me = ids[s.actor]
        if s.writes:
            return f"{me}->>{store_ids[L.store_of(s.writes[0])]}: {text}"
        if s.reads:
            return f"{store_ids[L.store_of(s.reads[0])]}-->>{me}: {text}"
        return f"Note right of {me}: {text}"
    return f"Note over {where}: {text}"


def _over(ids: list[str]) -> str:
    """`Note over` takes one participant or the two ends of a range."""
    return ids[0] if len(ids) == 1 else f"{ids[0]},{ids[-1]}"
