"""Fixtures shared by the unit tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def isolated_registry(monkeypatch):
    """The registry as it is (built-ins loaded), but whatever this test registers or --loads is gone
    after it: a user module a test loads must not show up in another test's `--scenario all`."""
    from sim import registry
    registry.all_scenarios()
    for name in ("_registry", "_models", "_aliases", "_references", "_variants", "_origins"):
        monkeypatch.setattr(registry, name, dict(getattr(registry, name)))
    monkeypatch.setattr(registry, "_builders", list(registry._builders))
    return registry
