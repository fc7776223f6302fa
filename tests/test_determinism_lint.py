"""A static check of sim/ for the hidden sources of nondeterminism the feasibility study measured:
id() and hash() values, iteration over sets, the wall clock and os.urandom in the engine."""
from __future__ import annotations

import ast
from pathlib import Path

SIM = Path(__file__).resolve().parents[1] / "sim"
# wall-clock reads are fine where they only measure (budget timers, the stress baseline, and the
# shrinker's and the Hypothesis hunt's elapsed time; their bounds count executions; a parallel exploration's
# elapsed time and --time, while what it folds is decided in key order)
CLOCK_OK = {"explore.py", "pytest_plugin.py", "engine/uncontrolled.py", "shrink.py",
            "hypo.py", "parallel.py", "units.py",
            "watchdog.py"}   # when to give up on a step that never yields: an error, never a schedule
# id() is fine where it only names an object kept alive for a lookup, never a value or an order: the state
# fingerprint's memo of mutable objects already walked (what it records is the traversal index)
ID_OK = {"statehash.py"}


def _problems(path: Path, root: Path = SIM) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(root.parent)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if isinstance(f, ast.Name) and name in ("id", "hash") and not (name == "id" and path.relative_to(root).as_posix() in ID_OK):
                out.append(f"{where}: {name}() depends on the process")
            if name == "urandom":
                out.append(f"{where}: os.urandom")
            if path.relative_to(root).as_posix() not in CLOCK_OK and name in ("time", "perf_counter", "monotonic", "now", "utcnow") \
                    and isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                    and f.value.id in ("time", "datetime"):
                out.append(f"{where}: wall clock {f.value.id}.{name}()")
        if isinstance(node, (ast.For, ast.comprehension)):
            it = node.iter
            if isinstance(it, (ast.Set, ast.SetComp)) or (
                    isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id in ("set", "frozenset")):
                out.append(f"{where}: iteration over a set")
    return out


def test_sim_has_no_hidden_nondeterminism():
    files = sorted(SIM.rglob("*.py"))
    assert len(files) > 15
    problems = [p for f in files for p in _problems(f)]
    assert problems == []


def test_the_lint_catches_what_it_looks_for(tmp_path):
    bad = tmp_path / "sim" / "bad.py"
    bad.parent.mkdir()
    bad.write_text("import os, time\nx = id(object())\nfor k in set('ab'):\n    pass\n"
                   "t = time.time()\nr = os.urandom(4)\n")
    found = _problems(bad, bad.parent)
    assert len(found) == 4, found
