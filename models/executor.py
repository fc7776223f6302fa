"""The step executor (`executeStep`, domain doc 3.4).

The body is the step function's (`models.workflow.step`), found by the stepName
of the entity step_started returns, as the runtime's bundle finds it. The body
takes the attempt number and returns, raises `RetryableError(retry_after=ms)` or
raises `FatalError`. The executor writes what 3.4 writes for each outcome and
maps each world error to the result its caller acts on:

    X2  step_started     409 -> skipped, 410 -> gone, 425 -> retry (after the wait it names)
    X3  the body          (user code: counted in the ledger, see below)
    X4  returned          step_completed   409 -> skipped, 410 -> gone
        fatal / attempt > max_retries    step_failed      409 -> skipped, 410 -> gone
        retryable         step_retrying{error, retryAfter} -> retry; 409 -> skipped, 410 -> gone

Anything else propagates and fails the delivery. X0 (step not registered: its
body here returns) and X1 (the later up-front attempt check) are not modeled:
the attempt number is the one step_started returned (the R-June source of it).

Body executions are ghost state: each is recorded in the ledger under
("step body", (corr, attempt)), so I-EXEC can say "at most one body execution per
attempt" without any world storing it; and the ledger keeps the executions in
flight per step (`Ledger.body_started`/`body_finished`), so I-EXEC can say "at most
one in flight at a time unless a fault happened". A body is in flight from its
start (X3) until its X4 write returns (its result is being committed), or until
its process dies. Model difference: the body itself is one atomic step; the
scheduler's freedom between X3 and the end of X4 stands for the time it runs.

`owner` (#2780's fix, runtime `R2780`): step_started carries the delivery's message
id as `ownerMessageId`, so a replay can tell a step an active delivery owns.
"""
from __future__ import annotations

from dataclasses import dataclass

from models import events as ev
from models.events import EntityConflictError, RunExpiredError, TooEarlyError
from models.workflow import FatalError, RetryableError, step_function
from sim import note, now, point

BODY = "step body"   # the ledger's operation type for body executions


@dataclass(frozen=True)
class Result:
    """What executeStep tells its caller; `timeout` (ms) goes with "retry"."""
    status: str          # "completed" | "failed" | "retry" | "skipped" | "gone"
    timeout: int = 0


async def _terminal(create, world, ledger, run: str, req: dict, status: str, timeout: int = 0,
                    swallows=None) -> Result:
    """An X4 write: 409 -> skipped, 410 -> gone (the caller acks either way), where the runtime's revision
    swallows them (`swallows(eventType, site)`, models.runtime.Runtime.swallows; before #1418 they escape)."""
    try:
        await create(world, ledger, run, req, swallow=())
    except (EntityConflictError, RunExpiredError) as e:
        if swallows is not None and e.status not in swallows(req["eventType"], (409, 410)):
            raise
        return Result("skipped" if e.status == 409 else "gone")
    return Result(status, timeout)


async def execute_step(create, world, ledger, run: str, corr: str, swallows=None, owner: str | None = None) -> Result:
    """`create` is the runtime's recording write site (models.runtime.create); `swallows(eventType, site)`
    the revision's error-swallow matrix (3.8), or None for R-June's: 409 and 410 swallowed; `owner`: the
    message id step_started stamps as ownerMessageId (R2780), or None."""
    req = {"eventType": ev.STEP_STARTED, "correlationId": corr}
    if owner is not None:
        req["eventData"] = {"ownerMessageId": owner}
    try:                                                                                   # X2
        res = await create(world, ledger, run, req, swallow=())
    except (EntityConflictError, RunExpiredError) as e:
        if swallows is not None and e.status not in swallows(ev.STEP_STARTED, (409, 410)):
            raise
        return Result("skipped" if e.status == 409 else "gone")
    except TooEarlyError as e:
        note(f"step {ev.short(corr)}: too early, retry in {e.wait_ms} ms")
        return Result("retry", e.wait_ms)
    entity = res["step"]
    attempt = entity["attempt"]
    fn = step_function(entity.get("stepName", ""))
    await point(f"step body {corr} attempt {attempt}")                                    # X3
    ledger.issue(run, BODY, (corr, attempt)).append("ran")
    me = ledger.body_started(run, corr, attempt)
    try:
        return await _run_body(create, world, ledger, run, corr, attempt, fn, swallows)
    finally:   # X4 returned, or the process died (a crash throws into the coroutine)
        ledger.body_finished(run, corr, me)


async def _run_body(create, world, ledger, run: str, corr: str, attempt: int, fn, swallows) -> Result:
    try:
        result = fn.body(attempt) if fn is not None else "ok"
    except RetryableError as e:
        if attempt <= fn.max_retries:
            note(f"step body {ev.short(corr)} attempt {attempt}: retryable ({e})")
            return await _terminal(create, world, ledger, run, {
                "eventType": ev.STEP_RETRYING, "correlationId": corr,
                "eventData": {"error": str(e), "retryAfter": now() + e.retry_after}}, "retry", e.retry_after, swallows)
        error = e
    except FatalError as e:
        error = e
    else:
        note(f"step body {ev.short(corr)} attempt {attempt}: returned")
        return await _terminal(create, world, ledger, run, {                                # X4
            "eventType": ev.STEP_COMPLETED, "correlationId": corr, "eventData": {"result": result}}, "completed",
            swallows=swallows)
    note(f"step body {ev.short(corr)} attempt {attempt}: {type(error).__name__} ({error})")
    return await _terminal(create, world, ledger, run, {
        "eventType": ev.STEP_FAILED, "correlationId": corr, "eventData": {"error": str(error)}}, "failed",
        swallows=swallows)
