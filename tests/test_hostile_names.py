"""Names and notes from a model or a trace are data, not terminal commands: control characters are
shown escaped, and a process named with a non-ASCII digit (`1²`) renders in every report format."""
from __future__ import annotations

import pytest

from sim import Scenario, at_end, cli, note, point, registry


def weird() -> Scenario:
    def setup(k):
        async def w():
            await point("step \x1b[31mred\x1b[0m")
            note("note \x1b]0;title\x07 \x1b[2J")
        k.process("1²", lambda p: p.spawn("w", w))
        k.process("p\x1b[1m", lambda p: p.spawn("w", w))
        return {}
    return Scenario("weird", setup, invariants=(at_end("I-X", lambda s: False),), expect="I-X")


@pytest.fixture
def found(tmp_path, monkeypatch, capsys):
    registry.all_scenarios()
    monkeypatch.setattr(registry, "_registry", {})
    registry.register(weird())
    code = cli.main(["explore", "--scenario", "weird", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1 and "I-X violated" in out
    assert "\x1b" not in out and "\\x1b[31mred" in out and "\\x07" in out
    return sorted(tmp_path.glob("*-shrunk.json"))[0]


@pytest.mark.parametrize("fmt", ["text", "html", "dot"])
def test_every_report_format_renders_and_escapes(found, fmt, capsys):
    assert cli.main(["report", str(found), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "1²" in out
    if fmt != "html":
        assert "\x1b" not in out


def test_replay_prints_escaped(found, capsys):
    assert cli.main(["replay", str(found)]) == 1
    out = capsys.readouterr().out
    assert "reproduced" in out and "\x1b" not in out
