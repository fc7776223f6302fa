"""The bug zoo benchmark: every registered scenario takes part, with the expected outcomes."""
from __future__ import annotations

from sim import registry
from sim_bench.zoo import main, run


def test_every_known_bug_and_holding_scenario_is_in_the_zoo_table():
    text = run(seeds=2, budget=300, say=lambda _: None)
    toys = [s for s in registry.all_scenarios() if not s.model]   # the zoo covers the engine's toys
    for s in toys:
        assert f"| {s.name} |" in text
    # a strategy that is exhaustive always finds a known bug, and each holding scenario holds under both
    for s in toys:
        if s.expect == "hold":
            assert [line for line in text.splitlines() if line.startswith(f"| {s.name} |")][0].endswith("| yes |")
        else:
            for strategy in ("dfs", "dpor", "portfolio"):
                row = [line for line in text.splitlines() if line.startswith(f"| {s.name} | {strategy} |")]
                assert row and "| 0/" not in row[0], (s.name, strategy)


def test_zoo_never_overwrites_an_existing_report(tmp_path, capsys):
    out = tmp_path / "zoo.md"
    out.write_text("keep me\n")
    assert main(["--seeds", "1", "--budget", "50", "--out", str(out)]) == 0
    assert out.read_text() == "keep me\n"
    assert (tmp_path / "zoo-1.md").read_text().startswith("## Bug zoo")
    assert main(["--seeds", "0"]) == 2
