"""The documentation: built from docs/ by mkdocs in strict mode, the API reference from docstrings.

A broken reference or a page mkdocs cannot render fails the build; every public name of
`sim` must be in the reference with a docstring that shows an example; README stands alone
(nothing outside the repository) and links the architecture page.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import sim
from sim import DFS, explore

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def build(config_dir: Path, out: Path) -> subprocess.CompletedProcess:
    # mkdocs comes with the test extra: a missing install fails here, it is not skipped
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f",
                           str(config_dir / "mkdocs.yml"), "-d", str(out)],
                          cwd=config_dir, capture_output=True, text=True, timeout=300)


def test_the_docs_build_in_strict_mode(tmp_path):
    p = build(ROOT, tmp_path / "site")
    assert p.returncode == 0, p.stdout + p.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in ("Store", "range_key", "Delivery", "volatile", "send", "push", "keys_where"):
        assert f">{name}<" in api or f">{name}</" in api or name in api, name


def test_a_broken_reference_fails_the_build(tmp_path):
    # the check is real: a reference to a name that does not exist is an error, not a warning
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "sim").symlink_to(ROOT / "sim")
    api = tmp_path / "docs" / "api.md"
    api.write_text(api.read_text() + "\n::: sim.NoSuchName\n")
    p = build(tmp_path, tmp_path / "site")
    assert p.returncode != 0 and "NoSuchName" in p.stdout + p.stderr


def test_every_public_name_is_in_the_reference_with_an_example():
    api = (DOCS / "api.md").read_text()
    documented = set(re.findall(r"^::: sim\.(?:tracemodel\.)?(\w+)", api, re.M))
    assert set(sim.__all__) <= documented, sorted(set(sim.__all__) - documented)
    for name in sim.__all__:
        doc = getattr(sim, name).__doc__ or ""
        assert "Example" in doc, f"sim.{name} has no example in its docstring"
    for method in (sim.Store.keys, sim.Store.items, sim.Store.key, sim.Store.range_key, sim.Queue.send,
                   sim.Queue.push, sim.Queue.consume, sim.Process.volatile.fget):
        assert "Example" in (method.__doc__ or ""), method.__qualname__


def test_readme_stands_alone_and_links_the_architecture():
    readme = (ROOT / "README.md").read_text()
    assert "../shared" not in readme and "DESIGN.md" not in readme
    assert "docs/architecture.md" in readme
    for page in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / page).exists(), page


def test_the_overview_model_runs_as_written():
    [code] = re.findall(r"```python\n(.*?)```", (DOCS / "index.md").read_text(), re.S)
    namespace: dict = {}
    exec(compile(code, "docs/index.md", "exec"), namespace)
    [scenario] = namespace["SCENARIOS"]
    res = explore(scenario, DFS())
    assert res.violation is not None and res.violation.invariant == scenario.expect == "I-N"
