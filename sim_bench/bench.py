"""`python -m sim bench`: the engines' throughput and time-to-bug against a bare coroutine driver.

Everything is measured in one process, one run, so the numbers share the
machine's state. Throughput uses `claim-publish-xcreate` (it holds, so no run is
cut short by a violation); time-to-bug uses the racy `claim-publish`.

Method: every mode is warmed up once, then the repetitions run round-robin
across modes (so a change in foreign load spreads over all of them), each timed
with `time.perf_counter` around the real user call (`sim.explore`, including what
it sets up), after a `gc.collect()` and with the collector left on everywhere:
the bare driver gets no GC advantage the engines don't get. Rates are medians
over the repetitions.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sim.cli.common import Parser, UsageError  # one-line errors, like every other sim command
from sim_bench import bare
from sim.strategy import DFS, PCT, RandomWalk, Wrapper

GOAL = 0.5  # the target: fast engine >= half the bare driver's schedules/s

FULL = {"budget": 20_000, "repeat": 5, "seeds": 10, "stress_time": 5.0}
QUICK = {"budget": 300, "repeat": 1, "seeds": 2, "stress_time": 1.0}
WARMUP = 100


# ---- configuration ------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m sim bench",
        description="Measure the engines against a bare coroutine driver on claim-then-publish.")
    p.add_argument("--quick", action="store_true", help="small budgets (a smoke run)")
    p.add_argument("--budget", type=int, help="schedules per throughput measurement; also the executions "
                   "allowed per seed to find the bug (default 20000, quick 300); the trio engine's throughput "
                   "runs get a tenth")
    p.add_argument("--repeat", type=int, help="repetitions per throughput measurement, median reported "
                   "(default 5, quick 1)")
    p.add_argument("--seeds", type=int, help="seeds for time-to-bug (default 10, quick 2)")
    p.add_argument("--stress-time", type=float, help="seconds allowed to the stress mode per seed "
                   "(default 5, quick 1); its runs are capped by --budget too")
    p.add_argument("--workers", type=int, default=2, help="workers in the scenario (default 2)")
    p.add_argument("--out", help="also write the results as Markdown to this new file (never overwritten)")
    return p


@dataclass
class Config:
    budget: int
    repeat: int
    seeds: int
    stress_time: float
    workers: int
    quick: bool
    out: Path | None

    @property
    def trio_budget(self) -> int:
        return max(1, self.budget // 10)


def _config(args) -> Config:
    base = QUICK if args.quick else FULL
    cfg = Config(
        budget=args.budget if args.budget is not None else base["budget"],
        repeat=args.repeat if args.repeat is not None else base["repeat"],
        seeds=args.seeds if args.seeds is not None else base["seeds"],
        stress_time=args.stress_time if args.stress_time is not None else base["stress_time"],
        workers=args.workers, quick=args.quick, out=Path(args.out) if args.out else None)
    for name in ("budget", "repeat", "seeds", "workers"):
        if getattr(cfg, name) < 1:
            raise UsageError(f"--{name} must be >= 1, got {getattr(cfg, name)}")
    if cfg.stress_time <= 0:
        raise UsageError(f"--stress-time must be > 0, got {cfg.stress_time}")
    if cfg.out is not None:
        if cfg.out.exists():
            raise UsageError(f"refusing to overwrite existing file {cfg.out}")
        if not cfg.out.parent.is_dir():
            raise UsageError(f"directory does not exist: {cfg.out.parent}")
    return cfg


# ---- the scenarios --------------------------------------------------------------------------

def _scenarios(workers: int):
    from scenarios.engine_toys import claim_then_publish
    # plain dicts, as in the bare driver: the ratio is the engine's overhead, not sim.Store's
    return (claim_then_publish(workers, exclusive=True, managed=False),
            claim_then_publish(workers, exclusive=False, managed=False))


class _Cycle(Wrapper):
    """An exhaustive strategy restarted each time it completes: one `explore` runs a fixed budget of it.

    `choose` and `end_execution` are the inner strategy's own bound methods, so
    the kernel pays no extra call per decision for the wrapper. It never claims
    completeness: it runs the same tree again and again.
    """
    exhaustive = False
    complete = False

    def __init__(self, make):
        self._make = make
        self._fresh()

    def _fresh(self):
        self.inner = self._make()
        self.choose = self.inner.choose
        self.end_execution = self.inner.end_execution

    def next_execution(self) -> bool:
        if not self.inner.next_execution():
            self._fresh()
            self.inner.next_execution()
        return True

    def describe(self):
        return {"name": self.inner.name, "cycled": True}


def _trio_available() -> bool:
    from sim import engine
    try:
        engine.make("trio")
    except ImportError:
        return False
    return True


def _stress_fn():
    try:
        from sim.engine.uncontrolled import stress
    except ImportError:
        return None
    return stress


# ---- throughput -------------------------------------------------------------------------------

@dataclass
class Counts:
    schedules: int
    steps: int
    decisions: int
    seconds: float


@dataclass
class Mode:
    name: str          # "fast + random"
    family: str        # "fast", "trio", "bare": what the ratio compares
    kind: str          # "random" or "dfs": which bare row it is compared with
    run: object        # run(budget, seed) -> Counts
    budget: int
    samples: list[Counts] = field(default_factory=list)
    error: str | None = None

    def rate(self, what: str) -> float:
        return statistics.median(getattr(c, what) / c.seconds for c in self.samples)

    @property
    def seconds(self) -> float:
        return statistics.median(c.seconds for c in self.samples)


def _explore_counts(scenario, strategy, engine, budget) -> Counts:
    import sim
    t0 = time.perf_counter()
    r = sim.explore(scenario, strategy, engine=engine, budget=budget)
    dt = time.perf_counter() - t0
    if r.violation is not None:
        raise RuntimeError(f"{scenario.name} broke {r.violation.invariant} during a throughput run")
    return Counts(r.executions, r.steps, r.decisions, dt)


def _explore_per_tree(scenario, engine, budget) -> Counts:
    """DFS as a user runs it: one `explore` per complete enumeration, repeated until `budget` schedules."""
    import sim
    n = steps = decisions = 0
    t0 = time.perf_counter()
    while n < budget:
        r = sim.explore(scenario, DFS(), engine=engine)
        n += r.executions
        steps += r.steps
        decisions += r.decisions
    return Counts(n, steps, decisions, time.perf_counter() - t0)


def _bare_counts(fn, budget, **kw) -> Counts:
    t0 = time.perf_counter()
    r = fn(budget=budget, **kw)
    return Counts(r.schedules, r.steps, r.decisions, time.perf_counter() - t0)


def _bare_dfs_repeated(workers, budget) -> Counts:
    n = steps = decisions = 0
    t0 = time.perf_counter()
    while n < budget:
        r = bare.dfs(workers, True)
        n += r.schedules
        steps += r.steps
        decisions += r.decisions
    return Counts(n, steps, decisions, time.perf_counter() - t0)


def _throughput_modes(cfg: Config, holding, trio: bool) -> list[Mode]:
    w = cfg.workers
    modes = [
        Mode("bare + random", "bare", "random",
             lambda b, s: _bare_counts(bare.random_walk, b, workers=w, exclusive=True, seed=s), cfg.budget),
        Mode("bare + dfs", "bare", "dfs", lambda b, s: _bare_dfs_repeated(w, b), cfg.budget),
    ]
    engines = [("fast", cfg.budget)] + ([("trio", cfg.trio_budget)] if trio else [])
    for eng, budget in engines:
        modes += [
            Mode(f"{eng} + random", eng, "random",
                 lambda b, s, e=eng: _explore_counts(holding, RandomWalk(s), e, b), budget),
            Mode(f"{eng} + dfs (one explore per tree)", eng, "dfs",
                 lambda b, s, e=eng: _explore_per_tree(holding, e, b), budget),
            Mode(f"{eng} + dfs (cycled in one explore)", eng, "dfs",
                 lambda b, s, e=eng: _explore_counts(holding, _Cycle(DFS), e, b), budget),
        ]
    return modes


def measure_throughput(cfg: Config, holding, trio: bool, say) -> list[Mode]:
    modes = _throughput_modes(cfg, holding, trio)
    for m in modes:
        try:
            m.run(min(WARMUP, m.budget), 0)
        except Exception as e:  # an engine still being written must not stop the benchmark
            m.error = f"{type(e).__name__}: {e}"
            say(f"{m.name}: failed ({m.error})")
    for rep in range(cfg.repeat):
        for m in modes:
            if m.error is None:
                gc.collect()
                m.samples.append(m.run(m.budget, rep + 1))
    return [m for m in modes if m.error is None]


def ratios(modes: list[Mode]) -> list[tuple[str, float, bool]]:
    """(label, sim/bare schedules-per-second ratio, is the fast engine held to the goal)."""
    base = {m.kind: m for m in modes if m.family == "bare"}
    out = []
    for m in modes:
        if m.family != "bare" and m.kind in base:
            b = base[m.kind]
            out.append((f"{m.name} / {b.name}", m.rate("schedules") / b.rate("schedules"), m.family == "fast"))
    return out


# ---- time to first violation ---------------------------------------------------------------------

@dataclass
class Hunt:
    name: str
    limit: str                              # what one attempt was allowed
    found: list[tuple[int, float]] = field(default_factory=list)   # (executions, seconds) per finding seed
    missed: list[tuple[int, float]] = field(default_factory=list)  # (runs, seconds) per seed that found nothing
    violations: set = field(default_factory=set)
    error: str | None = None

    @property
    def attempts(self) -> int:
        return len(self.found) + len(self.missed)


def _hunt_explore(hunt: Hunt, scenario, make_strategy, engine, budget, seeds) -> None:
    import sim
    for s in seeds:
        t0 = time.perf_counter()
        r = sim.explore(scenario, make_strategy(s), engine=engine, budget=budget)
        dt = time.perf_counter() - t0
        if r.violation is None:
            hunt.missed.append((r.executions, dt))
        else:
            hunt.found.append((r.found_at, dt))
            hunt.violations.add(r.violation.invariant)


def _hunt_bare(hunt: Hunt, fn, seeds, **kw) -> None:
    for s in seeds:
        t0 = time.perf_counter()
        r = fn(**kw) if s is None else fn(seed=s, **kw)
        dt = time.perf_counter() - t0
        if r.violation is None:
            hunt.missed.append((r.schedules, dt))
        else:
            hunt.found.append((r.found_at, dt))
            hunt.violations.add(r.violation.split(":")[0])


def _hunt_stress(hunt: Hunt, stress, scenario, max_runs, time_limit, seeds) -> None:
    for s in seeds:
        t0 = time.perf_counter()
        r = stress(scenario, seed=s, max_runs=max_runs, time_limit=time_limit)
        dt = time.perf_counter() - t0
        if r.violation is None:
            hunt.missed.append((r.runs, dt))
        else:
            hunt.found.append((r.found_at, dt))
            hunt.violations.add(getattr(r.violation, "invariant", str(r.violation)))


def measure_time_to_bug(cfg: Config, racy, trio: bool, stress, say) -> list[Hunt]:
    seeds = list(range(cfg.seeds))
    b = cfg.budget
    w = cfg.workers
    jobs = [
        (Hunt("bare + random", f"{b} schedules"),
         lambda h: _hunt_bare(h, bare.random_walk, seeds, workers=w, budget=b)),
        (Hunt("bare + dfs", "exhaustive"),
         lambda h: _hunt_bare(h, bare.dfs, [None] * cfg.seeds, workers=w)),
    ]
    # the trio engine gets the full budget here: a hunt stops at the bug, long before it
    for eng in ["fast"] + (["trio"] if trio else []):
        jobs += [
            (Hunt(f"{eng} + random", f"{b} executions"),
             lambda h, e=eng: _hunt_explore(h, racy, RandomWalk, e, b, seeds)),
            (Hunt(f"{eng} + pct(depth=3)", f"{b} executions"),
             lambda h, e=eng: _hunt_explore(h, racy, lambda s: PCT(s, depth=3), e, b, seeds)),
            # DFS has no seed: the repeats only spread timing noise
            (Hunt(f"{eng} + dfs", "exhaustive"),
             lambda h, e=eng: _hunt_explore(h, racy, lambda s: DFS(), e, None, seeds)),
        ]
    if stress is not None:
        jobs.append((Hunt("uncontrolled stress", f"{b} runs / {cfg.stress_time:g} s"),
                     lambda h: _hunt_stress(h, stress, racy, b, cfg.stress_time, seeds)))
    if stress is not None:
        try:  # its first run pays trio's and the MockClock's first-use costs
            stress(racy, seed=cfg.seeds, max_runs=1)
        except Exception:
            pass  # reported by the measured runs below
    hunts = []
    for hunt, job in jobs:
        gc.collect()
        try:
            job(hunt)
        except Exception as e:
            hunt.error = f"{type(e).__name__}: {e}"
            say(f"{hunt.name}: failed ({hunt.error})")
            continue
        hunts.append(hunt)
    return hunts


def _found_text(h: Hunt) -> str:
    if h.found:
        return f"{len(h.found)}/{h.attempts}"
    runs = max(r for r, _ in h.missed)
    secs = max(t for _, t in h.missed)
    return f"not found in {runs} runs / {secs:.1f} s"


def _stats(values):
    if not values:
        return "-", "-"
    return statistics.median(values), max(values)


# ---- reporting -------------------------------------------------------------------------------------

def _fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def throughput_rows(modes: list[Mode]) -> list[list[str]]:
    base = {m.kind: m for m in modes if m.family == "bare"}
    rows = []
    for m in modes:
        last = m.samples[-1]
        b = base.get(m.kind)
        ratio = "1.00" if m.family == "bare" else (
            f"{m.rate('schedules') / b.rate('schedules'):.2f}" if b else "-")
        rows.append([m.name, f"{last.schedules:,}", f"{last.steps:,}", f"{last.decisions:,}",
                     f"{m.seconds * 1000:.1f}", _fmt_rate(m.rate("schedules")),
                     _fmt_rate(m.rate("decisions")), _fmt_rate(m.rate("steps")),
                     f"{1e6 / m.rate('schedules'):.1f}", ratio])
    return rows


THROUGHPUT_HEAD = ["mode", "schedules", "steps", "decisions", "median ms", "schedules/s",
                   "decisions/s", "steps/s", "µs/schedule", "× bare"]
BUG_HEAD = ["mode", "one attempt", "found", "executions median", "executions max",
            "ms median", "ms max", "violation"]


def bug_rows(hunts: list[Hunt]) -> list[list[str]]:
    rows = []
    for h in hunts:
        em, ex = _stats([e for e, _ in h.found])
        sm, sx = _stats([t for _, t in h.found])
        fmt_e = lambda v: v if isinstance(v, str) else f"{v:g}"
        fmt_s = lambda v: v if isinstance(v, str) else f"{v * 1000:.2f}"
        rows.append([h.name, h.limit, _found_text(h), fmt_e(em), fmt_e(ex), fmt_s(sm), fmt_s(sx),
                     ", ".join(sorted(h.violations)) or "-"])
    return rows


def ratio_lines(modes: list[Mode]) -> list[str]:
    lines = []
    for label, r, goal in ratios(modes):
        verdict = f"; goal >= {GOAL:g}: {'met' if r >= GOAL else 'not met'}" if goal else ""
        lines.append(f"ratio {label}: {r:.2f} (schedules/s{verdict})")
    return lines


def environment(cfg: Config, load_before, load_after) -> list[str]:
    import trio
    return [
        f"python {platform.python_version()} ({platform.python_implementation()}), trio {trio.__version__}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cpu(s)",
        f"load average before/after: {load_before} / {load_after}; gc enabled: {gc.isenabled()}",
        f"scenario: claim-then-publish, {cfg.workers} workers (throughput: the exclusive-create claim, "
        f"which holds; time to bug: the racy claim)",
        f"budget {cfg.budget} schedules (trio engine {cfg.trio_budget}), {cfg.repeat} repetition(s), "
        f"median reported; {cfg.seeds} seed(s) for time to bug" + (" [quick]" if cfg.quick else ""),
    ]


def _load() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def _md_table(head, rows, text_columns=(0,)) -> list[str]:
    esc = lambda s: str(s).replace("|", "\\|")
    align = ["---" if i in text_columns else "---:" for i in range(len(head))]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return out


def markdown(env, modes, hunts, notes) -> str:
    lines = ["# sim benchmark: engines against the bare coroutine driver", ""]
    lines += [f"- {e}" for e in env] + [""]
    lines += ["## Throughput", ""] + _md_table(THROUGHPUT_HEAD, throughput_rows(modes)) + [""]
    lines += [f"- {r}" for r in ratio_lines(modes)] + [""]
    lines += ["## Time to first violation (claim-publish, I-ONE-CREATED)", ""]
    lines += _md_table(BUG_HEAD, bug_rows(hunts), text_columns=(0, 1, 2, 7)) + [""]
    if notes:
        lines += [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def write_new(path: Path, text: str) -> None:
    """Atomically create `path`; never replaces a file (os.link fails if the name exists)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _table(title, head, rows):
    from rich.table import Table
    t = Table(title=title, title_justify="left")
    for i, h in enumerate(head):
        t.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*r)
    return t


def _error(text: str) -> None:
    print("sim: error: bench: " + " ".join(text.split()), file=sys.stderr)


# ---- entry point --------------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    if "--zoo" in argv:  # the bug-finding benchmark has its own options
        from sim_bench.zoo import main as zoo_main
        return zoo_main([a for a in argv if a != "--zoo"])
    if "--backends" in argv:  # the storage backends against their models (benchmarks/, from the repository root)
        # --postgres: the real PostgreSQL server against world-postgres's model; else the real directory
        which = "backends_pg" if "--postgres" in argv else "backends_fs"
        try:
            backends_main = importlib.import_module(f"benchmarks.{which}").main
        except ImportError as e:
            _error(f"--backends runs from the repository root (benchmarks/{which}.py): {e}")
            return 2
        return backends_main([a for a in argv if a not in ("--backends", "--postgres")])
    try:
        cfg = _config(_parser().parse_args(argv))
    except UsageError as e:
        _error(str(e))
        return 2
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0

    from rich.console import Console
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    notes: list[str] = []

    def say(text: str) -> None:
        notes.append(text)
        console.print(text, markup=False, soft_wrap=True)

    holding, racy = _scenarios(cfg.workers)
    load_before = _load()
    trio = _trio_available()
    if not trio:
        say("trio engine: not available")
    stress = _stress_fn()
    if stress is None:
        say("stress mode: not available")

    modes = measure_throughput(cfg, holding, trio, say)
    hunts = measure_time_to_bug(cfg, racy, trio, stress, say)
    env = environment(cfg, load_before, _load())

    for e in env:
        console.print(e, markup=False, soft_wrap=True)
    console.print(_table(f"Throughput ({holding.name})", THROUGHPUT_HEAD, throughput_rows(modes)))
    for line in ratio_lines(modes):
        console.print(line, markup=False, soft_wrap=True)
    console.print(_table(f"Time to first violation ({racy.name})", BUG_HEAD, bug_rows(hunts)))

    if cfg.out is not None:
        try:
            write_new(cfg.out, markdown(env, modes, hunts, notes))
        except FileExistsError:
            _error(f"refusing to overwrite existing file {cfg.out}")
            return 2
        except OSError as e:
            _error(f"cannot write {cfg.out}: {e.strerror or e}")
            return 2
        console.print(f"wrote {cfg.out}", markup=False, soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
