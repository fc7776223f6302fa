"""Counterexample reports of a trace: text swimlane, Markdown + Mermaid, static HTML, happens-before DOT.

    render(trace, fmt, stats=None)   fmt in FORMATS; `stats` is a pre-rendered plain-text block
                                     of exploration statistics (shown by md and html)
    swimlane(trace, width=None)      the text timeline
    markdown(trace) / html(trace)    the documents
    happens_before(trace)            networkx DiGraph (transitively reduced); to_dot(graph, trace)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.tracemodel import Trace

from sim.report.html import html
from sim.report.markdown import markdown
from sim.report.text import swimlane

FORMATS = ("text", "md", "html", "dot")


# the graph needs networkx, a slow import most commands never use: loaded on first use
def happens_before(trace: Trace):
    from sim.report import hb
    return hb.happens_before(trace)


def to_dot(graph, trace: Trace) -> str:
    from sim.report import hb
    return hb.to_dot(graph, trace)


def render(trace: Trace, fmt: str, stats: str | None = None) -> str:
    if fmt == "text":
        return swimlane(trace)
    if fmt == "md":
        return markdown(trace, stats)
    if fmt == "html":
        return html(trace, stats)
    if fmt == "dot":
        return to_dot(happens_before(trace), trace)
    raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")


__all__ = ["FORMATS", "render", "swimlane", "markdown", "html", "happens_before", "to_dot"]
