"""The step watchdog: an actor that loops without awaiting a point (even one that swallows the
interrupt) ends with a one-line error naming it, on both engines, instead of hanging."""
from __future__ import annotations

import pytest

from sim import RandomWalk, Scenario, cli, explore, point
from sim.watchdog import StepTimeout, Watchdog


def spinning(swallow: bool) -> Scenario:
    def setup(k):
        async def w():
            await point("before the loop")
            while True:
                if swallow:
                    try:
                        while True:
                            pass
                    except BaseException:
                        pass
        k.process("p1", lambda p: p.spawn("w", w))
        return {}
    return Scenario("spin", setup)


@pytest.mark.parametrize("engine", ["fast", "trio"])
def test_a_step_that_never_reaches_a_point_is_a_step_timeout(engine, monkeypatch):
    monkeypatch.setenv("SIM_STEP_TIMEOUT", "0.5")
    with pytest.raises(StepTimeout, match=r"no step completed for 0.5 s at step 2; last running: p1/w "
                                          r"\(after 'before the loop'\)"):
        explore(spinning(False), RandomWalk(1), budget=1, engine=engine)


SWALLOWING_MODEL = """
from sim import Scenario, point
def setup(k):
    async def w():
        await point("before the loop")
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass
    k.process("p1", lambda p: p.spawn("w", w))
    return {}
SCENARIOS = [Scenario("spin-swallow", setup)]
"""


@pytest.mark.parametrize("engine", ["fast", "trio"])
def test_a_model_that_swallows_every_interrupt_ends_the_process_with_the_message(engine, tmp_path):
    # no way out in-process: sim ends its own process (exit 2) rather than hang; in a subprocess here
    import os
    import subprocess
    import sys
    (tmp_path / "swallowing_model.py").write_text(SWALLOWING_MODEL)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, "-m", "sim", "explore", "--load", "swallowing_model", "--scenario",
                        "spin-swallow", "--engine", engine, "--step-timeout", "0.5", "--out", str(tmp_path / "out")],
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    assert "no step completed for 0.5 s" in p.stderr and "Traceback" not in p.stderr


def test_the_cli_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    from sim import registry
    registry.all_scenarios()
    monkeypatch.setattr(registry, "_registry", {})
    registry.register(spinning(False))
    monkeypatch.delenv("SIM_STEP_TIMEOUT", raising=False)
    code = cli.main(["explore", "--scenario", "spin", "--step-timeout", "0.5", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no step completed for 0.5 s" in err, err


def test_a_slow_but_moving_execution_is_left_alone():
    import time
    wd = Watchdog(0.2)
    with wd:
        time.sleep(0.5)     # no execution running: nothing to watch
    assert wd.fired is None


def test_a_bad_step_timeout_is_a_usage_error(capsys):
    assert cli.main(["explore", "--step-timeout", "-1"]) == 2
    assert "--step-timeout" in capsys.readouterr().err
