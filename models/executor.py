"""The step executor (`executeStep`, domain doc 3.4) with bodies that fail.

A step's `Body` says what its user code does at each attempt: return, throw a
retryable error (the step asks to be retried `retry_after` ms later), or throw a
fatal error. The executor writes what 3.4 writes for each outcome and maps each
world error to the result its caller acts on:

    X2  step_started     409 -> skipped, 410 -> gone, 425 -> retry (after the wait it names)
    X3  the body          (user code: counted in the ledger, see below)
    X4  returned          step_completed   409 -> skipped, 410 -> gone
        fatal / attempt > max_retries    step_failed      409 -> skipped, 410 -> gone
        retryable         step_retrying{error, retryAfter} -> retry; 409 -> skipped, 410 -> gone

Anything else propagates and fails the delivery. X0 (step not registered) and
X1 (the later up-front attempt check) are not modeled: the attempt number is the
one step_started returned (the R-June source of it).

Body executions are ghost state: each is recorded in the ledger under
("step body", (corr, attempt)), so I-EXEC can say "at most one body execution per
attempt" without any world storing it.
"""
from __future__ import annotations

from dataclasses import dataclass

from models import events as ev
from models.events import EntityConflictError, RunExpiredError, TooEarlyError
from sim import note, now, point

BODY = "step body"   # the ledger's operation type for body executions


@dataclass(frozen=True)
class Body:
    """The outcome of attempt 1, 2, ... ("ok", "retry" or "fatal"); past the end every attempt returns."""
    outcomes: tuple = ()
    retry_after: int = 1_000    # ms a retryable error asks to wait (RetryableError.retryAfter)
    max_retries: int = 3        # the default: up to 4 attempts

    def outcome(self, attempt: int) -> str:
        return self.outcomes[attempt - 1] if attempt <= len(self.outcomes) else "ok"


RETURNS = Body()


@dataclass(frozen=True)
class Result:
    """What executeStep tells its caller; `timeout` (ms) goes with "retry"."""
    status: str          # "completed" | "failed" | "retry" | "skipped" | "gone"
    timeout: int = 0


async def _terminal(create, world, ledger, run: str, req: dict, status: str, timeout: int = 0) -> Result:
    """An X4 write: 409 -> skipped, 410 -> gone (the caller acks either way)."""
    try:
        await create(world, ledger, run, req, swallow=())
    except EntityConflictError:
        return Result("skipped")
    except RunExpiredError:
        return Result("gone")
    return Result(status, timeout)


async def execute_step(create, world, ledger, run: str, corr: str, body: Body = RETURNS) -> Result:
    """`create` is the runtime's recording write site (models.runtime.create)."""
    try:                                                                                   # X2
        res = await create(world, ledger, run, {"eventType": ev.STEP_STARTED, "correlationId": corr}, swallow=())
    except EntityConflictError:
        return Result("skipped")
    except RunExpiredError:
        return Result("gone")
    except TooEarlyError as e:
        note(f"step {ev.short(corr)}: too early, retry in {e.wait_ms} ms")
        return Result("retry", e.wait_ms)
    attempt = res["step"]["attempt"]
    await point(f"step body {corr} attempt {attempt}")                                    # X3
    ledger.issue(run, BODY, (corr, attempt)).append("ran")
    outcome = body.outcome(attempt)
    note(f"step body {ev.short(corr)} attempt {attempt}: {outcome}")
    if outcome == "ok":                                                                    # X4
        return await _terminal(create, world, ledger, run, {
            "eventType": ev.STEP_COMPLETED, "correlationId": corr, "eventData": {"result": "ok"}}, "completed")
    if outcome == "fatal" or attempt > body.max_retries:
        return await _terminal(create, world, ledger, run, {
            "eventType": ev.STEP_FAILED, "correlationId": corr, "eventData": {"error": outcome}}, "failed")
    return await _terminal(create, world, ledger, run, {
        "eventType": ev.STEP_RETRYING, "correlationId": corr,
        "eventData": {"error": outcome, "retryAfter": now() + body.retry_after}}, "retry", body.retry_after)
