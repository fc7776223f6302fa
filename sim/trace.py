"""Traces: the tape of one execution plus a readable step log and the verdict.

A trace is a pydantic model written as canonical JSON (no wall-clock time, no
host data), so the same scenario, seed and options give a byte-identical file
in any process. A sha256 digest over the content detects tampering.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

SCHEMA_VERSION = 1
MODELS = ("Step", "Verdict", "Trace")   # in sim.tracemodel, imported on first use (pydantic is slow to import)


def __getattr__(name: str):
    if name in MODELS:
        from sim import tracemodel
        return getattr(tracemodel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class TraceError(Exception):
    """A trace file cannot be used; the message is one line meant for the user.

    Example: `try: sim.replay(trace) except sim.TraceError as e: print(e)`."""


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


def at_quiescence(v: Verdict) -> bool:
    """An end-of-run violation: found by checking the final state, after the last step."""
    return v.status == "violation" and (v.message or "").startswith(("at quiescence: ", "never held at quiescence: "))


def step_lines(trace: Trace) -> list[tuple[str, bool]]:
    """The step log as printed: (line, is-the-violation). A violation found at quiescence gets a line of
    its own after the last step instead of marking that step (often an unrelated `ack`)."""
    v = trace.verdict
    quiet = at_quiescence(v) or (v.status == "violation" and not any(s.i == v.step for s in trace.steps))
    lines = [(format_step(s, f"  <== {v.invariant}" if not quiet and v.status == "violation" and s.i == v.step
                          else ""), not quiet and v.status == "violation" and s.i == v.step)
             for s in trace.steps]
    if quiet:
        lines.append((f"   (at quiescence, after step {v.step})  <== {v.invariant}", True))
    return lines


def verdict_of(violation) -> Verdict:
    from sim.tracemodel import Verdict
    if violation is None:
        return Verdict(status="ok")
    return Verdict(status="violation", invariant=violation.invariant, step=violation.step,
                   message=violation.message)


class LogEntry(NamedTuple):
    """One step of an execution's log as the kernel records it (record mode only), its fields named
    as a trace's `steps` name them (sim.tracemodel.Step): step index, virtual time, kind, actor,
    process, label, footprint as text, and the notes the step's effects attached (`sim.note`
    appends to the last entry's list). One constructor per kind of step, below: what a label says
    for a clock jump, a crash or a redelivery is part of the trace format."""
    i: int
    t: int
    kind: str
    actor: str
    process: str
    label: str
    reads: list
    writes: list
    notes: list

    @classmethod
    def run(cls, i: int, t: int, actor: str, process: str, label: str, reads, writes, notes: list) -> "LogEntry":
        """An actor's step, with the footprint its point declared (store keys, made text)."""
        return cls(i, t, "run", actor, process, label, key_texts(reads), key_texts(writes), notes)

    @classmethod
    def time(cls, i: int, t: int, to: int) -> "LogEntry":
        """The clock jumping from `t` to `to`."""
        return cls(i, t, "time", "", "", f"clock {t} -> {to}", [], [], [])

    @classmethod
    def crash(cls, i: int, t: int, process: str) -> "LogEntry":
        return cls(i, t, "crash", "", process, f"crash {process}", [], [], [])

    @classmethod
    def redeliver(cls, i: int, t: int, actor: str, process: str, message: str, queue_key) -> "LogEntry":
        """A message delivered again to the consumer (`actor`) holding it; it writes its queue."""
        return cls(i, t, "redeliver", actor, process, f"redeliver {message}", [], key_texts((queue_key,)), [])


def key_texts(keys) -> list[str]:
    """Footprint keys as a trace writes them: a tuple key joined with `/`."""
    return [k if isinstance(k, str) else "/".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in keys]


def steps_of(log: list[LogEntry]) -> list[Step]:
    from sim.tracemodel import Step
    return [Step(i=e.i, t=e.t, kind=e.kind, actor=e.actor, process=e.process, label=str(e.label),
                 reads=e.reads, writes=e.writes, notes=e.notes) for e in log]


STEP_FIELDS = ("kind", "t", "process", "actor", "label", "reads", "writes", "notes")


def _show(v) -> str:
    text = repr(v)
    return text if len(text) <= 120 else text[:117] + "..."


# what stays the same when a tape recorded on one backend replays on another (sim.backends): a real
# system declares coarser footprints and writes other notes than the model it stands in for
CROSS_BACKEND_FIELDS = ("kind", "t", "process", "actor", "label")


def first_difference(recorded: list[Step], replayed: list[Step], prefix: bool = False,
                     names: tuple[str, str] = ("trace has", "the model now gives"),
                     fields: tuple[str, ...] = STEP_FIELDS) -> str | None:
    """The first step where the model's behaviour now differs from the recorded step log, as one
    line naming the step and each differing field (None when the logs are the same; with `prefix`,
    when `replayed` is a prefix of `recorded`). Replay recomputes the log from the model, so a
    trace's step log can never vouch for itself."""
    for a, b in zip(recorded, replayed):
        if a == b:
            continue
        differ = [f for f in ("i",) + fields if getattr(a, f) != getattr(b, f)]
        if not differ:
            continue
        what = "; ".join(f"{f}: {names[0]} {_show(getattr(a, f))}, {names[1]} {_show(getattr(b, f))}"
                         for f in differ)
        return f"step {a.i} ({a.actor or a.process or a.kind} {_show(a.label)}) differs: {what}"
    if len(recorded) != len(replayed) and not (prefix and len(replayed) < len(recorded)):
        n = min(len(recorded), len(replayed))
        longer, who = (recorded, "the trace") if len(recorded) > n else (replayed, "the model now")
        return (f"{who} has steps after step {longer[n - 1].i if n else 0}: the trace has {len(recorded)} "
                f"steps, the model now takes {len(replayed)} (first extra: {format_step(longer[n])})")
    return None


MAX_TRACE_BYTES = 256 << 20   # a trace is a tape and a step log; anything larger is not one of ours


def _read(p: Path) -> str:
    """The file's text, refusing what is not a regular file (a FIFO or /dev/zero would hang or fill
    memory) or is larger than any trace."""
    import stat
    try:
        with open(p, "rb", opener=lambda f, fl: os.open(f, fl | os.O_NONBLOCK)) as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise TraceError(f"{p}: not a regular file")
            if st.st_size > MAX_TRACE_BYTES:
                raise TraceError(f"{p}: {st.st_size:,} bytes is larger than any trace (limit {MAX_TRACE_BYTES:,})")
            raw = fh.read(MAX_TRACE_BYTES + 1)
    except FileNotFoundError:
        raise TraceError(f"{p}: no such trace file") from None
    except IsADirectoryError:
        raise TraceError(f"{p}: is a directory, not a trace file") from None
    except OSError as e:
        raise TraceError(f"{p}: cannot read: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TraceError(f"{p}: not UTF-8 text (byte {e.start})") from None


def _check_text(value, p: Path) -> None:
    """Strings must be valid Unicode (a lone surrogate cannot be printed or written back)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise TraceError(f"{p}: malformed trace: a string holds a lone surrogate") from None


def load(path: str | os.PathLike) -> Trace:
    from pydantic import ValidationError

    from sim.tracemodel import Trace
    p = Path(path)
    raw = _read(p)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise TraceError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except RecursionError:
        raise TraceError(f"{p}: not a sim trace (JSON nested too deeply)") from None
    except ValueError:   # an integer longer than Python converts (4300 digits)
        raise TraceError(f"{p}: not a sim trace (an integer too long to read)") from None
    if not isinstance(data, dict):
        raise TraceError(f"{p}: not a sim trace (top level is not an object)")
    version = data.get("schema_version")
    if type(version) is not int or version != SCHEMA_VERSION:   # `true == 1` in Python: not a version
        raise TraceError(f"{p}: trace schema version {version!r} is not supported (this sim reads {SCHEMA_VERSION})")
    _check_text(data, p)
    try:
        trace = Trace.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise TraceError(f"{p}: malformed trace: {where}: {first['msg']}") from None
    except RecursionError:
        raise TraceError(f"{p}: malformed trace: nested too deeply") from None
    if trace.digest != trace.content_digest():
        raise TraceError(f"{p}: digest mismatch: the trace was modified after it was written")
    _check_shape(trace, p)
    return trace


def _check_shape(trace: Trace, p: Path) -> None:
    """What no execution can record, refused before a report draws it: steps out of order (a report's
    happens-before graph would have a cycle) and tape values outside their choice's range."""
    last = 0
    for s in trace.steps:
        if s.i <= last:
            raise TraceError(f"{p}: malformed trace: step {s.i} comes after step {last} (steps are numbered upwards)")
        last = s.i
    for pos, (kind, n, v) in enumerate(trace.tape):
        if not 0 <= v < max(n, 1):
            raise TraceError(f"{p}: malformed trace: tape choice {pos} ({kind}) is {v}, outside 0..{n - 1}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(trace: Trace, directory: str | os.PathLike, stem: str) -> Path:
    """Write atomically as `directory/stem.json`; never overwrite a different file (a suffix is added)."""
    return save_text(trace.to_json(), directory, stem, ".json")


MAX_NAME_BYTES = 200   # below every common filesystem's 255, leaving room for "-N" and the temp prefix


def _fit(stem: str, ext: str) -> str:
    """`stem`, its middle replaced by a digest of the whole when the file name would be too long (a
    300-digit `--seed` in the name); the end, where suffixes such as `-shrunk` are, is kept."""
    if len((stem + ext).encode("utf-8")) <= MAX_NAME_BYTES:
        return stem
    import hashlib
    digest = hashlib.sha256(stem.encode("utf-8", "replace")).hexdigest()[:12]
    tail = stem[-24:]
    room = MAX_NAME_BYTES - len(ext) - len(digest) - 2 - len(tail.encode("utf-8"))
    head = stem.encode("utf-8")[:room].decode("utf-8", "ignore")
    return f"{head}-{digest}-{tail}"


def _sweep_temp_files(d: Path) -> None:
    """Remove temp files a killed sim left behind in `d` (named `.NAME.PID.tmp*`, see save_text)."""
    for leftover in d.glob(".*.tmp*"):
        parts = leftover.name.split(".")
        pid = next((int(x) for x in reversed(parts) if x.isascii() and x.isdigit()), None)
        if pid is None or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:        # its writer is gone: nobody will finish or remove it
            leftover.unlink(missing_ok=True)
        except OSError:
            pass


def save_text(text: str, directory: str | os.PathLike, stem: str, ext: str) -> Path:
    """Write `text` atomically as `directory/stem+ext`, or `stem-1+ext`, ... : an existing file with
    the same content is reused, a different one is never overwritten. Any failure to write (a full
    disk, no permission, `directory` being a file) is a one-line TraceError."""
    d = Path(directory)
    stem = _fit(stem, ext)
    try:
        d.mkdir(parents=True, exist_ok=True)
        _sweep_temp_files(d)
        for k in range(1000):
            p = d / (f"{stem}{ext}" if k == 0 else f"{stem}-{k}{ext}")
            if p.exists():
                if p.is_file() and p.read_bytes() == text.encode("utf-8"):
                    return p
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.{os.getpid()}.tmp", dir=d)
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
    except OSError as e:
        where = e.filename or d
        raise TraceError(f"cannot write {stem}{ext} to {d}: {e.strerror or e} ({where})") from None
    raise TraceError(f"{d}: too many files named {stem}{ext}")
