"""Determinism: the same seed and tape give byte-identical tapes and traces in any process,
under any PYTHONHASHSEED, and on both engines."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sim import Faults, Lock, Queue, Scenario, at_end, explore, make_trace, now, point, sleep, ulid
from sim import registry
from sim.strategy import make
from scenarios import engine_toys
from tests.outside_model import SCENARIOS as OUTSIDE, Record

ROOT = Path(__file__).resolve().parent.parent


def busy() -> Scenario:
    """Several processes, two queues, a cross-process lock, ULIDs, timers, crashes and a redelivery.

    The model itself keeps only lists and dicts in insertion order: whatever could differ
    between processes would have to come from the engine.
    """
    def setup(k):
        st = {"ledger": [], "mails": []}
        orders = Queue("orders", visibility_timeout=500)
        mails = Queue("mails", visibility_timeout=300, max_deliveries=3)
        ledger_lock = Lock("ledger")
        for i in range(3):
            orders.push(f"o{i}")

        async def take_order(order, delivery):
            await point(f"read {order}", reads=(("order", order),))
            oid = ulid()
            async with ledger_lock:
                await point("append ledger", writes=("ledger",))
                st["ledger"].append((order, oid, now()))
            await mails.send(f"mail for {order}")

        async def send_mail(text, delivery):
            await sleep(20)
            await point(f"send {text}", writes=(("mail", text),))
            st["mails"].append((text, delivery.attempt, now()))

        for name in ("w1", "w2"):
            k.process(name, lambda p: orders.consume(p, take_order))
        k.process("mailer", lambda p: mails.consume(p, send_mail))
        return st

    def booked(st):
        missing = [o for o in ("o0", "o1", "o2") if o not in [e[0] for e in st["ledger"]]]
        return not missing or f"never booked: {', '.join(missing)}"

    return Scenario("busy", setup, invariants=(at_end("every-order-booked", booked),),
                    faults=Faults(crashes=2, redeliveries=1), max_steps=400)


SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import sim
    from sim import registry
    from sim.strategy import make
    from tests.outside_model import Record
    from tests.test_determinism import busy

    out = Path(sys.argv[1])

    def dump(name, scn, strategy, budget):
        rec = Record(strategy)
        ex = sim.explore(scn, rec, budget=budget)
        tapes = [r.tape for r in rec.runs]
        (out / f"{name}.tapes.json").write_text(json.dumps(tapes))
        found = sim.make_trace(scn, ex.tape, strategy=strategy.describe(), execution=ex.found_at) \\
            if ex.tape is not None else None
        whole = [r.tape for r in rec.runs if not r.pruned]   # a pruned execution's tape stops where it was cut
        some = [sim.make_trace(scn, t, strategy=strategy.describe()).to_json() for t in whole[::25]]
        (out / f"{name}.json").write_text("".join(([found.to_json()] if found else []) + some))

    dump("claim-publish", registry.get("claim-publish"), make("random", 7), 1000)
    dump("crash-orphan", registry.get("crash-orphan"), make("random", 3), 1000)
    dump("busy-random", busy(), make("random", 5), 150)
    dump("busy-pct", busy(), make("pct", 5), 100)
    dump("busy-dfs", busy(), make("dfs"), 150)
    dump("busy-dfs-cached", busy(), make("dfs", cache_states=True), 300)   # fingerprints: what is cut
""")


def run_script(hashseeds, tmp_path) -> dict[str, dict[str, bytes]]:
    script = tmp_path / "explore_and_dump.py"
    script.write_text(SCRIPT)
    procs = {}
    for h in hashseeds:  # in parallel: they are independent processes anyway
        out = tmp_path / f"hash{h}"
        out.mkdir()
        env = dict(os.environ, PYTHONHASHSEED=str(h), PYTHONPATH=str(ROOT))
        procs[h] = (out, subprocess.Popen([sys.executable, str(script), str(out)], env=env, cwd=tmp_path,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    files = {}
    for h, (out, p) in procs.items():
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        files[h] = {f.name: f.read_bytes() for f in sorted(out.iterdir())}
    return files


def test_traces_are_byte_identical_across_processes_and_hash_seeds(tmp_path):
    files = run_script((0, 1, 12345), tmp_path)
    reference = files[0]
    assert len(reference) == 12
    for h, got in files.items():
        assert got.keys() == reference.keys()
        for name in reference:
            assert got[name] == reference[name], f"{name} differs with PYTHONHASHSEED={h}"
    # what was compared is meaningful: the bugs were found, the busy runs had faults and queues
    assert b'"invariant": "I-ONE-CREATED"' in reference["claim-publish.json"]
    assert b'"invariant": "I-ORPHAN"' in reference["crash-orphan.json"]
    busy_traces = reference["busy-random.json"] + reference["busy-pct.json"] + reference["busy-dfs.json"]
    for kind in (b'"kind": "crash"', b'"kind": "redeliver"', b'"kind": "time"', b"deliver orders#"):
        assert kind in busy_traces


# ---- in-process ---------------------------------------------------------------------------

def tapes_and_traces(scn, name, seed, budget):
    strategy = make(name, seed)
    rec = Record(strategy)
    ex = explore(scn, rec, budget=budget)
    tapes = [r.tape for r in rec.runs]
    traces = [make_trace(scn, t, strategy=strategy.describe()).to_json() for t in tapes[::10]]
    return ex, tapes, traces


@pytest.mark.parametrize("name", ["random", "pct"])
def test_the_same_seed_twice_gives_identical_tapes_and_traces(name):
    ex, tapes, traces = tapes_and_traces(busy(), name, 21, 60)
    assert ex.ok and ex.executions == 60  # the at-least-once queue books every order
    assert (tapes, traces) == tapes_and_traces(busy(), name, 21, 60)[1:]
    assert tapes != tapes_and_traces(busy(), name, 22, 60)[1]


def test_a_found_violation_is_identical_twice():
    scn = registry.get("claim-publish")
    a, b = explore(scn, make("random", 7)), explore(scn, make("random", 7))
    assert a.violation is not None and (a.violation, a.found_at, a.tape) == (b.violation, b.found_at, b.tape)
    ta = make_trace(scn, a.tape, strategy=make("random", 7).describe(), execution=a.found_at)
    tb = make_trace(scn, b.tape, strategy=make("random", 7).describe(), execution=b.found_at)
    assert ta.to_json() == tb.to_json()


# ---- fast engine vs trio engine -----------------------------------------------------------

def engine_neutral(t) -> str:
    """The trace JSON with the engine's name taken out (it is the one field that must differ)."""
    return t.model_copy(update={"engine": "-"}).sealed().to_json()


@pytest.mark.parametrize("scn", engine_toys.SCENARIOS + [busy()] + OUTSIDE, ids=lambda s: s.name)
def test_fast_and_trio_engines_give_identical_traces(scn):
    rec = Record(make("random", 1))
    explore(scn, rec, budget=25)
    assert rec.runs
    for run in rec.runs:
        fast = make_trace(scn, run.tape, strategy={"name": "random"}, engine="fast")
        trio = make_trace(scn, run.tape, strategy={"name": "random"}, engine="trio")
        assert trio.engine == "trio"
        assert engine_neutral(fast) == engine_neutral(trio)
