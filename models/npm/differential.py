"""Differential testing: one workload on a world-local model revision and on the released package.

The tapes of the two are not interchangeable (the package takes more steps per write than the model,
and its steps are filesystem calls, not the model's reads and writes), so what is compared is the
*outcome* of an execution run to quiescence: which invariants its final state breaks and, per run and
correlation id, the event types in log order. An execution here does not stop at the first violation
(the scenario is run without invariants and they are evaluated once at the end): a state cut at the
first violation depends on the step granularity, which is exactly what differs between the two.

`sample` collects the outcomes of the default schedule and of random schedules; `reach` then searches
the other side for an outcome only one side sampled, with sim's own search (an at-end invariant "the
outcome is not this one"), so that a difference is reported only when a search of the other side did
not find it either.
"""
from __future__ import annotations

import dataclasses

from sim import RandomWalk, Replay, at_end, explore, registry
from sim import strategy as strategies
from sim.explore import run_tape, trace_of
from sim.scenario import BUILTIN_VERDICTS
from sim.shrink import Guided



def to_quiescence(sc):
    """`sc` without invariants: every execution runs to its end (or the step limit)."""
    return dataclasses.replace(sc, invariants=())


def shared(*names: str) -> frozenset:
    """The invariants every one of the scenarios `names` checks: only those are compared (the package's
    worlds leave out the ones that read the model's own file layout, models.npm.scenarios)."""
    return frozenset.intersection(*(frozenset(i.name for i in registry.get(n).invariants) for n in names))


def broken(sc, state, only=None) -> tuple:
    """The names of `sc`'s invariants (those in `only`, if given) the final `state` breaks ("ok": none),
    each checked once."""
    bad = set()
    for inv in sc.invariants:
        if only is not None and inv.name not in only:
            continue
        r = inv.fn(state)
        if not (r is None or r is True):
            bad.add(inv.name)
    return tuple(sorted(bad)) or ("ok",)


def logs_of(state) -> tuple:
    """Per run, per correlation id (its last 4 characters, "" for the run's own events): the event types
    in log order. The order across correlation ids is the schedule's, not a behaviour, so it is dropped."""
    out = []
    for run in state.view.runs():
        per: dict = {}
        for e in state.view.log(run):
            per.setdefault((e["correlationId"] or "")[-4:], []).append(e["eventType"])
        out.append((run[-4:], tuple(sorted((c, tuple(ts)) for c, ts in per.items()))))
    return tuple(out)


def outcome(sc, k, only=None) -> tuple:
    """(verdicts, logs) of a finished execution `k` of `to_quiescence(sc)`."""
    verdicts = (k.violation.invariant,) if k.violation else broken(sc, k.state, only)
    return verdicts, logs_of(k.state)


def show(o: tuple) -> str:
    verdicts, logs = o
    return f"{'+'.join(verdicts)}: " + "; ".join(
        f"run …{r}: " + "; ".join(f"{c or 'run'}: {' '.join(ts)}" for c, ts in log) for r, log in logs)


def sample(name: str, seeds: int, only=None) -> dict:
    """outcome -> (how it was first reached, its trace, how many of the schedules reached it) over the
    default schedule and random seeds 1..N."""
    sc = registry.get(name)
    quiet = to_quiescence(sc)
    seen: dict = {}
    runs = [("default", Guided([]))] + [(f"random seed {s}", RandomWalk(seed=s)) for s in range(1, seeds + 1)]
    for what, strategy in runs:
        k = run_tape(quiet, strategy)
        o = outcome(sc, k, only)
        if o not in seen:
            seen[o] = [what, trace_of(quiet, k, strategy={"name": what}, engine="fast"), 0]
        seen[o][2] += 1
    return {o: tuple(v) for o, v in seen.items()}


def replay_outcome(name: str, tape: list, only=None) -> tuple:
    """The outcome of `tape` (a trace's [kind, n, value] triples) on scenario `name`, run to quiescence."""
    sc = registry.get(name)
    k = run_tape(to_quiescence(sc), Replay([v for _kind, _n, v in tape]))
    return outcome(sc, k, only)


class _UntilReached:
    """`explore`'s rule past a violation (sim.keepgoing): go on past every verdict but the target's."""

    @staticmethod
    def stops(invariant: str) -> bool:
        return invariant == "REACHED"

    @staticmethod
    def limit(_found_at: int, budget):
        return budget


def reach(name: str, target: tuple, budget: int, only=None, seed: int = 1):
    """Search scenario `name` (portfolio, `budget` executions) for an execution whose outcome is `target`.
    Returns (execution number, its trace) or None. A built-in verdict (deadlock, step limit) ends an
    execution before any at-end check, so such a target is only ever matched by sampling."""
    sc = registry.get(name)
    if target[0][0] in BUILTIN_VERDICTS:
        return None
    found = at_end("REACHED", lambda st: (broken(sc, st, only), logs_of(st)) != target or "reached")
    probe = dataclasses.replace(sc, invariants=(found,))
    res = explore(probe, strategies.make("portfolio", seed), budget=budget, past=_UntilReached())
    hit = res.violations.get("REACHED")
    if hit is None:
        return None
    k = run_tape(to_quiescence(sc), Replay(hit.tape))
    return hit.execution, trace_of(to_quiescence(sc), k, strategy={"name": "portfolio", "seed": seed}, engine="fast")
