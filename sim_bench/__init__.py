"""sim's own benchmarks, outside the engine package: `python -m sim bench` runs `sim_bench.bench`.

- `bench`: the engines' throughput and time to the first bug, against `bare` and the uncontrolled
  stress run (`--zoo`: `zoo`; `--backends`: the repository's `benchmarks/backends_*.py`);
- `bare`: the hand-written coroutine driver the engines are measured against;
- `zoo`: how fast each strategy finds each known bug, and what DPOR saves where none is.

They depend on `sim` and on the engine's toy scenarios (`scenarios.engine_toys`); `sim` never
imports them, except the `bench` command, when it runs.
"""
