"""`--backend`: which storage a world's scenarios run on, its model (default) or the real thing.

The choice travels in the environment (`SIM_BACKEND`), so worker processes started after it is made
(`--jobs`, the pool that spreads scenarios) build their scenarios on the same backend; a trace records
it (when it is not `model`) and replay uses the trace's unless told otherwise. A world reads it with
`current()` when it makes an execution's storage. A backend other than `model` stands in for one
world's model only: the scenarios of other worlds are left out, with a note.
"""
from __future__ import annotations

import contextlib
import os

ENV = "SIM_BACKEND"
MODEL = "model"
# backend -> the world whose storage it replaces (None: every world's model)
BACKENDS = {MODEL: None, "fs": "local", "postgres": "postgres"}
NAMES = tuple(BACKENDS)


def current() -> str:
    return os.environ.get(ENV) or MODEL


def add_option(parser, replay: bool = False) -> None:
    if replay:
        parser.add_argument("--backend", choices=NAMES, default=None,
                            help="backend to replay on (default: the trace's)")
        return
    parser.add_argument("--backend", default=MODEL, choices=NAMES,
                        help="what a world's storage runs on: model (default); fs (world-local's files in a real "
                             "temporary directory; world-local scenarios only); postgres (a real PostgreSQL "
                             "server; world-postgres scenarios only)")


def apply(backend: str, scenarios: list) -> tuple[list, list[str]]:
    """Select `backend` for this process and its future workers; the scenarios it applies to, and notes."""
    os.environ[ENV] = backend
    world = BACKENDS[backend]
    if world is None:
        return scenarios, []
    kept = [s for s in scenarios if s.model.split(":", 1)[0] == world]
    notes = [] if len(kept) == len(scenarios) else [
        f"--backend {backend}: {len(scenarios) - len(kept)} scenario(s) not on world-{world} left out"]
    return kept, notes


@contextlib.contextmanager
def using(backend: str | None):
    """Run the body's executions on `backend` (None: leave it as it is); restores the previous one."""
    if backend is None:
        yield
        return
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    old = os.environ.get(ENV)
    os.environ[ENV] = backend
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old
