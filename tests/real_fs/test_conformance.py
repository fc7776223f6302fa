"""The guard for models/local/fs.py: every interleaving of each program on the model and on a real
directory, outcomes compared (tests/real_fs/conformance.py has the programs and the comparison)."""
from __future__ import annotations

import os

import pytest

from models.local.fs import DataDir
from models.local.realfs import RealDataDir
from sim import point

from tests.real_fs.conformance import FAMILIES, Program, R, compare, run_all

PROGRAMS = [(family, prog) for family, progs in FAMILIES.items() for prog in progs]


@pytest.mark.parametrize("family,prog", PROGRAMS, ids=[f"{f}:{p.name}" for f, p in PROGRAMS])
def test_model_and_real_directory_agree_on_every_schedule(family, prog):
    schedules, _ = compare(prog)
    assert schedules >= 1


def test_a_crash_between_the_racy_writes_check_and_rename_leaves_the_temp_file():
    prog = Program("put_nx-crash", ((("put_nx", R, {"n": 1}),),), crashes=1)
    real = run_all(prog, real=True)
    # schedules: no crash, crash before the check, crash before the rename (after the temp was written)
    left = sorted(r[3] for r in real.values())
    assert left == [0, 0, 1]
    leaked = [r for r in real.values() if r[3]][0]
    assert leaked[1] == {}, "the record is not there: only the temp file"


class OverwritingCreate(DataDir):
    """A wrong model: exclusive create that replaces an existing file."""

    async def xcreate(self, path, value, why=""):
        await point(f"XCREATE {path}{why}", reads=(self.fkey(path),), writes=self._put_writes(path))
        self._write(path, value)
        return True


def test_the_comparison_catches_a_model_that_differs_from_the_filesystem(monkeypatch):
    import tests.real_fs.conformance as conformance
    monkeypatch.setattr(conformance, "DataDir", OverwritingCreate)
    prog = Program("xcreate-2", ((("xcreate", R, {"n": 1}),), (("xcreate", R, {"n": 2}),)))
    with pytest.raises(AssertionError, match="model .* != real"):
        compare(prog)


def test_temp_names_come_from_the_process_and_a_counter_and_each_execution_gets_a_fresh_directory():
    prog = Program("put_nx-crash", ((("put_nx", R, {"n": 1}),),), crashes=1)
    roots = set()
    seen = []

    import tests.real_fs.conformance as conformance
    real_final = conformance.final_state

    def spy(state, real):
        if real:
            roots.add(state["fs"].root)
            seen.extend(state["fs"].leftovers())
        return real_final(state, real)

    conformance.final_state = spy
    try:
        run_all(prog, real=True)
    finally:
        conformance.final_state = real_final
    assert len(roots) == 3
    assert seen == ["p0.0.1"]


def test_old_execution_directories_are_removed():
    import gc

    from models.local import realfs
    from sim import DFS, Scenario, explore
    held = []   # still referenced: only the newest KEEP survive

    def setup(sim_):
        held.append(RealDataDir())
        return {}

    for _ in range(realfs.KEEP + 2):
        explore(Scenario("empty", setup), DFS())
    roots = [d.root for d in held]
    assert not os.path.exists(roots[0])
    assert os.path.exists(roots[-1])
    held.clear()
    gc.collect()
    assert not any(os.path.exists(r) for r in roots)
