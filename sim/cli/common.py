"""What every command shares: one-line usage errors, consoles, tables, a progress bar, --load, engines,
backends, step logs."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys

from typing import TYPE_CHECKING

from sim import engine as engines
from sim import registry
from sim import trace as traces

if TYPE_CHECKING:  # rich is imported where output is made: `--help` does without it
    from rich.console import Console
    from rich.table import Table

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_MISMATCH, EXIT_INTERNAL = 0, 1, 2, 3, 4
STEP_LOG_TAIL = 40            # a failing trace is for a person: show its end, where the bug is
LOG_WIDTH = 200               # pipes and CI logs: long lines rather than tables wrapped at 80 columns


class UsageError(Exception):
    """A user error; main prints it as one line and exits 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse would print the usage block too; users get one line, like every other error
        raise UsageError(message)


def save_crash_report(argv: list[str], error: BaseException) -> str:
    """Write the traceback of an internal error of sim itself to a file named by its content (so a
    report is never overwritten by another) in the temp folder; returns its path, or why not."""
    import hashlib
    import tempfile
    import traceback

    from sim.explore import sim_version
    text = (f"sim {sim_version()} internal error\nargv: {argv!r}\npython: {sys.version.split()[0]}\n\n"
            + "".join(traceback.format_exception(error)))
    name = f"sim-crash-{hashlib.sha256(text.encode('utf-8', 'replace')).hexdigest()[:12]}.txt"
    path = os.path.join(tempfile.gettempdir(), name)
    try:
        with open(path, "w", encoding="utf-8", errors="replace") as f:
            f.write(text)
    except OSError as e:
        return f"not saved: {e.strerror or e}"
    return path


def console(stream) -> Console:
    from rich.console import Console
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(file=stream, width=None if tty else LOG_WIDTH)


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7f, 0xa0)) if chr(c) not in "\n\t"}


def visible(text: str) -> str:
    """`text` with control characters shown as `\\xNN`: a label or note from a model or a trace must
    not move the cursor, retitle or clear the user's terminal."""
    return text.translate(_CONTROL)


def say(out: Console, text: str, style: str | None = None) -> None:
    from rich.text import Text
    # Text, not str: labels like "[r: x]" must not be read as rich markup
    out.print(Text(visible(text), style=style or ""), soft_wrap=True)


def table() -> Table:
    from rich import box
    from rich.table import Table
    # rules only under the header: copy-pasteable rows, and narrower than a boxed table
    return Table(box=box.SIMPLE_HEAD, show_edge=False)


def print_table(out: Console, table: Table) -> None:
    # rich silently drops columns that do not fit; a terminal wrapping long lines loses nothing
    need = out.measure(table, options=out.options.update_width(10_000)).minimum
    out.print(table, width=max(out.width, need))


def load_modules(names: list[str]) -> None:
    if not names:
        return
    registry.all_scenarios()  # built-in scenarios first, so a clashing name is reported for the user's module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the `sim` script finds modules in the cwd, like `python -m sim`
    for name in names:
        try:
            registry.load_module(name)
        except ModuleNotFoundError as e:
            hint = "" if registry.is_path(name) else " (a module name on sys.path, or a file path such as models/mine.py)"
            raise UsageError(f"--load {name}: {e}{hint}") from None
        except Exception as e:  # whatever a user module raises is the user's problem, told in one line
            raise UsageError(f"--load {name}: {type(e).__name__}: {e}") from None


def check_engine(name: str) -> None:
    try:
        engines.make(name)
    except ImportError as e:
        raise UsageError(f"engine {name!r} is not available: {e}") from None
    except ValueError as e:
        raise UsageError(str(e)) from None


def print_step_log(out: Console, trace: traces.Trace, limit: int | None = STEP_LOG_TAIL) -> None:
    steps = trace.steps
    shown = steps if limit is None or len(steps) <= limit else steps[-limit:]
    if len(shown) < len(steps):
        say(out, f"  ... {len(steps) - len(shown)} earlier step(s) not shown "
                  f"(`python -m sim replay -v` prints all {len(steps)})", "dim")
    lines = traces.step_lines(trace)
    for line, hit in lines[len(steps) - len(shown):]:
        say(out, "  " + line, "bold" if hit else None)


def load_trace(path: str) -> traces.Trace:
    try:
        return traces.load(path)
    except traces.TraceError as e:
        raise UsageError(str(e)) from None


def _progress_enabled() -> bool:
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return False
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress_bar(name: str, total: int | None):
    """Yields the explore() progress callback: a transient bar on stderr, or None in logs."""
    if not _progress_enabled():
        yield None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(file=sys.stderr), transient=True)
    with bar:
        task = bar.add_task(escape(f"exploring {name}"), total=total)
        yield lambda n: bar.update(task, completed=n)


@contextlib.contextmanager
def backend_errors():
    """A real backend that cannot start or fails: one line, exit 2."""
    try:
        yield
    except Exception as e:
        if type(e).__name__ in ("BackendError", "DriverError"):
            raise UsageError(" ".join(str(e).split())) from None
        raise
