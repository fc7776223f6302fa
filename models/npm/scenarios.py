"""The released @workflow/world-local under sim's scheduler: `WORKLOAD@local-npm:VERSION`.

Any workload of world-local's models runs on a pinned release (models/npm/versions/). Nothing here is
in `SCENARIOS` (so `sim explore` of everything needs no Node): the pairs are built on demand, with
the verdict `EXPECT` knows for them.
"""
from __future__ import annotations

from models.invariants import one_body_per_attempt, with_repairability, world_invariants
from models.npm.install import versions
from models.npm.world import world_class
from models.workloads import build_scenario
from sim import ModelInfo, Scenario, at_end

WORLD = "local-npm"
REVISIONS = {v: world_class(v) for v in versions()}
# `VERSIONu`: the same release with the clock standing still (a storm's id order; models.npm.world.NpmData.clock)
REVISIONS.update({v + "u": world_class(v, storm=True) for v in versions()})

# version -> (bugs, what it is)
NOTES = {
    "4.1.0": ("B1", "released, before #2295: a lost token claim is always a hook_conflict (#2283); "
                    "step_created and wait_created unguarded (B15)"),
    "4.3.0": ("", "released, after #2295; step_created and wait_created unguarded (B15)"),
    "4.4.1": ("", "released, after #2295 (latest pinned); step_created and wait_created unguarded (B15)"),
}

# version -> the model revision that stands for it (benchmarks/npm_differential.py compares the two). The
# 4.x releases are the stable line: their step_created and wait_created have no `.created` lock (B15's
# guards), which the main-line revisions B1 and L1 have; see README, "Model against package"
MODEL_OF = {"4.1.0": "local:B15", "4.3.0": "local:L1s", "4.4.1": "local:L1s"}

EXPECT = {
    # #2283 on the released code: the run's own hook_created loses the token claim to itself and is logged
    # as a hook_conflict beside the winner's hook_created
    ("hook-1665", "4.1.0"): "I-H2",
    ("hook-pairs", "4.1.0"): "I-H2",
    ("hook-pairs", "4.4.1"): "hold",
    ("hook-1665", "4.4.1"): "hold",
    # B15 on every pinned release (the stable line has no `.created` locks): two creators of one step or
    # wait both publish (found by differential testing, README "Model against package")
    **{(w, v): inv for v in ("4.1.0", "4.3.0", "4.4.1")
       for w, inv in (("step-create-pair", "I-S1"), ("wait-create-pair", "I-W1"))},
}
BUG_OF = {(w, v): "B15" for (w, v) in EXPECT if w in ("step-create-pair", "wait-create-pair")}

MODELS = [ModelInfo(f"{WORLD}:{v}", NOTES.get(v, ("", "released"))[1],
                    tuple(b for b in NOTES.get(v, ("",))[0].split(", ") if b),
                    f"{WORLD}:{versions()[i - 1]}" if i else "")
          for i, v in enumerate(versions())] + \
    [ModelInfo(f"{WORLD}:{v}u", "the clock stands still: ids of two processes in one millisecond order as their "
               "seeded ULID factories draw them", (), f"{WORLD}:{v}") for v in versions()]


def invariants() -> tuple:
    # the model's invariants over the real data directory (models.npm.world.NpmView); I-H5 and the
    # `.terminal` lock check read the model's own file layout and are left out
    return with_repairability(world_invariants(False)) + (at_end("I-EXEC", one_body_per_attempt),)


def scenario(workload: str, version: str, expect: str | None = None, **params) -> Scenario:
    from models.local.scenarios import WORKLOADS
    expect = expect or EXPECT.get((workload, version), "hold")
    bug = (BUG_OF.get((workload, version.rstrip("u"))) or NOTES.get(version.rstrip("u"), ("",))[0]) \
        if expect != "hold" else ""
    return build_scenario(WORLD, version, REVISIONS[version], WORKLOADS, workload, expect, bug, invariants(),
                          f"world-local@{version}", **params)


def build(workload: str, model: str):
    from models.local.scenarios import WORKLOADS
    name, _, version = model.partition(":")
    if name != WORLD or workload not in WORKLOADS or version not in REVISIONS:
        return None
    return scenario(workload, version)
