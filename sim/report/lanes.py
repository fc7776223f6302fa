"""What every report format shares: lanes (columns) of actors, id abbreviation, step texts.

One lane per (process, role): an actor `p1#1/consumer` (process p1 restarted once) shares the
lane of `p1/consumer`. The restarted actor does the same job (it consumes the same queue), so
a reader follows one column through the crash, and the crash row drawn across the lane is the
boundary between incarnations. Separate columns would be blank on one side of the crash each,
halving the width left for labels; the lane title still names every incarnation.

Everything here depends only on the trace, in trace order or a sorted order: reports are
compared byte for byte.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.tracemodel import Step, Trace

import re
from dataclasses import dataclass


# Marks, one glyph each, all of East-Asian width "N" or "A" (one cell in a western terminal):
# the trace's ids already carry "…", so a terminal that can't show these can't show traces.
CRASH, RESTART, REDELIVER, TIME, VIOLATION, PREEMPT = "✗", "↻", "↺", "⏱", "►", "⇥"

# a ULID (26 Crockford base-32 characters, the first 0-7), optionally after a `prefix_`
_ULID = re.compile(r"(?<![0-9A-Za-z_])([A-Za-z][A-Za-z0-9]*_)?([0-7][0-9A-HJKMNP-TV-Z]{25})(?![0-9A-Za-z])")


def abbreviate(text: str) -> str:
    """`wrun_01KDVDNA00B3V1N73GTH6W588C` -> `wrun_…588C`: the form the models' own notes use."""
    return _ULID.sub(lambda m: f"{m.group(1) or ''}…{m.group(2)[-4:]}", text)


def truncate(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def natural_key(name: str) -> tuple:
    """p2 before p10: process names are read as numbered workers."""
    return tuple((0, int(part), "") if part.isascii() and part.isdigit() else (1, 0, part) for part in re.split(r"([0-9]+)", name))


def role_of(actor: str) -> str:
    """`p1#1/consumer` -> `consumer` (the actor's name inside its process)."""
    return actor.split("/", 1)[1] if "/" in actor else actor


def incarnation_of(actor: str) -> str:
    """`p1#1/consumer` -> `p1#1`."""
    return actor.split("/", 1)[0]


def store_of(key: str) -> str:
    """The storage a key lives in: its first path segment (`fs/events/...` -> `fs`)."""
    return key.split("/", 1)[0]


@dataclass(frozen=True)
class Lane:
    process: str
    role: str
    actors: tuple[str, ...]     # every incarnation's actor, in the order they first step

    @property
    def title(self) -> str:
        if not self.actors:
            return "(no actor stepped)"
        if len(self.actors) == 1:
            return self.role
        return f"{self.role} ({', '.join(incarnation_of(a) for a in self.actors)})"


@dataclass(frozen=True)
class Layout:
    lanes: tuple[Lane, ...]
    index: dict[str, int]       # actor -> its lane

    def processes(self) -> list[tuple[str, list[int]]]:
        """(process, its lane indices), left to right; a process's lanes are adjacent."""
        out: list[tuple[str, list[int]]] = []
        for i, lane in enumerate(self.lanes):
            if out and out[-1][0] == lane.process:
                out[-1][1].append(i)
            else:
                out.append((lane.process, [i]))
        return out

    def lanes_of(self, process: str) -> list[int]:
        return [i for i, lane in enumerate(self.lanes) if lane.process == process]


def layout(trace: Trace) -> Layout:
    """Lanes grouped by process (processes in natural name order, roles in first-step order)."""
    roles: dict[tuple[str, str], list[str]] = {}
    procs: dict[str, None] = {}
    for s in trace.steps:
        if s.process:
            procs.setdefault(s.process, None)
        if s.actor:
            incarnations = roles.setdefault((s.process, role_of(s.actor)), [])
            if s.actor not in incarnations:
                incarnations.append(s.actor)
    lanes = []
    for p in sorted(procs, key=natural_key):
        mine = [Lane(p, r, tuple(a)) for (q, r), a in roles.items() if q == p]
        # a process that crashed before any of its actors stepped still gets a lane for its crash row
        lanes.extend(mine or [Lane(p, "", ())])
    index = {a: i for i, lane in enumerate(lanes) for a in lane.actors}
    return Layout(tuple(lanes), index)


def writes_text(s: Step) -> str:
    return ", ".join(abbreviate(k) for k in s.writes)


def event_text(s: Step) -> str:
    """A step's first line: its label, or what a crash, clock jump or redelivery did."""
    label = abbreviate(s.label)
    if s.kind == "crash":
        restarts = [n for n in s.notes if n.startswith("restart ")]
        tail = f" {RESTART} " + "; ".join(restarts) if restarts else " (not restarted)"
        return f"{CRASH} CRASH {s.process}{tail}"
    if s.kind == "time":
        return f"{TIME} {label}"
    if s.kind == "redeliver":
        return f"{REDELIVER} {label}"
    if any(n.startswith("preempts ") for n in s.notes):   # where the schedule chose to switch
        return f"{PREEMPT} {label}"
    return label


def other_notes(s: Step) -> list[str]:
    """Notes that say something the row doesn't already (the restart, a note repeating the label)."""
    said = {s.label}
    if s.kind == "crash":
        said.update(n for n in s.notes if n.startswith("restart "))
    return [abbreviate(n) for n in s.notes if n not in said]


def verdict_line(trace: Trace) -> str:
    v = trace.verdict
    if v.status == "ok":
        return "verdict: ok (no invariant violated)"
    return f"verdict: {VIOLATION} {abbreviate(v.describe())}"


def is_violating(trace: Trace, s: Step) -> bool:
    return trace.verdict.status == "violation" and trace.verdict.step == s.i


def tape_summary(trace: Trace) -> str:
    deviations = sum(1 for _, _, v in trace.tape if v)
    return f"{len(trace.tape)} choices ({deviations} non-default)"
