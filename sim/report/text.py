"""The text swimlane: one column per lane (see lanes.py), one block of lines per step.

    step ║ p1                                 ║ p2
         ║ consumer                           ║ consumer (p2, p2#1)
    ─────╫────────────────────────────────────╫────────────────────────────────────
       8 ║ PUT_NX check hooks/hook_…RJ0W      ║
       9 ║                                    ║ ━ ✗ CRASH p2 ↻ restart p2 as p2#1 ━━
      10 ║                                    ║ receive creations
         ║                                    ║ w: queue/creations
         ║                                    ║ · deliver creations#1 (delivery 1)

Only one actor acts per step, so a row has one filled cell; crashes cut across their
process's lanes, clock jumps across all of them. Long texts are cut with "…" rather than
wrapped: a step stays a compact block and the columns stay aligned.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.tracemodel import Step, Trace

from sim.report import lanes as L

DEFAULT_WIDTH = 160   # fits a maximised terminal or a CI log; lanes shrink to their content below it
MIN_LANE = 12
SEP, PSEP = " │ ", " ║ "   # between lanes of one process / between processes


def swimlane(trace: Trace, width: int | None = None) -> str:
    """The timeline, at most `width` columns wide (DEFAULT_WIDTH if None; lanes narrower than
    their share keep their natural width). The verdict line below the table is never cut."""
    lay = L.layout(trace)
    if not lay.lanes:
        return "(no actor took a step)\n" + L.verdict_line(trace) + "\n"
    blocks = [_block(trace, lay, s) for s in trace.steps]
    step_w = max(len("step"), 2 + len(str(max((s.i for s in trace.steps), default=0))))
    seps = _separators(lay)
    fixed = step_w + sum(len(x) for x in seps)
    widths = _fit(_natural(lay, blocks), (width or DEFAULT_WIDTH) - fixed)
    out = _header(lay, widths, seps, step_w)
    for s, block in zip(trace.steps, blocks):
        out.extend(_render_block(s, block, lay, widths, seps, step_w, L.is_violating(trace, s)))
    out.append("")
    out.append(L.verdict_line(trace))
    return "\n".join(line.rstrip() for line in out) + "\n"


# ---- what each step puts where ------------------------------------------------------------

def _block(trace: Trace, lay: L.Layout, s: Step):
    """(kind, lanes, lines): `cell` fills one lane; `span` runs across lanes (crash, clock)."""
    if s.kind == "crash":
        return "span", lay.lanes_of(s.process), [L.event_text(s)] + [f"· {n}" for n in L.other_notes(s)]
    if s.kind == "time" or s.actor not in lay.index:
        return "span", list(range(len(lay.lanes))), [L.event_text(s)] + [f"· {n}" for n in L.other_notes(s)]
    lines = [L.event_text(s)]
    if s.writes:
        lines.append("w: " + L.writes_text(s))
    lines.extend(f"· {n}" for n in L.other_notes(s))
    if L.is_violating(trace, s):
        lines.append(f"{L.VIOLATION} {trace.verdict.invariant} violated")
    return "cell", [lay.index[s.actor]], lines


def _natural(lay: L.Layout, blocks) -> list[int]:
    w = [max(MIN_LANE, len(lane.title)) for lane in lay.lanes]
    for kind, where, lines in blocks:
        if kind == "cell":
            w[where[0]] = max(w[where[0]], *(len(x) for x in lines))
    return w


def _fit(natural: list[int], room: int) -> list[int]:
    """Share `room` columns: narrow lanes keep their natural width, wide ones split the rest."""
    widths = [0] * len(natural)
    left = list(range(len(natural)))
    room = max(room, MIN_LANE * len(natural))
    for i in sorted(left, key=lambda j: (natural[j], j)):
        share = room // len(left)
        widths[i] = min(natural[i], share)
        room -= widths[i]
        left.remove(i)
    return widths


# ---- drawing -------------------------------------------------------------------------------

def _separators(lay: L.Layout) -> list[str]:
    """The separator before each lane: a double bar where a new process starts."""
    seps = []
    for i, lane in enumerate(lay.lanes):
        seps.append(PSEP if i == 0 or lay.lanes[i - 1].process != lane.process else SEP)
    return seps


def _span_width(idx: list[int], widths: list[int], seps: list[str]) -> int:
    return sum(widths[i] for i in idx) + sum(len(seps[i]) for i in idx[1:])


def _line(step_cell: str, cells: dict, lay: L.Layout, widths, seps, step_w) -> str:
    """cells: first lane index -> (text, lanes it spans, fill character)."""
    parts = [step_cell.rjust(step_w)]
    i = 0
    while i < len(lay.lanes):
        text, idx, fill = cells.get(i, ("", [i], " "))
        w = _span_width(idx, widths, seps)
        parts.append(seps[i] + L.truncate(text, w).ljust(w, fill))
        i = idx[-1] + 1
    return "".join(parts)


def _header(lay: L.Layout, widths, seps, step_w) -> list[str]:
    procs = {idx[0]: (p, idx, " ") for p, idx in lay.processes()}
    titles = {i: (lane.title, [i], " ") for i, lane in enumerate(lay.lanes)}
    rule = "─" * step_w + "".join(("─╫─" if s == PSEP else "─┼─") + "─" * w for s, w in zip(seps, widths))
    return [_line("step", procs, lay, widths, seps, step_w), _line("", titles, lay, widths, seps, step_w), rule]


def _render_block(s: Step, block, lay, widths, seps, step_w, violating: bool) -> list[str]:
    _, idx, lines = block
    mark = L.VIOLATION + " " if violating else ""
    out = []
    for n, text in enumerate(lines):
        fill = " "
        if s.kind == "crash" and n == 0:   # drawn as a rule cutting across the process's lanes
            text, fill = f"━ {text} ", "━"
        out.append(_line(f"{mark}{s.i}" if n == 0 else "", {idx[0]: (text, idx, fill)}, lay, widths, seps, step_w))
    return out
