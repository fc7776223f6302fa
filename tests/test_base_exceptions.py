"""A model's BaseException never ends sim's process silently: sys.exit(0) or GeneratorExit raised by an
actor is an `uncaught-exception` violation on both engines, and from setup or an invariant a one-line
model error (exit 2); KeyboardInterrupt is the user's and stops sim with exit 130, no traceback."""
from __future__ import annotations

import pytest

from sim import RandomWalk, Scenario, cli, explore, point


def actor_raising(exc):
    def setup(k):
        async def w():
            await point("step")
            raise exc
        k.process("p1", lambda p: p.spawn("w", w))
        return {}
    return Scenario("raising", setup)


@pytest.mark.parametrize("engine", ["fast", "trio"])
@pytest.mark.parametrize("exc", [SystemExit(0), GeneratorExit()], ids=["SystemExit", "GeneratorExit"])
def test_an_actor_raising_a_base_exception_is_an_uncaught_exception(engine, exc):
    res = explore(actor_raising(exc), RandomWalk(1), budget=1, engine=engine)
    assert res.violation is not None and res.violation.invariant == "uncaught-exception"
    assert type(exc).__name__ in res.violation.message


def test_sys_exit_in_setup_or_an_invariant_is_a_one_line_model_error(tmp_path, monkeypatch, capsys, isolated_registry):
    (tmp_path / "exiting_model_for_tests.py").write_text(
        "import sys\n"
        "from sim import Scenario, at_end, point\n"
        "def quits(k):\n    sys.exit(0)\n"
        "def fine(k):\n"
        "    async def w():\n        await point('step')\n"
        "    k.process('p1', lambda p: p.spawn('w', w))\n    return {}\n"
        "SCENARIOS = [Scenario('quits-in-setup', quits),\n"
        "             Scenario('quits-in-invariant', fine, invariants=(at_end('I-Q', lambda s: sys.exit(0)),))]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, where in (("quits-in-setup", "setup raised SystemExit"), ("quits-in-invariant", "invariant I-Q raised SystemExit")):
        code = cli.main(["explore", "--load", "exiting_model_for_tests", "--scenario", name, "--out", str(tmp_path)])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and where in err, err


def with_list_command(monkeypatch, func):
    """`sim list` replaced by `func` (the parser binds commands when it is built)."""
    real = cli.build_parser

    def build():
        p = real()
        p._subparsers._group_actions[0].choices["list"].set_defaults(func=func)
        return p
    monkeypatch.setattr(cli, "build_parser", build)


def test_keyboard_interrupt_stops_sim_with_130(monkeypatch, capsys):
    def interrupted(args, rest):
        raise KeyboardInterrupt
    with_list_command(monkeypatch, interrupted)
    assert cli.main(["list"]) == 130
    out, err = capsys.readouterr()
    assert err == "sim: interrupted\n" and "Traceback" not in out


def test_an_internal_error_of_sim_is_one_line_exit_4_with_a_saved_report(monkeypatch, capsys):
    def broken(args, rest):
        raise ZeroDivisionError("a bug in sim itself")

    with_list_command(monkeypatch, broken)
    assert cli.main(["list"]) == 4
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("sim: internal error: ZeroDivisionError: a bug in sim itself")
    report = err.rsplit("crash report: ", 1)[1].rstrip(")\n")
    text = open(report, encoding="utf-8").read()
    assert "Traceback" in text and "ZeroDivisionError" in text and "['list']" in text


def test_replay_shrink_and_regress_of_a_model_that_now_raises_are_one_line_errors(tmp_path, monkeypatch, capsys):
    """A trace found on a model whose setup now raises: every command says so in one line, exit 2."""
    from sim import registry
    from scenarios import engine_toys

    registry.all_scenarios()
    monkeypatch.setattr(registry, "_registry", {})
    toy = engine_toys.claim_then_publish()
    registry.register(toy)
    assert cli.main(["explore", "--scenario", toy.name, "--no-shrink", "--out", str(tmp_path)]) == 1
    [found] = [p for p in tmp_path.glob("*.json")]
    capsys.readouterr()

    def broken(k):
        raise RuntimeError("the model's setup now fails")
    monkeypatch.setattr(registry, "_registry", {})
    registry.register(Scenario(toy.name, broken, toy.invariants, revision=toy.revision, params=toy.params, faults=toy.faults,
                               max_steps=toy.max_steps, expect=toy.expect))
    for argv in (["replay", found], ["shrink", found], ["regress", found, "--name", "x", "--dir", tmp_path / "c"]):
        code = cli.main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "the model's setup now fails" in err, (argv[0], err)


def catching_crashed(catch_all: bool, points: int = 2) -> Scenario:
    import sim as _sim
    from sim import Faults

    def setup(k):
        async def w():
            for _ in range(points):
                try:
                    await point("step")
                except (BaseException if catch_all else _sim.Crashed):
                    pass
        k.process("p1", lambda p: p.spawn("w", w))
        k.process("p2", lambda p: p.spawn("w", w))
        return {}
    return Scenario("catch-crash", setup, faults=Faults(crashes=1), max_steps=200)


def test_an_actor_that_catches_crashed_dies_all_the_same_on_both_engines():
    from sim import DFS
    # it awaits again after its process crashed: the fast engine closes it, the trio engine ends it the same
    # way (it used to spin on the trio engine)
    results = {e: explore(catching_crashed(False), DFS(), engine=e) for e in ("fast", "trio")}
    assert all(r.violation is None and r.complete for r in results.values())
    assert results["fast"].executions == results["trio"].executions


def test_an_actor_that_swallows_every_exception_after_a_crash_is_a_model_error_on_trio():
    from sim.runtime import SimUsageError
    with pytest.raises(SimUsageError, match="went on after its process crashed"):
        explore(catching_crashed(True, points=20), RandomWalk(3), budget=50, engine="trio")
