"""Which storage backend a world's `storage()` builds: its model, or a real system behind the same interface.

The choice is process-wide (an environment variable, so worker processes of `--jobs` inherit it) and
recorded in the trace. A world that has no real backend ignores it.
"""
from __future__ import annotations

import contextlib
import os

ENV = "SIM_BACKEND"
MODEL = "model"
NAMES = (MODEL, "postgres")


def current() -> str:
    return os.environ.get(ENV) or MODEL


@contextlib.contextmanager
def using(name: str | None):
    """Run the body with `name` as the backend (None: leave it as it is); restores the previous one."""
    if name is None:
        yield
        return
    if name not in NAMES:
        raise ValueError(f"unknown backend {name!r} (known: {', '.join(NAMES)})")
    before = os.environ.get(ENV)
    os.environ[ENV] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before
