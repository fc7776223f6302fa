"""benchmarks/verify_table.py: one Markdown row per scenario, 'complete' only when DPOR covered the space."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "verify_table", Path(__file__).resolve().parent.parent / "benchmarks" / "verify_table.py")
verify_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(verify_table)


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_rows_in_markdown(tmp_path, capsys):
    out = tmp_path / "t.md"
    code = verify_table.main(["--dpor-budget", "50", "--cache-budget", "40", "--random-budget", "3",
                              "--row", "lost-update-locked",
                              "--row", "hook-pairs@local:L1[pairs=1]", "--out", str(out)])
    assert code == 0
    text = out.read_text()
    assert text.splitlines()[0] == verify_table.HEADER
    rows = {cells(ln)[0]: cells(ln) for ln in text.splitlines()[2:] if ln.startswith("| ")}
    locked = rows["lost-update-locked"]
    # the locked toy's space is small: DPOR finishes within the budget and says so
    assert locked[3] == "yes" and int(locked[2]) < 50 and locked[5] == "holds"
    assert locked[8] == "yes" and int(locked[6]) < 40 and int(locked[7]) >= 1   # cached DFS, states, complete
    pairs = rows["hook-pairs@local:L1[pairs=1]"]
    assert pairs[1] == "pairs=1, 1 crash(es), 1 redelivery(ies), 5000 steps"
    assert pairs[2] == "50" and pairs[3] == "no" and pairs[6] == "40" and pairs[8] == "no" and pairs[10] == "3"
    assert "main job CPU:" in text and text == capsys.readouterr().out


def test_unknown_row_is_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as e:
        verify_table.main(["--row", "lost-update", "--row", "hook-pairs@local:L1[pairs=x]"])
    assert e.value.code == 2
    err = capsys.readouterr()
    assert err.out == "" and "pairs takes an integer" in err.err
