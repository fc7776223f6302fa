"""What a strategy sees of an execution: a narrow, read-only view, never the kernel.

The kernel hands one `View` to every call of the strategy protocol
(`choose`, `before_step`, `after_step`, `end_execution`). A strategy that could
reach the kernel could change what is explored behind the tape's back (the
bug this view replaces: a wrapper that did not forward a hook made DPOR see
nothing and claim a complete search after one execution), so everything a
strategy may know is listed here, and nothing here changes the execution.

For a `step` choice:

    options[i]     the i-th option; [0, n_run) are enabled actors, the current
                   actor first when it can run (option 0 = no deviation);
                   from n_run on: time passing, redeliveries, crashes
    n_run          how many options are actors
    current        the actor option 0 keeps running (None after a crash)
    kind(i)        "run", "time", "redeliver" or "crash"
    is_fault(i)    a crash or a redelivery (time passing is no fault)
    is_preemption(i)  switching away from an actor that could still run
    footprint(i)   the transition's footprint (sim.footprint) in this state

`fingerprint()`: the whole state, canonically (sim.statehash), for state caching.

For partial-order reduction (strategies with `tracks`): `pending()`, the
footprints of every transition that could still happen (blocked actors and
faults the budget allows included), `executed(fp)`, what the step that just ran
really touched, and `dependence`, the scenario's dependence relation.

After an execution: `step`, `tape`, `violation`, `pruned`, `state`, `now`,
`crashes`, `redeliveries`, `stores`.

`options` and `n_run` are plain slots the kernel updates in place (the hot
path reads them every decision); the rest is computed on demand. The kernel
keeps no reference to its view (a kernel<->view cycle would make every
execution cyclic garbage): it makes one per execution for the decisions and
`Kernel.view()` makes another for `end_execution`.
"""
from __future__ import annotations

from sim.footprint import Dependence, actual, of_option

RUN = "run"


class View:
    """What a strategy sees of an execution: the decision at hand (`options`, `n_run`, `kind(i)`,
    `is_fault(i)`, `footprint(i)`) and, once it ends, the execution (`tape`, `violation`, `state`...).

    Example: `def end_execution(self, view): self.lengths.append(len(view.tape))`."""
    __slots__ = ("n_run", "options", "_k", "_dep")

    def __init__(self, kernel, dependence: Dependence | None = None):
        self._k = kernel
        self.options = kernel.options   # the kernel's own list, refilled in place each decision
        self.n_run = 0
        self._dep = dependence

    # ---- the decision at hand ---------------------------------------------------------------

    @property
    def current(self):
        return self._k.current

    def kind(self, i: int) -> str:
        return RUN if i < self.n_run else self.options[i].kind

    def is_fault(self, i: int) -> bool:
        return i >= self.n_run and self.options[i].kind in ("crash", "redeliver")

    def is_preemption(self, i: int) -> bool:
        return 0 < i < self.n_run and self.options[0] is self._k.current

    def footprint(self, i: int):
        return of_option(self._k, self.options[i])

    # ---- partial-order reduction ------------------------------------------------------------

    @property
    def dependence(self) -> Dependence:
        d = self._dep
        if d is None:
            d = self._dep = Dependence(self._k.scenario, self._k.state)
        return d

    def pending(self) -> list:
        """The footprint of every transition that could still happen from this state.

        Every live actor's next step, blocked or not (an actor keeps a static footprint
        until it parks again). Faults stay pending whenever the budget allows them, offered
        now or not: a step that disables one (the last step of a process, an ack, another
        fault spending the budget) races with it, and that race must be seen from the state
        after that step too (Flanagan-Godefroid keep every thread's next transition pending,
        enabled or not). Time only while it is offered."""
        k = self._k
        out = []
        for a in k.actors:
            fp = a.fp
            if fp is None:
                fp = of_option(k, a)
                if not (callable(a.reads) or callable(a.writes)):
                    a.fp = fp
            out.append(fp)
        if k.max_crashes:
            out += [of_option(k, p) for p in k.processes if p.alive and k.can_crash(p)]
        if k.max_redeliveries:
            out += [of_option(k, m) for q in k.queues for m in q.messages if m.deliveries and m.state != "dead"]
        for o in k.options[self.n_run:]:  # the kernel's: a queue timer's view offers time apart
            if o.kind == "time":
                out.append(of_option(k, o))
                break
        return out

    def fingerprint(self) -> bytes:
        """A canonical fingerprint of the whole state at this decision (sim.statehash), for state caching."""
        from sim.statehash import fingerprint
        return fingerprint(self._k)

    def executed(self, fp):
        """The footprint of the step that just ran, as it happened (see sim.footprint.actual)."""
        return actual(self._k, fp)


# The execution as a whole (read after it ends, by `end_execution`): read-only, from the kernel.
def _fact(name):
    return property(lambda self: getattr(self._k, name), doc=f"The execution's {name}.")


for _name in ("scenario", "step", "tape", "violation", "pruned", "state", "now", "crashes", "redeliveries", "stores"):
    setattr(View, _name, _fact(_name))
del _name
