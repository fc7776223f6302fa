"""The options the commands and the pytest plugin share, each defined once.

An `Option` is added to an argparse parser as its flag (`--seed`) and to pytest as the
plugin's (`--sim-seed`: pytest's options share one namespace). A command whose meaning of an
option differs (replay's `--engine` defaults to the trace's) changes that one field where it
adds it, and its help says so.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any, Callable

from sim import backends
from sim import engine as engines
from sim import strategy as strategies
from sim.explore import DEFAULT_BUDGET


# ---- argument types: a bad value is argparse's one-line error -------------------------------------

def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {v}")
    return v


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return v


def nonnegative_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a finite number >= 0")
    return v


# ---- the definition ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Option:
    flag: str                                   # the command line's, e.g. --seed
    help: str
    type: Callable[[str], Any] | None = None
    default: Any = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    action: str | None = None                   # store_true, append
    plugin_flag: str | None = None              # pytest's, when not --sim-<flag without -->

    def but(self, **changes) -> Option:
        """This option as one command (or the plugin) means it."""
        return dataclasses.replace(self, **changes)

    def add(self, parser, **changes) -> argparse.Action:
        """Add to an argparse parser or group."""
        o = self.but(**changes) if changes else self
        return parser.add_argument(o.flag, **o._kwargs())

    @property
    def pytest_flag(self) -> str:
        return self.plugin_flag or "--sim-" + self.flag[2:]

    def addoption(self, group, **changes) -> None:
        """Add to a pytest option group, as `--sim-...`."""
        o = self.but(**changes) if changes else self
        group.addoption(o.pytest_flag, **o._kwargs())

    def _kwargs(self) -> dict:
        kw = {"help": self.help, "default": self.default}
        if self.action is not None:
            kw["action"] = self.action
        if self.action != "store_true":
            for name in ("type", "choices", "metavar"):
                if getattr(self, name) is not None:
                    kw[name] = getattr(self, name)
        return kw


DEFAULT_OUT = os.path.join("reports", "traces")

# how an exploration runs
STRATEGY = Option("--strategy", default="portfolio", choices=strategies.NAMES,
                  help="how choices are made (default: portfolio: random, PCT d=1..3 and DPOR taking turns; "
                       "the pytest plugin's --sim-strategy defaults to random, see README)")
SEED = Option("--seed", type=int, default=1, metavar="N", help="strategy seed (default: 1)")
BUDGET = Option("--budget", type=positive_int, metavar="N",
                help=f"executions per scenario (default: the scenario's own budget, else {DEFAULT_BUDGET}; "
                     f"dfs and dpor run until they have covered their whole choice tree)")
TIME = Option("--time", type=positive_float, metavar="S", help="seconds per scenario")
ENGINE = Option("--engine", default="fast", choices=engines.NAMES, help="execution engine (default: fast)")
PREEMPTIONS = Option("--preemptions", type=int, metavar="K",
                     help="with --strategy dfs: schedules with 0, then 1, ... then K preemptions (CHESS-style)")
BACKEND = Option("--backend", default=backends.MODEL, choices=backends.NAMES,
                 help="what a world's storage runs on: model (default); fs (world-local's files in a real "
                      "temporary directory; world-local scenarios only); postgres (a real PostgreSQL "
                      "server; world-postgres scenarios only)")
STEP_TIMEOUT = Option("--step-timeout", type=nonnegative_float, metavar="SECONDS",
                      help="give up on a step that runs this long without reaching a point (default 60; 0: never)")

# a variant of the scenario (sim.variants)
PARAM = Option("--param", action="append", default=[], metavar="NAME=VALUE",
               help="a workload parameter (repeatable; int, true/false or a word; `sim list` shows each "
                    "scenario's parameters): explores the variant NAME[...], whose expectation is unknown "
                    "(checked as \"hold\")")
CRASHES = Option("--crashes", type=int, metavar="N", help="crash budget per execution")
REDELIVERIES = Option("--redeliveries", type=int, metavar="N", help="redelivery budget per execution")
MAX_STEPS = Option("--max-steps", type=positive_int, metavar="N",
                   help="step limit per execution (more is a livelock violation)")

# what is read and written
LOAD = Option("--load", action="append", default=[], metavar="MODULE",
              help="import MODULE and register its SCENARIOS list (repeatable)")
OUT = Option("--out", default=DEFAULT_OUT, metavar="DIR", plugin_flag="--sim-trace-dir",
             help=f"where failing traces and their reports are written (default: {DEFAULT_OUT})")
NO_SHRINK = Option("--no-shrink", action="store_true", default=False,
                   help="save and print a violation as found (default: also shrink it, save the shrunk trace "
                        "and its HTML report, and print its timeline)")
