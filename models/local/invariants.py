"""Hook invariants of domain doc section 5 over world-local's files and the runtime's ledger.

Predicates read through `peek` (an invariant is not a step: it records no access)
and return None when they hold, or a message naming the offending run, hook and
events. The state they get is the scenario's `Env` (models.local.scenarios).
"""
from __future__ import annotations

from models import events as ev
from models.local.hooks import entity_of_event
from models.local.world import claim_path, hook_path
from sim import always, at_end

RECOVERY = ".recovery"


def log_of(fs, run: str) -> list:
    names = fs.dirs.peek(f"events/{run}", ())
    return sorted((fs.files.peek(f"events/{run}/{n}") for n in names), key=ev.log_order)


def runs_of(fs) -> tuple:
    return fs.dirs.peek("events", ())


def _by_hook(log: list, t: str) -> dict:
    out: dict = {}
    for e in log:
        if e["eventType"] == t:
            out.setdefault(e["correlationId"], []).append(e)
    return out


def _terminal(log) -> bool:
    return any(e["eventType"] in ev.TERMINAL_RUN_EVENTS for e in log)


def _ids(events) -> str:
    return ", ".join(ev.short(e["eventId"]) for e in events)


# ---- always -----------------------------------------------------------------------------------

def one_hook_created(env):
    """I-H1, in every state: at most one hook_created per (run, hook)."""
    for run in runs_of(env.fs):
        for hook, es in _by_hook(log_of(env.fs, run), ev.HOOK_CREATED).items():
            if len(es) > 1:
                return f"{len(es)} hook_created events for hook {ev.short(hook)} of run {ev.short(run)}: {_ids(es)}"
    return None


def no_self_conflict(env):
    """I-H2: never both hook_created(h) and hook_conflict(h) in one run's log."""
    for run in runs_of(env.fs):
        log = log_of(env.fs, run)
        conflicts = _by_hook(log, ev.HOOK_CONFLICT)
        for hook, created in _by_hook(log, ev.HOOK_CREATED).items():
            if hook in conflicts:
                c = conflicts[hook][0]
                return (f"hook {ev.short(hook)} of run {ev.short(run)} has hook_created ({_ids(created)}) and "
                        f"hook_conflict ({_ids([c])}, conflictingRunId {ev.short(str(c['eventData'].get('conflictingRunId')))})")
    return None


def unique_event_ids(env):
    """I-LOG1: no two events share an eventId (and each file is named by its event's id)."""
    seen = {}
    for run in runs_of(env.fs):
        for name in env.fs.dirs.peek(f"events/{run}", ()):
            e = env.fs.files.peek(f"events/{run}/{name}")
            if e["eventId"] != name:
                return f"events/{run}/{name} holds event {e['eventId']}"
            if name in seen:
                return f"eventId {name} in runs {seen[name]} and {run}"
            seen[name] = run
    return None


def _entity_mismatch(env, hook: str, entity: dict):
    log = log_of(env.fs, entity["runId"])
    created = _by_hook(log, ev.HOOK_CREATED).get(hook)
    if not created:
        return f"hook entity {ev.short(hook)} exists but run {ev.short(entity['runId'])} has no hook_created for it"
    want = entity_of_event(created[0])
    diff = sorted(k for k in want if want[k] != entity.get(k))
    if diff:
        return (f"hook entity {ev.short(hook)} differs from its hook_created {ev.short(created[0]['eventId'])} in "
                + ", ".join(f"{k} (entity {entity.get(k)!r}, event {want[k]!r})" for k in diff))
    return None


def entity_is_projection(env):
    """I-H4: a hook entity exists only with its hook_created, and equals that event's payload."""
    for name in env.fs.dirs.peek("hooks", ()):
        entity = env.fs.files.peek(f"hooks/{name}")
        if entity is not None:
            bad = _entity_mismatch(env, name, entity)
            if bad:
                return bad
    return None


# ---- at quiescence ------------------------------------------------------------------------------

def _issued_hooks(env):
    """(run, hook, results) for every hook creation a worker issued."""
    out = []
    for (run, _t, hook), results in env.ledger.results(ev.HOOK_CREATED):
        out.append((run, hook, results))
    return out


def _claim_of(env, run, hook):
    token = env.tokens[(run, hook)]
    claim = env.fs.files.peek(claim_path(token))
    return claim if claim is not None and (claim.get("runId"), claim.get("hookId")) == (run, hook) else None


def no_orphan(env):
    """I-ORPHAN (hooks): at quiescence every delivery is acked, so nobody will retry: a claim or entity
    without its hook_created, or a hook_created without its entity, stays that way for good."""
    for run, hook, results in _issued_hooks(env):
        log = log_of(env.fs, run)
        if _terminal(log) or hook in _by_hook(log, ev.HOOK_DISPOSED):
            continue
        has_event = hook in _by_hook(log, ev.HOOK_CREATED)
        entity = env.fs.files.peek(hook_path(hook))
        if not has_event:
            side = [what for what, rec in (("claim", _claim_of(env, run, hook)), ("entity", entity)) if rec]
            if side:
                return (f"hook {ev.short(hook)} of run {ev.short(run)}: {' and '.join(side)} without hook_created; "
                        f"every retry was told {'/'.join(results) or 'nothing'}")
        elif entity is None:
            return (f"hook {ev.short(hook)} of run {ev.short(run)}: hook_created without its entity "
                    f"(resumeHook cannot find it); retries were told {'/'.join(results)}")
    return None


def sound_409(env):
    """I-409-SOUND (hooks): a 409 for hook_created means the event is in the log."""
    for run, hook, results in _issued_hooks(env):
        log = log_of(env.fs, run)
        if "409" in results and not _terminal(log) and hook not in _by_hook(log, ev.HOOK_CREATED):
            return f"hook_created for hook {ev.short(hook)} of run {ev.short(run)} answered 409, but the log has no hook_created"
    return None


def entity_iff_live(env):
    """I-H4 at quiescence: entity = projection, and it exists iff hook_created, not disposed, run not ended."""
    bad = entity_is_projection(env)
    if bad:
        return bad
    for run in runs_of(env.fs):
        log = log_of(env.fs, run)
        disposed = _by_hook(log, ev.HOOK_DISPOSED)
        for hook in _by_hook(log, ev.HOOK_CREATED):
            live = hook not in disposed and not _terminal(log)
            if live != (env.fs.files.peek(hook_path(hook)) is not None):
                return (f"hook {ev.short(hook)} of run {ev.short(run)} is {'live' if live else 'dead'} in the log "
                        f"but its entity is {'missing' if live else 'still there'}")
    return None


def claims_consistent(env):
    """I-H5: a claim exists iff a live hook holds its token, and names that hook and its event; a recovery
    marker pins the id of its hook's hook_created."""
    live = {}
    created_id = {}
    for run in runs_of(env.fs):
        log = log_of(env.fs, run)
        disposed = _by_hook(log, ev.HOOK_DISPOSED)
        for hook, es in _by_hook(log, ev.HOOK_CREATED).items():
            created_id[(run, hook)] = es[0]["eventId"]
            if hook not in disposed and not _terminal(log):
                live[es[0]["eventData"]["token"]] = (run, hook, es[0]["eventId"])
    claims = {}
    for name in env.fs.dirs.peek("hooks/tokens", ()):
        rec = env.fs.files.peek(f"hooks/tokens/{name}")
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
        if env.fs.files.peek(f".locks/hooks/{claim.get('hookId')}.disposed") is not None:
            return f"claim for token {token} names hook {ev.short(claim['hookId'])} whose dispose lock exists"
    return None


def every_creation_logged(env):
    """I-H1 at quiescence: each issued creation has exactly one hook_created, unless every issuer
    that was answered was answered hook_conflict or 410."""
    for run, hook, results in _issued_hooks(env):
        log = log_of(env.fs, run)
        if hook in _by_hook(log, ev.HOOK_CREATED) or _terminal(log):
            continue
        if all(r in ("conflict", "410") for r in results):
            continue   # (no result at all: every issuer crashed first; whether a retry comes is liveness)
        return (f"hook {ev.short(hook)} of run {ev.short(run)} was created {len(results)} time(s) "
                f"(told {'/'.join(results) or 'nothing'}) and has no hook_created")
    return None


def hook_invariants(entity_after_event: bool, event_keys: tuple = (), hook_keys: tuple = ()) -> tuple:
    """The hook invariants, in the order a report should name them. `event_keys`: the listings of the
    runs' event directories (events never change once linked, so a listing key covers its files);
    `hook_keys`: the hook entity files and the hooks/ listing, for the always-checked I-H4."""
    inv = [
        always("I-LOG1", unique_event_ids, reads=event_keys or None),
        always("I-H1", one_hook_created, reads=event_keys or None),
        always("I-H2", no_self_conflict, reads=event_keys or None),
    ]
    if entity_after_event:   # L1's design: the entity follows its event, so I-H4 holds in every state
        inv.append(always("I-H4", entity_is_projection, reads=(event_keys + hook_keys) or None))
    inv += [at_end("I-ORPHAN", no_orphan), at_end("I-409-SOUND", sound_409), at_end("I-H4", entity_iff_live),
            at_end("I-H5", claims_consistent), at_end("I-H1", every_creation_logged)]
    return tuple(inv)
