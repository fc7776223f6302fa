"""Traces: the tape of one execution plus a readable step log and the verdict.

A trace is a pydantic model written as canonical JSON (no wall-clock time, no
host data), so the same scenario, seed and options give a byte-identical file
in any process. A sha256 digest over the content detects tampering.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

SCHEMA_VERSION = 1


class TraceError(Exception):
    """A trace file cannot be used; the message is one line meant for the user."""


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    i: int
    t: int
    kind: Literal["run", "time", "crash", "redeliver"]
    actor: str
    process: str
    label: str
    reads: list[str]
    writes: list[str]
    notes: list[str] = []


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ok", "violation"]
    invariant: str | None = None
    step: int | None = None
    message: str | None = None

    def describe(self) -> str:
        if self.status == "ok":
            return "ok (no invariant violated)"
        return f"{self.invariant} violated at step {self.step}: {self.message}"


class Trace(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int
    sim_version: str
    scenario: str
    revision: str
    params: dict
    faults: dict
    max_steps: int
    strategy: dict
    engine: str
    execution: int | None = None
    check_footprints: bool = False   # footprint violations were checked (replay checks them too)
    tape: list[tuple[str, int, int]]
    steps: list[Step]
    verdict: Verdict
    digest: str = ""

    def _body(self, exclude: set) -> dict:
        # fields added after schema 1 shipped are left out while at their default, so older
        # traces keep their bytes and their digests
        if not self.check_footprints:
            exclude = exclude | {"check_footprints"}
        return self.model_dump(mode="json", exclude=exclude)

    def content_digest(self) -> str:
        raw = json.dumps(self._body({"digest"}), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(raw.encode()).hexdigest()

    def sealed(self) -> "Trace":
        return self.model_copy(update={"digest": self.content_digest()})

    def to_json(self) -> str:
        return json.dumps(self._body(set()), indent=1, ensure_ascii=True) + "\n"


def format_step(s: Step, mark: str = "") -> str:
    """One line per step: `#i t=T process/actor label [r: ..] [w: ..]  -- notes`."""
    parts = [f"#{s.i}", f"t={s.t}", s.actor or s.process or "-", s.label]
    if s.reads:
        parts.append(f"[r: {', '.join(s.reads)}]")
    if s.writes:
        parts.append(f"[w: {', '.join(s.writes)}]")
    line = " ".join(parts)
    if s.notes:
        line += "  -- " + "; ".join(s.notes)
    return line + mark


def verdict_of(violation) -> Verdict:
    if violation is None:
        return Verdict(status="ok")
    return Verdict(status="violation", invariant=violation.invariant, step=violation.step,
                   message=violation.message)


def steps_of(log) -> list[Step]:
    return [Step(i=e[0], t=e[1], kind=e[2], actor=e[3], process=e[4], label=str(e[5]),
                 reads=e[6], writes=e[7], notes=e[8]) for e in log]


def load(path: str | os.PathLike) -> Trace:
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceError(f"{p}: no such trace file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TraceError(f"{p}: cannot read: {e}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise TraceError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict):
        raise TraceError(f"{p}: not a sim trace (top level is not an object)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise TraceError(f"{p}: trace schema version {version!r} is not supported (this sim reads {SCHEMA_VERSION})")
    try:
        trace = Trace.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise TraceError(f"{p}: malformed trace: {where}: {first['msg']}") from None
    if trace.digest != trace.content_digest():
        raise TraceError(f"{p}: digest mismatch: the trace was modified after it was written")
    return trace


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(trace: Trace, directory: str | os.PathLike, stem: str) -> Path:
    """Write atomically as `directory/stem.json`; never overwrite a different file (a suffix is added)."""
    return save_text(trace.to_json(), directory, stem, ".json")


def save_text(text: str, directory: str | os.PathLike, stem: str, ext: str) -> Path:
    """Write `text` atomically as `directory/stem+ext`, or `stem-1+ext`, ... : an existing file with
    the same content is reused, a different one is never overwritten."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for k in range(1000):
        p = d / (f"{stem}{ext}" if k == 0 else f"{stem}-{k}{ext}")
        if p.exists():
            if p.read_text(encoding="utf-8") == text:
                return p
            continue
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=d)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a trace is an ordinary file
            try:
                os.link(tmp, p)  # fails if p appeared meanwhile: never clobber
            except FileExistsError:
                continue
        finally:
            os.unlink(tmp)
        return p
    raise TraceError(f"{d}: too many files named {stem}{ext}")
