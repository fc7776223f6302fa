"""The engine package `sim` stands on its own: it imports none of the repository's test scenarios,
tests, benchmarks or models, so it can be installed and used without them. The benchmarks
(`sim_bench`) import sim, never the other way round, except the `bench` command when it runs."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIM = ROOT / "sim"
OUTSIDE = ("scenarios", "tests", "benchmarks", "sim_bench", "models")


def _modules() -> list[str]:
    names = []
    for f in sorted(SIM.rglob("*.py")):
        parts = f.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":   # runs the command line
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_importing_every_sim_module_imports_nothing_from_outside_the_engine():
    # a fresh interpreter: this test process has imported scenarios and tests already
    code = ("import importlib, json, sys\n"
            f"for m in {_modules()!r}:\n    importlib.import_module(m)\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {OUTSIDE!r})))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.splitlines()[-1]) == []
    assert len(_modules()) > 30   # it did look at the whole package


def _imports(path: Path) -> list[str]:
    """Every module an import statement of `path` names, at any depth (lazy imports in functions too)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            out.append(node.args[0].value)
    return out


def test_no_sim_module_imports_outside_the_engine_even_lazily():
    found = {f"{f.relative_to(ROOT)}: {name}" for f in sorted(SIM.rglob("*.py")) for name in _imports(f)
             if name.split(".")[0] in OUTSIDE}
    # the one exception: `python -m sim bench` runs the benchmarks, imported only when asked for
    assert {line for line in found if not line.endswith(": sim_bench.bench")} == set(), sorted(found)
    assert len({line.split(":")[0] for line in found}) <= 1, sorted(found)


def test_the_check_sees_a_lazy_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from scenarios.engine_toys import lost_update\n    import tests.x\n")
    assert _imports(bad) == ["scenarios.engine_toys", "tests.x"]


def test_the_benchmarks_are_packaged_with_sim():
    # `python -m sim bench` must work from an installed wheel, not only from the repository: the wheel
    # holds the packages pyproject.toml's find patterns select
    import tomllib

    from setuptools import find_packages
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packaged = set(find_packages(where=str(ROOT), include=find["include"]))
    assert {"sim", "sim.strategy", "sim_bench", "scenarios"} <= packaged, sorted(packaged)
    assert not {"tests", "benchmarks"} & packaged
