"""The outside models in examples/: each loaded by file path, as a user of sim would.

Each example is written only against `import sim` and has a known bug (one scenario)
and its fix (another). From a clean interpreter in a temporary folder: explore finds
the bug and saves its traces; from another folder, with no --load (the trace records
what was loaded), replay reproduces it, shrink shrinks it and report renders it; the
fixed scenario holds and its coverage says exhaustive.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.test_cli import sim_process

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

CASES = [  # file, buggy scenario, the invariant its bug breaks, fixed scenario, strategy that covers it
    ("lease.py", "lease-unfenced", "I-FENCE", "lease-fenced", "dpor"),
    ("wal_kv.py", "wal-kv-no-replay", "I-DURABLE", "wal-kv-replay", "dpor"),
    ("outbox.py", "outbox-no-dedupe", "I-CHARGED-ONCE", "outbox-dedupe", "dpor"),
]


def no_traceback(p) -> None:
    assert "Traceback" not in p.stdout + p.stderr, p.stderr


def test_every_example_is_covered_here():
    assert sorted(f.name for f in EXAMPLES.glob("*.py")) == sorted(c[0] for c in CASES)


@pytest.mark.parametrize("file,buggy,invariant,fixed,strategy", CASES, ids=[c[0] for c in CASES])
def test_an_example_finds_its_bug_and_its_traces_work_alone(tmp_path, file, buggy, invariant, fixed, strategy):
    proj = tmp_path / "proj"
    (proj / "examples").mkdir(parents=True)
    shutil.copy(EXAMPLES / file, proj / "examples" / file)
    ex = sim_process("explore", "--load", f"examples/{file}", "--scenario", buggy, "--out", "out", cwd=proj)
    no_traceback(ex)
    assert ex.returncode == 1, ex.stdout + ex.stderr     # one scenario named: a violation exits 1
    assert f"{buggy}: {invariant} violated" in ex.stdout
    shrunk = next((proj / "out").glob("*-shrunk.json"))
    assert json.loads(shrunk.read_text())["load"] == [f"examples/{file}"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for argv, code in ((["replay", shrunk], 1), (["shrink", shrunk, "--out", elsewhere / "s"], 1),
                       (["report", shrunk], 0), (["report", shrunk, "--format", "dot"], 0)):
        p = sim_process(*argv, cwd=elsewhere)
        no_traceback(p)
        assert p.returncode == code, (argv[0], p.stdout, p.stderr)
        if argv[0] == "replay":
            assert invariant in p.stdout
    assert list((elsewhere / "s").glob("*-shrunk.json"))

    ok = sim_process("explore", "--load", f"examples/{file}", "--scenario", fixed, "--strategy", strategy,
                     "--out", "out-fixed", cwd=proj)
    no_traceback(ok)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    [row] = [ln for ln in ok.stdout.splitlines() if ln.strip().startswith(fixed)]
    assert "holds" in row and "exhaustive within" in row, row
    assert not (proj / "out-fixed").exists() or not list((proj / "out-fixed").iterdir())
