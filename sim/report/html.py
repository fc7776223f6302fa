"""One self-contained HTML page: verdict banner, metadata, and the swimlane as a table.

No script, stylesheet, font or image comes from anywhere else (a report is opened from a CI
artifact or a mail attachment, often offline), so Mermaid is out: the table is the diagram.
Every text from the trace goes through `escape`. The page has no script at all.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.tracemodel import Step, Trace

import json
from html import escape

from sim.report import lanes as L

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; }
h1 { font-size: 1.4em; margin: 0 0 .4em 0; }
.banner { padding: .7em 1em; border-radius: 6px; font-weight: 600; margin-bottom: 1em; }
.banner.violation { background: #ffd9d9; border: 2px solid #c00000; }
.banner.ok { background: #dcf5dc; border: 2px solid #2e7d32; }
.banner a { color: inherit; font-weight: normal; margin-left: 1em; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; margin: 0 0 1em 0; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; font-family: monospace; }
pre.stats { background: #f4f4f4; padding: .6em; border-radius: 4px; }
table.lanes { border-collapse: collapse; font-family: monospace; font-size: 13px; }
table.lanes th, table.lanes td { border: 1px solid #d0d0d0; padding: 3px 6px; vertical-align: top; text-align: left; }
table.lanes thead th { position: sticky; background: #ececec; }
table.lanes thead tr.procs th { top: 0; font-size: 14px; }
table.lanes thead tr.roles th { top: 1.6em; font-weight: normal; }
table.lanes td.pstart, table.lanes th.pstart { border-left: 3px solid #606060; }
table.lanes tbody th { color: #606060; text-align: right; font-weight: normal; }
td.act { background: #fbfbff; max-width: 42em; }
.w { color: #1f5fbf; } .r { color: #808080; } .note { color: #6a3d00; font-style: italic; }
tr.crash td.event { background: #ffd0d0; color: #8b0000; font-weight: 700; text-align: center; }
tr.time td.event { background: #eef3ff; color: #334; text-align: center; }
tr.redeliver td.act { background: #fff1d6; }
tr.violation td.act { background: #ffb8b8; outline: 2px solid #c00000; }
tr.violation th { color: #c00000; font-weight: 700; }
.flag { color: #c00000; font-weight: 700; }
"""


def html(trace: Trace, stats: str | None = None) -> str:
    title = f"Counterexample: {trace.scenario}"
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{escape(title)}</title>", f"<style>{STYLE}</style>", "</head>", "<body>",
             f"<h1>{escape(title)}</h1>", _banner(trace), _metadata(trace)]
    if stats:
        parts.append(f'<h2>Exploration statistics</h2>\n<pre class="stats">{escape(stats)}</pre>')
    parts += ["<h2>Timeline</h2>", _table(trace), "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _banner(trace: Trace) -> str:
    v = trace.verdict
    cls = "ok" if v.status == "ok" else "violation"
    jump = f' <a href="#step-{v.step}">go to step {v.step}</a>' if _has_step(trace, v.step) else ""
    return f'<div class="banner {cls}">{escape(L.verdict_line(trace))}{jump}</div>'


def _has_step(trace: Trace, i: int | None) -> bool:
    return trace.verdict.status == "violation" and any(s.i == i for s in trace.steps)


def _metadata(trace: Trace) -> str:
    rows = [("scenario", trace.scenario), ("model revision", trace.revision),
            ("params", json.dumps(trace.params, sort_keys=True)),
            ("strategy", json.dumps(trace.strategy, sort_keys=True)), ("engine", trace.engine),
            ("found at execution", "-" if trace.execution is None else str(trace.execution)),
            ("faults", ", ".join(f"{k} {v}" for k, v in sorted(trace.faults.items()))),
            ("tape length", L.tape_summary(trace)), ("steps", str(len(trace.steps))),
            ("sim version", trace.sim_version)]
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f'<dl class="meta">{body}</dl>'


# ---- the swimlane table ------------------------------------------------------------------

def _table(trace: Trace) -> str:
    lay = L.layout(trace)
    starts = {idx[0] for _, idx in lay.processes()}
    procs = "".join(f'<th class="pstart" colspan="{len(idx)}">{escape(p)}</th>' for p, idx in lay.processes())
    roles = "".join(f'<th{_pstart(i, starts)}>{escape(lane.title)}</th>'
                    for i, lane in enumerate(lay.lanes))
    rows = [_row(trace, lay, s, starts) for s in trace.steps]
    return "\n".join(['<table class="lanes">', "<thead>",
                      f'<tr class="procs"><th rowspan="2">step</th>{procs}</tr>',
                      f'<tr class="roles">{roles}</tr>', "</thead>", "<tbody>", *rows, "</tbody>", "</table>"])


def _pstart(i: int, starts: set) -> str:
    return ' class="pstart"' if i in starts else ""


def _row(trace: Trace, lay: L.Layout, s: Step, starts: set) -> str:
    violating = L.is_violating(trace, s)
    cls = s.kind + (" violation" if violating else "")
    head = f'<th>{L.VIOLATION + " " if violating else ""}{s.i}</th>'
    if s.kind == "crash" or s.actor not in lay.index:
        span = lay.lanes_of(s.process) if s.kind == "crash" else list(range(len(lay.lanes)))
        cells = _span_cells(lay, span, _event_cell(s), starts)
    else:
        at = lay.index[s.actor]
        cells = [f'<td class="act{" pstart" if i in starts else ""}">{_step_cell(trace, s, violating)}</td>'
                 if i == at else f"<td{_pstart(i, starts)}></td>" for i in range(len(lay.lanes))]
    return f'<tr id="step-{s.i}" class="{cls}">{head}{"".join(cells)}</tr>'


def _span_cells(lay: L.Layout, span: list[int], content: str, starts: set) -> list[str]:
    cells = []
    for i in range(len(lay.lanes)):
        if i == span[0]:
            cls = "event" + (" pstart" if i in starts else "")
            cells.append(f'<td class="{cls}" colspan="{len(span)}">{content}</td>')
        elif i not in span:
            cells.append(f"<td{_pstart(i, starts)}></td>")
    return cells


def _event_cell(s: Step) -> str:
    return "".join([escape(L.event_text(s))] + [f'<div class="note">{escape(n)}</div>' for n in L.other_notes(s)])


def _step_cell(trace: Trace, s: Step, violating: bool) -> str:
    parts = [f'<div class="label">{escape(L.event_text(s))}</div>']
    if s.writes:
        parts.append(f'<div class="w">w: {escape(L.writes_text(s))}</div>')
    if s.reads:
        parts.append(f'<div class="r">r: {escape(", ".join(L.abbreviate(k) for k in s.reads))}</div>')
    parts += [f'<div class="note">{escape(n)}</div>' for n in L.other_notes(s)]
    if violating:
        parts.append(f'<div class="flag">{escape(L.VIOLATION)} {escape(str(trace.verdict.invariant))} violated</div>')
    return "".join(parts)
