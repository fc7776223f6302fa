"""The main job matches its expectations under other seeds than 1 (issue: a known bug found at execution
854 with seed 1 and not at all with seed 3 made `explore --seed 3` fail on unchanged code).

Each seed is a whole main job (about a minute of CPU): opt-in with `pytest -m slow`. The per-scenario
budgets it relies on come from benchmarks/seed_matrix.py over seeds 1..20; these seeds are a check
that they carry over, not the measurement.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sim import registry


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3, 7])
def test_every_registered_scenario_matches_under_seed(seed, tmp_path):
    env = dict(os.environ, CI="true")
    p = subprocess.run([sys.executable, "-m", "sim", "explore", "--seed", str(seed), "--no-shrink", "--out",
                        str(tmp_path / "traces")], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=1800)   # a hang guard, not a speed check
    tail = p.stdout[p.stdout.rfind("scenario(s)") - 200:]
    assert p.returncode == 0, tail + p.stderr
    assert f"all {len(registry.all_scenarios())} scenario(s) matched their expectation" in p.stdout
