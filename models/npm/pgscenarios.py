"""The released @workflow/world-postgres under sim's scheduler: `WORKLOAD@postgres-npm:VERSION`.

Any workload of world-postgres's models runs on a pinned release (models/npm/versions-postgres/), on
the throwaway server. Nothing here is in `SCENARIOS` (so `sim explore` of everything needs neither Node
nor a server): the pairs are built on demand, with the verdict `EXPECT` knows for them.
"""
from __future__ import annotations

from models.invariants import one_body_per_attempt, with_repairability, world_invariants
from models.npm.install import versions
from models.npm.pgworld import world_class
from models.workloads import build_scenario
from sim import ModelInfo, Scenario, at_end

WORLD = "postgres-npm"
VERSIONS = versions("postgres")
REVISIONS = {v: world_class(v) for v in VERSIONS}
# `VERSIONu`: the clock stands still (a storm's id order), as the model's P3u/P4u
REVISIONS.update({v + "u": world_class(v, storm=True) for v in VERSIONS})

# version -> (bugs, what it is, the model revision that stands for it)
NOTES = {
    # 4.2.0 mints every event id at the top of events.create, and its token probe finding the run's own
    # hook writes hook_conflict (no #2295): P1m
    "4.2.0": ("B1p, B11", "released, before #2714: step_started is two autocommits (UPDATE, then INSERT), every "
                          "event id minted before the call's first statement; own hook -> hook_conflict", "P1m"),
    "4.3.7": ("", "released, latest 4.x: #2714's step_started transaction, its id minted after the row lock", "P4"),
}

# (workload, version) -> (expected verdict, the bug it shows)
# step-2331 on 4.2.0 is left out: #2331 is reachable there (postgres:P1m's counterexample carried over,
# tests/real_postgres), but the default strategy did not find it in the executions measured (README), so
# neither I-S2 nor hold would be what its default run is known to give
KNOWN = {
    # no #2295 in 4.2.0: the second hook_created of a pair meets its own row and writes hook_conflict
    ("hook-pairs", "4.2.0"): ("I-H2", "B1p"),
    ("hook-pairs", "4.3.7"): ("hold", ""),
    ("step-2331", "4.3.7"): ("hold", ""),
}
EXPECT = {k: v for k, (v, _bug) in KNOWN.items()}

MODELS = [ModelInfo(f"{WORLD}:{v}", NOTES.get(v, ("", "released", ""))[1],
                    tuple(b for b in NOTES.get(v, ("",))[0].split(", ") if b),
                    f"{WORLD}:{VERSIONS[i - 1]}" if i else "")
          for i, v in enumerate(VERSIONS)]


def invariants() -> tuple:
    return with_repairability(world_invariants()) + (at_end("I-EXEC", one_body_per_attempt),)


def scenario(workload: str, version: str, expect: str | None = None, **params) -> Scenario:
    from models.postgres.scenarios import WORKLOADS
    expect = expect or EXPECT.get((workload, version), "hold")
    bug = KNOWN.get((workload, version), ("", NOTES.get(version.rstrip("u"), ("",))[0]))[1] if expect != "hold" else ""
    return build_scenario(WORLD, version, REVISIONS[version], WORKLOADS, workload, expect, bug, invariants(),
                          f"world-postgres@{version}", **params)


def build(workload: str, model: str):
    from models.postgres.scenarios import WORKLOADS
    name, _, version = model.partition(":")
    if name != WORLD or workload not in WORKLOADS or version not in REVISIONS:
        return None
    return scenario(workload, version)
