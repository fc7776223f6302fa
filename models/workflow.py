"""The workflow language, and replay the way the VM does it (domain doc 3.3).

A workflow is an `async def` written the way its TypeScript reads; `await` is the
VM's await, and every call that starts an operation takes the run's next
correlation id (an ordinal of the seeded sequence, `models.events.correlation_id`):

    charge = step("charge", lambda attempt: 42)     # async function charge() { "use step"; return 42 }
    on_hook, on_timeout = step("onHook"), step("onTimeout")

    @workflow
    async def approval():
        hook = create_hook("approval")             # const hook = createHook({ token: "approval" })
        won = await Promise.race([hook, sleep(5_000)])
        if won is None:                            # the sleep won (it resolves to undefined)
            await on_timeout()
        else:
            await on_hook(won)
        total = await charge()
        await Promise.all([on_hook(), on_timeout()])
        with create_hook("once") as once:          # using once = createHook(...): disposed at scope end
            await once
        return total                               # the run's output

A step's body runs in the step executor, never in replay: it takes the attempt
number and returns the result, raises `RetryableError(retry_after=ms)` or raises
`FatalError`. Step functions are registered by name, as the runtime's bundle
registers them (an executor finds the body by the event's stepName).

`replay(wf, run, log)` re-executes the workflow against the log with the
EventsConsumer's rules: one consumer per correlation id, events consumed in log
order, and after every event the workflow runs on as far as it can before the
next one is looked at (the delivery barriers of #2171/#2125/#2169/#2177), so a
race resolves to the racer whose event is first in the log. An event no consumer
takes, and a step, hook or wait event whose name, token or resumeAt differs from
what this replay allocated at that ordinal (a branch that flipped), end the
replay with CORRUPTED_EVENT_LOG. It ends in a completion (with the output), a
failure (with the errorCode the delivery handler classifies it as), or a
suspension listing the operations still pending.

Model choice: the VM returns as soon as the workflow settles; this replay goes on
consuming the rest of the log with the consumers still registered, so a cold
replay also reports an event nobody would ever consume (stricter than the VM;
such a report says "after the workflow settled").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from models import events as ev
from models.events import HookConflictError

CORRUPTED = "CORRUPTED_EVENT_LOG"


class WorkflowLanguageError(RuntimeError):
    """A workflow used the language wrongly (a primitive outside a replay, a step defined twice)."""


class FatalError(Exception):
    """Thrown by a step body: the step fails at once (step_failed), no retry."""


class RetryableError(Exception):
    """Thrown by a step body: retried after `retry_after` ms (step_retrying) until attempts run out."""

    def __init__(self, message: str = "retryable", retry_after: int = 0):
        super().__init__(message)
        self.retry_after = retry_after


class StepFailedError(Exception):
    """What awaiting a step whose log holds step_failed throws in the workflow."""


class CorruptedEventLog(Exception):
    pass


# ---- promises ---------------------------------------------------------------------------------

class Promise:
    """Something a workflow awaits. `settled_at` is the index of the log event that settled it."""
    settled = False
    value: Any = None
    error: BaseException | None = None
    settled_at = -1

    def __await__(self):
        return (yield self)

    def _settle(self, at: int, value=None, error=None) -> None:
        if not self.settled:
            self.settled, self.value, self.error, self.settled_at = True, value, error, at

    def poll(self) -> bool:
        return self.settled

    @staticmethod
    def all(promises) -> "All":
        """Promise.all([...]): every value, in array order; the first rejection (in log order) rejects it."""
        return All(list(promises))

    @staticmethod
    def race(promises) -> "Race":
        """Promise.race([...]): the first racer to settle. Racers already settled when the race is made
        win in array order, as JS's `then` callbacks run in that order."""
        return Race(list(promises))


class All(Promise):
    def __init__(self, parts: list):
        self.parts = parts

    def poll(self) -> bool:
        if self.settled:
            return True
        for p in self.parts:
            p.poll()
        rejected = [p for p in self.parts if p.settled and p.error is not None]
        if rejected:
            first = min(rejected, key=lambda p: p.settled_at)
            self._settle(first.settled_at, error=first.error)
        elif all(p.settled for p in self.parts):
            self._settle(max((p.settled_at for p in self.parts), default=-1), [p.value for p in self.parts])
        return self.settled


class Race(Promise):
    def __init__(self, parts: list):
        self.parts = parts
        already = [p for p in parts if p.poll()]
        if already:
            self._settle(already[0].settled_at, already[0].value, already[0].error)

    def poll(self) -> bool:
        if self.settled:
            return True
        done = [p for p in self.parts if p.poll()]
        if done:
            first = min(done, key=lambda p: p.settled_at)   # ties (one event, two racers): array order
            self._settle(first.settled_at, first.value, first.error)
        return self.settled


class Operation(Promise):
    """An operation with a correlation id, and the VM's consumer of that id's events."""
    kind = prefix = ""

    def __init__(self):
        self.ordinal = -1
        self.corr = ""
        self.created = False    # hasCreatedEvent
        self.finished = False   # the consumer removed itself: any later event of `corr` is unconsumed

    def consume(self, e: dict, at: int, rp: "_Replay") -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.kind} {ev.short(self.corr)}"


class StepCall(Operation):
    kind = prefix = "step"

    def __init__(self, fn: "StepFn", args: tuple):
        super().__init__()
        self.fn = fn
        self.name = fn.name
        self.args = args

    def describe(self) -> str:
        return f"step {self.name} ({ev.short(self.corr)})"

    def consume(self, e, at, rp):
        t = e["eventType"]
        if t == ev.STEP_CREATED:
            got = e["eventData"].get("stepName")
            if got != self.name:
                raise CorruptedEventLog(f"{ev.describe(e)} names step {got!r}, but this replay allocates step "
                                        f"{self.name!r} at ordinal {self.ordinal} (a branch that flipped)")
            self.created = True
        elif t in (ev.STEP_STARTED, ev.STEP_RETRYING):
            pass
        elif t == ev.STEP_COMPLETED:
            self._settle(at, e["eventData"].get("result"))
            self.finished = True
        elif t == ev.STEP_FAILED:
            self._settle(at, error=StepFailedError(f"step {self.name} failed: {e['eventData'].get('error')}"))
            self.finished = True
        else:
            raise CorruptedEventLog(f"replay divergence: {ev.describe(e)} for {self.describe()}")


class HookOp(Operation):
    """createHook / createWebhook: resolved by its first hook_received. `with` disposes it (TS `using`)."""
    kind = prefix = "hook"

    def __init__(self, token: str, metadata=None, webhook: bool = False):
        super().__init__()
        self.token = token
        self.metadata = metadata
        self.webhook = webhook
        self.disposed = False    # dispose() was called: the suspension handler writes hook_disposed
        self.payloads: list = []

    def describe(self) -> str:
        return f"hook {self.token} ({ev.short(self.corr)})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.dispose()
        return False

    def dispose(self) -> None:
        self.disposed = True

    def consume(self, e, at, rp):
        t = e["eventType"]
        if e["eventData"].get("token", self.token) != self.token:
            raise CorruptedEventLog(f"{ev.describe(e)} has token {e['eventData'].get('token')!r}, but this replay "
                                    f"allocates hook {self.token!r} at ordinal {self.ordinal}")
        if t == ev.HOOK_CREATED:
            self.created = True
        elif t == ev.HOOK_CONFLICT:
            # consumed; every current and future awaiter rejects (a user-level failure, not corruption)
            self.created = True
            self._settle(at, error=HookConflictError(self.token, e["eventData"].get("conflictingRunId")))
        elif t == ev.HOOK_RECEIVED:
            self.payloads.append(e["eventData"].get("payload"))
            self._settle(at, self.payloads[0])
        elif t == ev.HOOK_DISPOSED:
            self.finished = True
        else:
            raise CorruptedEventLog(f"replay divergence: {ev.describe(e)} for {self.describe()}")


class WaitOp(Operation):
    """sleep(duration): resumeAt is the VM clock (the createdAt of the last event consumed) plus the
    duration, until wait_created is consumed, whose recorded resumeAt it adopts."""
    kind = prefix = "wait"

    def __init__(self, duration: int):
        super().__init__()
        self.duration = duration
        self.resume_at = 0

    def describe(self) -> str:
        return f"wait {ev.short(self.corr)} (sleep {self.duration} until {self.resume_at})"

    def consume(self, e, at, rp):
        t = e["eventType"]
        if t == ev.WAIT_CREATED:
            self.created = True
            self.resume_at = e["eventData"].get("resumeAt", self.resume_at)
        elif t == ev.WAIT_COMPLETED:
            at_ = e["eventData"].get("resumeAt")
            if at_ is not None and at_ != self.resume_at:
                raise CorruptedEventLog(f"{ev.describe(e)} has resumeAt {at_}, the wait was created with "
                                        f"{self.resume_at}")
            self._settle(at, None)
            self.finished = True
        else:
            raise CorruptedEventLog(f"replay divergence: {ev.describe(e)} for {self.describe()}")


# ---- the primitives a workflow calls ------------------------------------------------------------

# a pure function of (prefix, run, ordinal) that hashes: replays mint the same ids over and over
_correlation_id = lru_cache(maxsize=4096)(ev.correlation_id)

_replay: "_Replay | None" = None   # the replay running the workflow now (replay is synchronous)
_STEPS: dict = {}                   # stepName -> StepFn (the bundle's registry)


def _allocate(op: Operation) -> Operation:
    rp = _replay
    if rp is None:
        raise WorkflowLanguageError(f"{op.kind} called outside a workflow replay")
    return rp.allocate(op)


def _default_body(attempt: int):
    return "ok"


@dataclass(frozen=True)
class StepFn:
    """A step function ("use step"). Calling it inside a workflow starts the step and returns its promise."""
    name: str
    body: Callable[[int], Any] = _default_body
    max_retries: int = 3   # the runtime's default: up to 4 attempts

    def __call__(self, *args) -> StepCall:
        return _allocate(StepCall(self, args))


def step(name: str, body: Callable[[int], Any] | None = None, max_retries: int = 3) -> StepFn:
    """Define (register) the step function `name`; `body(attempt)` runs in the executor."""
    fn = StepFn(name, body or _default_body, max_retries)
    old = _STEPS.get(name)
    if old is not None and old != fn:
        raise WorkflowLanguageError(f"step {name!r} is already defined with another body")
    _STEPS[name] = fn
    return fn


@dataclass(frozen=True)
class Body:
    """A scripted step body: what attempt 1, 2, ... does ("ok", "retry" or "fatal"); past the end every
    attempt returns "ok". A value (equal scripts are equal bodies), so a workload may define its step again."""
    outcomes: tuple = ()
    retry_after: int = 1_000    # ms a retryable error asks to wait (RetryableError.retryAfter)

    def __call__(self, attempt: int):
        outcome = self.outcomes[attempt - 1] if attempt <= len(self.outcomes) else "ok"
        if outcome == "retry":
            raise RetryableError("retry", retry_after=self.retry_after)
        if outcome == "fatal":
            raise FatalError("fatal")
        return "ok"


def step_function(name: str) -> StepFn | None:
    """The registered step function of a stepName (None: not registered, X0 of 3.4)."""
    return _STEPS.get(name)


def create_hook(token: str, metadata=None) -> HookOp:
    """createHook({token, metadata}): created at the next suspension, whether awaited now or later."""
    return _allocate(HookOp(token, metadata))


def create_webhook(token: str, metadata=None) -> HookOp:
    return _allocate(HookOp(token, metadata, webhook=True))


def sleep(duration: int) -> WaitOp:
    """sleep(duration) in virtual ms: a wait the elapsed-wait scan completes once now >= resumeAt."""
    if duration < 0:
        raise WorkflowLanguageError(f"sleep duration must be >= 0, got {duration}")
    return _allocate(WaitOp(duration))


@dataclass(frozen=True)
class Workflow:
    """A workflow function ("use workflow"). `fn` is an `async def` taking `args`."""
    name: str
    fn: Callable[..., Any]
    args: tuple = ()


def workflow(fn=None, *, name: str | None = None):
    """Decorator: `@workflow async def name(): ...`."""
    def wrap(f):
        return Workflow(name or f.__name__, f)
    return wrap(fn) if fn is not None else wrap


# what `sim list` shows of the language (one example per construct)
REFERENCE = {"workflow language (models.workflow; the TypeScript it stands for in the README)": (
    ("@workflow", "@workflow\nasync def approval(): ...", "a workflow function (\"use workflow\"), replayed against its run's log"),
    ("step", "charge = step(\"charge\", lambda attempt: 42)\ntotal = await charge()",
     "a step function; its body runs in the step executor and returns a value or raises "
     "RetryableError(retry_after=ms) or FatalError; a failed step rejects with StepFailedError"),
    ("Body", "flaky = step(\"flaky\", Body((\"retry\", \"fatal\"), retry_after=1_000))",
     "a scripted body: attempt 1 raises RetryableError, attempt 2 FatalError; later attempts return \"ok\""),
    ("create_hook", "hook = create_hook(\"approval\")\npayload = await hook",
     "a hook, created at the next suspension whether awaited now or later; resolves to its first payload"),
    ("create_webhook", "wh = create_webhook(\"wh-1\")", "a hook resumed over HTTP (isWebhook)"),
    ("sleep", "await sleep(5_000)", "a wait: wait_created with resumeAt; the elapsed-wait scan completes it"),
    ("Promise.all", "a, b = await Promise.all([step_a(), step_b()])",
     "every value in array order; the first rejection in log order rejects it"),
    ("Promise.race", "won = await Promise.race([hook, sleep(5_000)])",
     "the racer whose event is first in the log (a sleep resolves to None)"),
    ("branching", "if won is None:\n    await on_timeout()\nelse:\n    await on_hook()",
     "code after an await runs on the resolved value; ids stay call ordinals, so a branch that flips is "
     "CORRUPTED_EVENT_LOG"),
    ("using", "with create_hook(\"once\") as once:\n    await once",
     "the hook is disposed at the end of the block (hook_disposed at the next suspension)"),
    ("return", "return total", "the run's output: run_completed {output}; a throw is run_failed"),
)}


# ---- replay (3.3) -------------------------------------------------------------------------------

@dataclass
class Replayed:
    status: str                    # "completed" | "failed" | "suspended"
    output: Any = None
    error: str = ""
    code: str = ""
    pending: list = field(default_factory=list)   # of Operation, in ordinal order, when suspended
    ops: list = field(default_factory=list)       # every operation this replay allocated

    def terminal(self) -> tuple | None:
        """The terminal run event (type, eventData) the delivery handler writes for this result."""
        if self.status == "completed":
            return ev.RUN_COMPLETED, {"output": self.output}
        if self.status == "failed":
            return ev.RUN_FAILED, {"errorCode": self.code, "error": self.error}
        return None

    def waiting_on(self) -> list:
        """What a suspended run waits for: its pending operations, described."""
        return [op.describe() for op in self.pending]


class _Replay:
    def __init__(self, wf: Workflow, run: str):
        self.wf = wf
        self.run = run
        self.ops: list[Operation] = []
        self.by_corr: dict[str, Operation] = {}
        self.clock = 0         # the VM's Date.now(): createdAt of the last event consumed
        self.position = -1     # index of the event being consumed

    def allocate(self, op: Operation) -> Operation:
        op.ordinal = len(self.ops)
        op.corr = _correlation_id(op.prefix, self.run, op.ordinal)
        if isinstance(op, WaitOp):
            op.resume_at = self.clock + op.duration
        self.ops.append(op)
        self.by_corr[op.corr] = op
        return op


def _classify(error: BaseException) -> str:
    """The delivery handler's errorCode for a workflow that threw (H3): HookConflictError and user throws
    (a failed step's error included) are USER_ERROR, the language's own errors RUNTIME_ERROR."""
    return "RUNTIME_ERROR" if isinstance(error, WorkflowLanguageError) else "USER_ERROR"


def replay(wf: Workflow, run: str, log: list, hydrate_late: bool = False) -> Replayed:
    """Replay `wf` over `log`. `hydrate_late` is the VM before #2171 (B24): a hook_received's payload
    reaches the workflow only after the consumer has taken the next event (or has none left to take),
    so a wait_completed right after it can win a race the log gives to the hook."""
    global _replay
    rp = _Replay(wf, run)
    coro = wf.fn(*wf.args)
    outcome: list = []   # [("return", value)] or [("throw", error)] once the workflow settled
    blocked: list = [None]

    def run_on(send=None, throw=None) -> None:
        """Run the workflow until it awaits something unsettled, returns or throws."""
        global _replay
        _replay = rp
        try:
            while True:
                try:
                    p = coro.throw(throw) if throw is not None else coro.send(send)
                except StopIteration as stop:
                    outcome.append(("return", stop.value))
                    return
                except CorruptedEventLog:
                    raise
                except Exception as e:   # the workflow threw: the run fails
                    outcome.append(("throw", e))
                    return
                if not isinstance(p, Promise):
                    raise WorkflowLanguageError(f"workflow {wf.name} awaited {p!r}, not a workflow promise")
                if not p.poll():
                    blocked[0] = p
                    return
                send, throw = (p.value, p.error) if p.error is None else (None, p.error)
        finally:
            _replay = None

    def resume_if_ready() -> None:
        p = blocked[0]
        if p is not None and not outcome and p.poll():
            blocked[0] = None
            run_on(p.value) if p.error is None else run_on(throw=p.error)

    hydrating: list = []   # hooks whose payload is on its way (hydrate_late only)

    def hydrated(at: float) -> None:
        for op in hydrating:
            op.settled, op.settled_at = True, at
        hydrating.clear()
        resume_if_ready()

    # the workflow starts at the run's start: its clock is the createdAt of run_started (or run_created)
    rp.clock = next((e["createdAt"] for e in reversed(log[:2]) if e["eventType"] in (ev.RUN_CREATED, ev.RUN_STARTED)), 0)
    try:
        run_on()
        for i, e in enumerate(log):
            rp.position = i
            t = e["eventType"]
            if t in (ev.RUN_CREATED, ev.RUN_STARTED):   # the structural consumer
                rp.clock = e["createdAt"]
                continue
            op = rp.by_corr.get(e["correlationId"])
            if (op is None or op.finished) and hydrating:   # nobody takes it yet: the VM waits for hydration
                hydrated(i - 0.5)
                op = rp.by_corr.get(e["correlationId"])
            if op is None or op.finished:
                after = " after the workflow settled" if outcome else ""
                raise CorruptedEventLog(f"Unconsumed event in event log{after}: {ev.describe(e)}")
            rp.clock = e["createdAt"]
            op.consume(e, i, rp)
            if hydrate_late and t == ev.HOOK_RECEIVED and op.settled_at == i:
                op.settled = False      # delivered once hydrated, after the next event
                hydrating.append(op)
                continue
            resume_if_ready()
            if hydrating:
                hydrated(i + 0.5)
        if hydrating:
            hydrated(len(log))
    except CorruptedEventLog as c:
        coro.close()
        return Replayed("failed", error=str(c), code=CORRUPTED, ops=rp.ops)
    if outcome:
        kind, value = outcome[0]
        if kind == "return":
            return Replayed("completed", output=value, ops=rp.ops)
        return Replayed("failed", error=f"{type(value).__name__}: {value}", code=_classify(value), ops=rp.ops)
    coro.close()
    pending = [op for op in rp.ops if not op.finished and not (op.settled and op.created)
               or isinstance(op, HookOp) and op.disposed and not op.finished]
    return Replayed("suspended", pending=pending, ops=rp.ops)
