"""The options the command line and the pytest plugin share are defined once (sim.cli.options), and the
one default they differ in (the strategy) is the documented one in README and in both `--help`s."""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from sim import cli, pytest_plugin
from sim import engine as engines
from sim import strategy as strategies
from sim.cli import options

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["pytester"]


def _explore_defaults() -> argparse.Namespace:
    return cli.build_parser().parse_args(["explore"])


def _help(*argv: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "400"}
    p = subprocess.run([sys.executable, "-m", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return " ".join(p.stdout.split())


def test_the_strategy_defaults_are_the_documented_ones(tmp_path):
    cli_default, plugin_default = _explore_defaults().strategy, pytest_plugin.DEFAULT_STRATEGY
    assert (cli_default, plugin_default) == (options.STRATEGY.default, "random") and cli_default == "portfolio"
    readme = (ROOT / "README.md").read_text()
    assert f"| `{cli_default}` (default of `python -m sim explore`) |" in readme
    [said] = re.findall(r"`--sim-strategy` defaults to `(\w+)`", readme)
    assert said == plugin_default
    # each --help gives its own default and the other's
    explore = _help("sim", "explore", "--help", cwd=tmp_path)
    assert f"(default: {cli_default}:" in explore and f"--sim-strategy defaults to {plugin_default}" in explore
    plugin = _help("pytest", "-p", "no:cacheprovider", "--help", cwd=tmp_path)
    assert f"(default: {plugin_default}, where `python -m sim explore` defaults to {cli_default}:" in plugin


def test_the_plugin_defaults_reach_pytest(pytester):
    pytester.makepyfile(test_defaults="""
        def test_read(request):
            o = request.config.getoption
            print("DEFAULTS", o("sim_strategy"), o("sim_seed"), o("sim_budget"), o("sim_engine"), o("sim_trace_dir"))
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"*DEFAULTS {pytest_plugin.DEFAULT_STRATEGY} 1 None None None*"])


def test_the_plugin_options_are_the_command_lines_definitions():
    explore = {a.option_strings[-1]: a for a in cli.build_parser()._subparsers._group_actions[0]
               .choices["explore"]._actions if a.option_strings}
    flags = {o.pytest_flag for o in pytest_plugin.OPTIONS}
    assert flags == {"--sim-seed", "--sim-budget", "--sim-strategy", "--sim-engine", "--sim-no-shrink",
                     "--sim-trace-dir"}
    for o in pytest_plugin.OPTIONS:
        cmd = explore[o.flag]   # the same option on the command line, from the same definition
        assert (o.choices, o.metavar) == (cmd.choices, cmd.metavar), o.flag
    assert pytest_plugin.STRATEGIES == strategies.NAMES and pytest_plugin.ENGINES == engines.NAMES


def test_an_option_is_the_same_in_argparse_and_in_pytest():
    class Group:   # pytest's option group, as the plugin calls it
        def __init__(self):
            self.added = []

        def addoption(self, *flags, **kw):
            self.added.append((flags, kw))

    for option in (options.SEED, options.ENGINE, options.NO_SHRINK, options.LOAD):
        parser, group = argparse.ArgumentParser(), Group()
        action = option.add(parser)
        option.addoption(group)
        [(flags, kw)] = group.added
        assert flags == ("--sim-" + option.flag[2:],) and action.option_strings == [option.flag]
        assert kw["default"] == action.default and kw["help"] == action.help
        assert kw.get("choices") == action.choices and kw.get("type") == action.type


def test_a_command_changes_one_field_where_its_meaning_differs():
    replay = cli.build_parser().parse_args(["replay", "t.json"])
    assert replay.engine is None and replay.backend is None       # the trace's
    assert _explore_defaults().engine == options.ENGINE.default == "fast"
    assert options.ENGINE.but(default=None).choices == options.ENGINE.choices


def test_the_console_script_and_the_plugin_entry_point_resolve():
    import importlib
    import tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    module, func = project["scripts"]["sim"].split(":")
    assert getattr(importlib.import_module(module), func) is cli.main
    assert importlib.import_module(project["entry-points"]["pytest11"]["sim"]) is pytest_plugin
