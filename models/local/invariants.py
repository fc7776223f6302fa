"""world-local's invariants: those of `models.invariants`, plus the token claims of I-H5."""
from __future__ import annotations

from models import events as ev
from models.invariants import (answers_409, by_corr, one_body_per_attempt, terminal_index, with_repairability,
                               world_invariants)
from sim import at_end

RECOVERY = ".recovery"


def claims_consistent(env):
    """I-H5: a claim exists iff a live hook holds its token, and names that hook and its event; a recovery
    marker pins the id of its hook's hook_created."""
    fs = env.storage
    live = {}
    created_id = {}
    for run in env.view.runs():
        log = env.view.log(run)
        disposed = by_corr(log, ev.HOOK_DISPOSED)
        for hook, es in by_corr(log, ev.HOOK_CREATED).items():
            created_id[(run, hook)] = es[0]["eventId"]
            if hook not in disposed and terminal_index(log) is None:
                live[es[0]["eventData"]["token"]] = (run, hook, es[0]["eventId"])
    claims = {}
    for name in fs.dirs.peek("hooks/tokens", ()):
        rec = fs.files.peek(f"hooks/tokens/{name}")
        if not name.endswith(RECOVERY):
            claims[name] = rec
            continue
        run_hook = (rec.get("runId"), rec.get("hookId")) if "runId" in rec else tuple(name.split(".")[1:3])
        want = created_id.get(run_hook)
        if want is not None and rec["eventId"] != want:
            return f"recovery marker {name} pins {ev.short(rec['eventId'])}, but the hook's hook_created is {ev.short(want)}"
    for token, (run, hook, eid) in live.items():
        claim = claims.get(token)
        if claim is None:
            return f"live hook {ev.short(hook)} of run {ev.short(run)} has no claim for its token {token}"
        if (claim.get("runId"), claim.get("hookId")) != (run, hook) or claim.get("eventId", eid) != eid:
            return f"claim for token {token} names {claim}, not the live hook {ev.short(hook)} ({ev.short(eid)})"
    for token, claim in claims.items():
        if token not in live:
            return f"claim for token {token} (run {ev.short(claim['runId'])}) but no live hook holds the token"
        if fs.files.peek(f".locks/hooks/{claim.get('hookId')}.disposed") is not None:
            return f"claim for token {token} names hook {ev.short(claim['hookId'])} whose dispose lock exists"
    return None


def no_orphan_terminal_lock(env):
    """I-ORPHAN for world-local's `.terminal` step lock (2.2.5 ✂C): the lock without the step's terminal
    event, in a live run: every later step_completed/step_failed is told 409, the step never ends."""
    fs = env.storage
    for name in fs.dirs.peek(".locks/steps", ()):
        if not name.endswith(".terminal"):
            continue
        run, _, corr = name[:-len(".terminal")].partition("-")
        log = env.view.log(run)
        if terminal_index(log) is None and not answers_409(ev.STEP_COMPLETED, corr, log):
            return (f"step {ev.short(corr)} of run {ev.short(run)}: its .terminal lock exists but its log has no "
                    f"terminal event: every step_completed/step_failed is told 409")
    return None


def local_invariants(entity_after_event: bool) -> tuple:
    # I-EXEC last: where a duplicate body also left a log or an entity wrong, that is named first
    return with_repairability(world_invariants(entity_after_event, extra_at_end=(at_end("I-H5", claims_consistent),)),
                              no_orphan_terminal_lock) + (at_end("I-EXEC", one_body_per_attempt),)

