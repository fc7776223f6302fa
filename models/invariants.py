"""The invariants of domain doc section 5, for any world.

They read the world through its view (`LocalView`, `PostgresView`: the logs in
world order, the entities) and the runtime's ledger (what issuers were told),
never through steps: an invariant records no access. Each returns None when it
holds, or a message naming the run, the entity and the events that break it.

`always` ones are log-shape safety properties checked after every step; `at_end`
ones compare caches (entities, rows, claims) with the log at quiescence, when no
delivery is left to repair anything.
"""
from __future__ import annotations

from models import events as ev
from models.runtime import replay
from models.workflow import HookOp, StepCall
from sim import always, at_end


def by_corr(log: list, t: str) -> dict:
    out: dict = {}
    for e in log:
        if e["eventType"] == t:
            out.setdefault(e["correlationId"], []).append(e)
    return out


def terminal_index(log: list) -> int | None:
    for i, e in enumerate(log):
        if e["eventType"] in ev.TERMINAL_RUN_EVENTS:
            return i
    return None


def ids(events) -> str:
    return ", ".join(ev.short(e["eventId"]) for e in events)


def sequence(events) -> str:
    """`step_started, step_completed, step_started` (the shape a report should show)."""
    return ", ".join(f"{e['eventType']} {ev.short(e['eventId'])}" for e in events)


def _step_events(log: list) -> dict:
    out: dict = {}
    for e in log:
        if e["eventType"].startswith("step_"):
            out.setdefault(e["correlationId"], []).append(e)
    return out


# ---- log shape: every state ------------------------------------------------------------------

def unique_event_ids(env):
    """I-LOG1: no two events share an eventId."""
    seen = {}
    for run in env.view.runs():
        for e in env.view.log(run):
            if e["eventId"] in seen:
                return f"eventId {e['eventId']} in runs {seen[e['eventId']]} and {run}"
            seen[e["eventId"]] = run
    return None


def prefix_stable(env):
    """I-LOG2 (where a workload checks it): no event appears in a log below an event a reader has
    already seen, i.e. every read was a prefix of the log as it is now. The worlds mint an event's key
    before it is visible (world-local at E2, world-postgres inside a transaction that commits later),
    so a late publish lands behind a reader's frontier, where cursor reads never return it (B25)."""
    observed = getattr(getattr(env, "storage", None), "observed", None)   # None: not checked here
    if not observed:
        return None
    for (run, reader), (frontier, seen) in sorted(observed.items()):
        for e in env.view.log(run):
            if e["eventId"] == frontier:
                break
            if e["eventId"] not in seen:
                return (f"run {ev.short(run)}: {ev.describe(e)} appeared below {ev.short(frontier)}, "
                        f"which {reader} had already read")
    return None


def writer_monotonic(env):
    """I-LOG3 (where a workload checks it): an event's key is >= every key its writer had observed when
    it decided to write it, i.e. the event sorts above the writer's frontier (the last event of the
    writer's latest read of the run, or its handler's for a `Promise.all` write) when the key was minted.
    Checked once the event is in the log (a key whose write failed is no event). It fails only where a
    writer's mint can sort below an id it has read: another process's id in the same millisecond (the
    `u` twins); then that reader also sees the event appear below its frontier (I-LOG2, same state)."""
    ghost = getattr(getattr(env, "storage", None), "frontiers", None)   # None: not checked here
    if not ghost or not ghost.minted:
        return None
    for run in env.view.runs():
        pos = {}
        for i, e in enumerate(env.view.log(run)):
            pos[e["eventId"]] = i
            writer, frontier = ghost.minted.get(e["eventId"], (None, None))
            if frontier is not None and frontier not in pos:   # the frontier sorts above the event
                return (f"run {ev.short(run)}: {ev.describe(e)}, written by {writer}, sorts below "
                        f"{ev.short(frontier)}, which it had read when it minted the key")
    return None


def _id_scheme(e: dict) -> str:
    return e["eventId"].partition("_")[0]


def one_run_created(env):
    """I-R1: exactly one run_created, and it is the first event of the run's log; and the log's ids are
    of one scheme (B28: a run_started that got a legacy id in a run whose other events have slot ids)."""
    for run in env.view.runs():
        log = env.view.log(run)
        schemes = {_id_scheme(e) for e in log}
        if len(schemes) > 1:
            first = {}
            for e in log:
                first.setdefault(_id_scheme(e), e)
            return (f"run {ev.short(run)}'s log mixes id schemes: "
                    + ", ".join(f"{ev.describe(e)} ({k}_)" for k, e in first.items()))
        created = [e for e in log if e["eventType"] == ev.RUN_CREATED]
        if len(created) > 1:
            return f"run {ev.short(run)} has {len(created)} run_created events: {ids(created)}"
        if log and log[0]["eventType"] != ev.RUN_CREATED:
            return f"run {ev.short(run)}'s log starts with {ev.describe(log[0])}, not run_created"
    return None


def run_entity_iff_created(env):
    """I-R1 at quiescence: a run entity exists iff run_created is in its log."""
    for run in env.view.run_ids():
        entity = env.view.run(run) is not None
        logged = any(e["eventType"] == ev.RUN_CREATED for e in env.view.log(run))
        if entity != logged:
            return (f"run {ev.short(run)} has an entity but no run_created" if entity else
                    f"run {ev.short(run)} has run_created but no entity")
    return None


def terminal_is_final(env):
    """I-R2: at most one terminal run event (extra run_cancelled after run_cancelled aside); after it
    only step_completed/step_failed of a step that was running when it was committed."""
    for run in env.view.runs():
        log = env.view.log(run)
        t = terminal_index(log)
        if t is None:
            continue
        running = {c for c, es in _step_events(log[:t]).items()
                   if es[-1]["eventType"] == ev.STEP_STARTED}
        for e in log[t + 1:]:
            et = e["eventType"]
            if et in ev.TERMINAL_RUN_EVENTS and not (et == ev.RUN_CANCELLED == log[t]["eventType"]):
                return f"run {ev.short(run)} has two terminal events: {sequence([log[t], e])}"
            if et in ev.TERMINAL_STEP_EVENTS and e["correlationId"] in running:
                running.discard(e["correlationId"])
                continue
            if et == ev.WAIT_COMPLETED and getattr(env, "waits_of_ended_runs", False):
                continue   # #3749's stance: how a due wait of an ended run is completed (I-W2)
            if et not in ev.TERMINAL_RUN_EVENTS:
                return f"run {ev.short(run)}: {ev.describe(e)} after its terminal {ev.describe(log[t])}"
    return None


def one_step_created(env):
    """I-S1: at most one step_created per step."""
    for run in env.view.runs():
        for corr, es in by_corr(env.view.log(run), ev.STEP_CREATED).items():
            if len(es) > 1:
                return f"{len(es)} step_created events for step {ev.short(corr)} of run {ev.short(run)}: {ids(es)}"
    return None


def no_restart_after_terminal(env):
    """I-S2: nothing restarts a step after its first step_completed/step_failed (replay would find the
    later event unconsumed: CORRUPTED_EVENT_LOG)."""
    for run in env.view.runs():
        for corr, es in _step_events(env.view.log(run)).items():
            done = next((i for i, e in enumerate(es) if e["eventType"] in ev.TERMINAL_STEP_EVENTS), None)
            if done is None:
                continue
            late = next((e for e in es[done + 1:] if e["eventType"] in
                         (ev.STEP_STARTED, ev.STEP_CREATED, ev.STEP_RETRYING)), None)
            if late is not None:
                return (f"{late['eventType']} after {es[done]['eventType']} for step {ev.short(corr)} of run "
                        f"{ev.short(run)}: {sequence(es)}")
    return None


def one_step_terminal(env):
    """I-S3: at most one step_completed/step_failed per step."""
    for run in env.view.runs():
        for corr, es in _step_events(env.view.log(run)).items():
            done = [e for e in es if e["eventType"] in ev.TERMINAL_STEP_EVENTS]
            if len(done) > 1:
                return f"{len(done)} terminal events for step {ev.short(corr)} of run {ev.short(run)}: {sequence(es)}"
    return None


def step_created_first(env):
    """I-S5: every step_started and terminal step event follows a step_created of its step."""
    for run in env.view.runs():
        for corr, es in _step_events(env.view.log(run)).items():
            if es[0]["eventType"] != ev.STEP_CREATED:
                return (f"{ev.describe(es[0])} of run {ev.short(run)} without a step_created before it: "
                        f"{sequence(es)}")
    return None


def waits_once(env):
    """I-W1: at most one wait_created and one wait_completed per wait, completion after creation, same resumeAt."""
    for run in env.view.runs():
        log = env.view.log(run)
        created, completed = by_corr(log, ev.WAIT_CREATED), by_corr(log, ev.WAIT_COMPLETED)
        for corr, es in {**created, **completed}.items():
            c, d = created.get(corr, []), completed.get(corr, [])
            if len(c) > 1 or len(d) > 1:
                return f"wait {ev.short(corr)} of run {ev.short(run)}: {sequence(c + d)}"
            if d and (not c or log.index(d[0]) < log.index(c[0])):
                return f"wait {ev.short(corr)} of run {ev.short(run)} completed before it was created"
            at = d[0]["eventData"].get("resumeAt") if d else None
            if at is not None and at != c[0]["eventData"].get("resumeAt"):
                return f"wait {ev.short(corr)} completed with resumeAt {at}, created with {c[0]['eventData'].get('resumeAt')}"
    return None


def one_hook_created(env):
    """I-H1, in every state: at most one hook_created per (run, hook)."""
    for run in env.view.runs():
        for hook, es in by_corr(env.view.log(run), ev.HOOK_CREATED).items():
            if len(es) > 1:
                return f"{len(es)} hook_created events for hook {ev.short(hook)} of run {ev.short(run)}: {ids(es)}"
    return None


def no_self_conflict(env):
    """I-H2: never both hook_created(h) and hook_conflict(h) in one run's log."""
    for run in env.view.runs():
        log = env.view.log(run)
        conflicts = by_corr(log, ev.HOOK_CONFLICT)
        for hook, created in by_corr(log, ev.HOOK_CREATED).items():
            if hook in conflicts:
                c = conflicts[hook][0]
                return (f"hook {ev.short(hook)} of run {ev.short(run)} has hook_created ({ids(created)}) and "
                        f"hook_conflict ({ids([c])}, conflictingRunId "
                        f"{ev.short(str(c['eventData'].get('conflictingRunId')))})")
    return None


def one_received_per_resume(env):
    """I-H9: at most one hook_received per resumeId, where resumes carry one (the resilient resumeHook,
    models.resume): its wake's consumer re-ensures the event, and a second copy delivers the payload twice.
    Checked where a workload's resumes carry resumeIds (`env.resume_ids`): elsewhere it would only cost a
    scan of every log after every write."""
    if not getattr(env, "resume_ids", False):
        return None
    for run in env.view.runs():
        seen: dict = {}
        for e in env.view.log(run):
            rid = e["eventData"].get("resumeId") if e["eventType"] == ev.HOOK_RECEIVED else None
            if rid is None:
                continue
            if rid in seen:
                return (f"resumeId {ev.short(rid)} of hook {ev.short(e['correlationId'])} of run {ev.short(run)} "
                        f"has two hook_received: {ids([seen[rid], e])}")
            seen[rid] = e
    return None


def _hook_mismatch(env, entity: dict):
    hook = entity["hookId"]
    created = by_corr(env.view.log(entity["runId"]), ev.HOOK_CREATED).get(hook)
    if not created:
        return f"hook entity {ev.short(hook)} exists but run {ev.short(entity['runId'])} has no hook_created for it"
    e = created[0]
    want = {"runId": e["runId"], "hookId": hook, "createdAt": e["createdAt"], "token": e["eventData"]["token"],
            "metadata": e["eventData"].get("metadata"), "isWebhook": bool(e["eventData"].get("isWebhook"))}
    diff = [k for k in env.view.hook_fields if want[k] != entity.get(k)]
    if diff:
        return (f"hook entity {ev.short(hook)} differs from its hook_created {ev.short(e['eventId'])} in "
                + ", ".join(f"{k} (entity {entity.get(k)!r}, event {want[k]!r})" for k in diff))
    return None


def hook_entity_is_projection(env):
    """I-H4: a hook entity exists only with its hook_created, and equals that event's payload."""
    for entity in env.view.hooks():
        bad = _hook_mismatch(env, entity)
        if bad:
            return bad
    return None


def no_wait_orphan(env):
    """I-ORPHAN for waits, in every state: a wait_created or wait_completed left its durable record (lock
    file, entity, row) without its event, and the process incarnation that wrote the record has crashed.
    Only that writer publishes the event: every retry is told 409 (swallowed) and the event is never
    written (D1, D2). The run's deliveries then loop on the wait forever, so this cannot wait for
    quiescence. Runs that ended are left out (termination deletes their waits).

    The writer is the worlds' ghost stamp (`models.events.stamp_writer`), set in the step that wrote the
    record; the check reads the logs, the wait records and every process's key (a crash writes it)."""
    # a view over hand-written logs (no storage) has no records and no writers
    for (run, t, corr), (proc, incarnation) in getattr(env.view, "writers", {}).items():
        if proc.incarnation == incarnation:
            continue   # the writer is alive: it goes on to publish
        log = env.view.log(run)
        if terminal_index(log) is not None or corr in by_corr(log, t):
            continue
        side = env.view.wait_side_records(run, corr, t)
        if side:
            results = env.ledger.issued.get((run, t, corr), [])
            return (f"wait {ev.short(corr)} of run {ev.short(run)}: {' and '.join(side)} without {t}, and its "
                    f"writer crashed (issuers told {'/'.join(results) or 'nothing'}): every retry is told 409")
    return None


# ---- at quiescence --------------------------------------------------------------------------------

def _issued(env, t: str):
    """(run, corr, results) of every `t` a worker issued."""
    return [(run, corr, results) for (run, _t, corr), results in env.ledger.results(t)]


def no_orphan(env):
    """I-ORPHAN: at quiescence every delivery is acked, so nobody will retry: a durable record of a
    creation (claim, entity, row, lock file) without its event, or a hook_created without the entity
    resumeHook looks up, stays that way for good."""
    for run, hook, results in _issued(env, ev.HOOK_CREATED):
        log = env.view.log(run)
        if terminal_index(log) is not None or hook in by_corr(log, ev.HOOK_DISPOSED):
            continue
        if hook not in by_corr(log, ev.HOOK_CREATED):
            side = env.view.hook_side_records(run, hook, env.tokens[(run, hook)])
            if side:
                return (f"hook {ev.short(hook)} of run {ev.short(run)}: {' and '.join(side)} without hook_created; "
                        f"every retry was told {'/'.join(results) or 'nothing'}")
        elif env.view.hook(hook) is None:
            return (f"hook {ev.short(hook)} of run {ev.short(run)}: hook_created without its entity "
                    f"(resumeHook cannot find it); retries were told {'/'.join(results)}")
    for run, corr, results in _issued(env, ev.STEP_CREATED):
        log = env.view.log(run)
        if corr in by_corr(log, ev.STEP_CREATED):
            continue
        side = env.view.step_side_records(run, corr)
        if side:
            return (f"step {ev.short(corr)} of run {ev.short(run)}: {' and '.join(side)} without step_created; "
                    f"every retry was told {'/'.join(results) or 'nothing'}")
    for step in env.view.steps():
        run, corr = step["runId"], step["stepId"]
        if step["status"] not in ev.TERMINAL_STATUSES:
            continue
        log = env.view.log(run)
        if terminal_index(log) is None and not any(
                e["eventType"] in ev.TERMINAL_STEP_EVENTS and e["correlationId"] == corr for e in log):
            return (f"step {ev.short(corr)} of run {ev.short(run)} is {step['status']} but its log has no terminal "
                    f"event: every step_started and step_completed retry is told 409")
    return None


def no_escape(env):
    """I-NO-ESCAPE (#1418): no delivery ends in a 409/410 that escaped to the queue. Those answers mean
    "someone else already did it / the run is over"; escaped, the queue logs an error and delivers the
    message again (up to its cap), and a redelivery meets the same answer."""
    for msg, status, error in env.ledger.escaped:
        what = " ".join(f"{k} {ev.short(str(v))}" for k, v in msg.items())
        return (f"a delivery of {{{what}}} ended in an escaped {status} ({error}): the queue logs it as a "
                f"failure and delivers the message again")
    return None


def sound_409(env):
    """I-409-SOUND: a creation answered 409 has its event in the log (at quiescence no writer is in flight)."""
    for t in (ev.HOOK_CREATED, ev.STEP_CREATED):
        for run, corr, results in _issued(env, t):
            log = env.view.log(run)
            if "409" in results and terminal_index(log) is None and corr not in by_corr(log, t):
                return f"{t} for {ev.short(corr)} of run {ev.short(run)} was answered 409, but the log has no {t}"
    return None


def hook_entity_iff_live(env):
    """I-H4 at quiescence: entity = projection, and it exists iff hook_created, not disposed, run not ended."""
    bad = hook_entity_is_projection(env)
    if bad:
        return bad
    for run in env.view.runs():
        log = env.view.log(run)
        disposed = by_corr(log, ev.HOOK_DISPOSED)
        for hook in by_corr(log, ev.HOOK_CREATED):
            live = hook not in disposed and terminal_index(log) is None
            if live != (env.view.hook(hook) is not None):
                return (f"hook {ev.short(hook)} of run {ev.short(run)} is {'live' if live else 'dead'} in the log "
                        f"but its entity is {'missing' if live else 'still there'}")
    return None


def every_hook_logged(env):
    """I-H1 at quiescence: each issued creation has exactly one hook_created, unless every issuer
    that was answered was answered hook_conflict or 410."""
    for run, hook, results in _issued(env, ev.HOOK_CREATED):
        log = env.view.log(run)
        if hook in by_corr(log, ev.HOOK_CREATED) or terminal_index(log) is not None:
            continue
        if all(r in ("conflict", "410") for r in results):
            continue   # (no result at all: every issuer crashed first; whether a retry comes is liveness)
        return (f"hook {ev.short(hook)} of run {ev.short(run)} was created {len(results)} time(s) "
                f"(told {'/'.join(results) or 'nothing'}) and has no hook_created")
    return None


_STATUS_AFTER = {ev.STEP_CREATED: "pending", ev.STEP_STARTED: "running", ev.STEP_RETRYING: "pending",
                 ev.STEP_COMPLETED: "completed", ev.STEP_FAILED: "failed"}


def step_entity_is_fold(env):
    """I-S4: a step entity's status and attempt are the fold of its events (attempt = step_started count)."""
    for run in env.view.runs():
        for corr, es in _step_events(env.view.log(run)).items():
            step = env.view.step(run, corr)
            if step is None:
                continue
            status = "pending"
            for e in es:
                if status not in ev.TERMINAL_STATUSES:
                    status = _STATUS_AFTER[e["eventType"]]
            started = sum(e["eventType"] == ev.STEP_STARTED for e in es)
            if (step["status"], step["attempt"]) != (status, started):
                return (f"step {ev.short(corr)} of run {ev.short(run)} is {step['status']} at attempt {step['attempt']}, "
                        f"but its log says {status} at attempt {started}: {sequence(es)}")
    return None


def entities_are_folds(env):
    """I-ENTITY-FOLD: every run entity's status is the fold of its log (steps: I-S4; hooks: I-H4).

    One difference is tolerated: an entity `running` whose log has no run_started. A crash between
    run_started's status update and its event leaves it, later deliveries see `running` and write no
    event, and nothing reads run_started (replay consumes it structurally): benign, and common."""
    for run in env.view.runs():
        log = env.view.log(run)
        entity = env.view.run(run)
        t = terminal_index(log)
        want = (ev.RUN_STATUS_OF[log[t]["eventType"]] if t is not None
                else "running" if any(e["eventType"] == ev.RUN_STARTED for e in log) else "pending")
        got = "missing" if entity is None else entity["status"]
        if got != want and (got, want) != ("running", "pending"):
            return f"run {ev.short(run)} is {got}, but its log says {want}"
    return None


def cold_replay(env, run: str, wf):
    """Replay of the run's log without its terminal event, shared by the invariants checked in one state
    (the view hands out one log object per state, so an identical object is an identical log)."""
    log = env.view.log(run)
    memo = env.__dict__.setdefault("_cold_replays", {})
    hit = memo.get(run)
    if hit is not None and hit[0] is log:
        return hit[1]
    r = replay(wf, run, [e for e in log if e["eventType"] not in ev.TERMINAL_RUN_EVENTS])
    memo[run] = (log, r)
    return r


def _derived(r) -> str:
    """What a replay result amounts to, as the log would show it: the terminal event with its output or
    error, or "no terminal event" (suspended on what it waits for)."""
    t = r.terminal()
    if t is None:
        return f"no terminal event (suspended on {', '.join(r.waiting_on()) or 'nothing'})"
    if t[0] == ev.RUN_COMPLETED:
        return f"{t[0]} (output {t[1]['output']!r})"
    return f"{t[0]} (errorCode {t[1]['errorCode']!r}, error {t[1]['error']!r})"


def replays_cleanly(env):
    """I-REPLAY (5.7): a cold replay of every run's final log without its terminal event, with the same
    workflow code, raises no corrupted-log error and re-derives what the log says of the run's end: the
    same terminal event with the same output (run_completed) or the same errorCode and error
    (run_failed), and no terminal event (a suspension) when the log has none. The last clause is checked
    on the runs a workload drives to their end (`env.liveness`, as I-LIVE): a job workload stops before
    any delivery would write the end it has reached. run_cancelled comes from outside the workflow and is
    not re-derived."""
    for run, wf in env.workflows.items():
        full = env.view.log(run)
        r = cold_replay(env, run, wf)
        if r.code == "CORRUPTED_EVENT_LOG":
            return f"replaying run {ev.short(run)}: {r.error}"
        t = terminal_index(full)
        derived = r.terminal()
        if t is None:
            if derived is not None and getattr(env, "liveness", False):
                return (f"run {ev.short(run)}'s log has no terminal event, but replaying it derives "
                        f"{_derived(r)}")
            continue
        held, data = full[t]["eventType"], full[t]["eventData"]
        if held == ev.RUN_CANCELLED:
            continue
        keys = ("output",) if held == ev.RUN_COMPLETED else ("errorCode", "error")
        if derived is None or derived[0] != held or any(derived[1].get(k) != data.get(k) for k in keys):
            said = ", ".join(f"{k} {data.get(k)!r}" for k in keys)
            return f"run {ev.short(run)}'s log ends in {held} ({said}), but replaying it derives {_derived(r)}"
    return None


def waits_released(env):
    """I-R3 for waits: at quiescence no wait entity of a terminal run remains (termination deletes them)."""
    for w in env.view.waits():
        log = env.view.log(w["runId"])
        t = terminal_index(log)
        if t is not None:
            return (f"wait entity {w['waitId']} ({w['status']}) remains after run {ev.short(w['runId'])}'s "
                    f"{ev.describe(log[t])}")
    return None


def waits_completed(env):
    """I-W2 at quiescence: every wait_created of a run that is not terminal has its wait_completed. At
    quiescence no wake-up is left (every queue timer has fired), so an open wait stays open for good.
    A wait of a terminal run is counted only where the workload takes the maintainers' stance of #3749
    (`env.waits_of_ended_runs`, B29): every timer has fired, so such a wait is due. Only runs a workload
    drives (`env.liveness`, as I-LIVE) or that take that stance: a job workload issues single writes, and
    a wait it creates has no wake-up by construction."""
    if not (getattr(env, "liveness", False) or getattr(env, "waits_of_ended_runs", False)):
        return None
    for run in env.view.runs():
        log = env.view.log(run)
        if terminal_index(log) is not None and not getattr(env, "waits_of_ended_runs", False):
            continue
        done = by_corr(log, ev.WAIT_COMPLETED)
        for corr, es in by_corr(log, ev.WAIT_CREATED).items():
            if corr not in done:
                return (f"wait {ev.short(corr)} of run {ev.short(run)} (resumeAt {es[0]['eventData'].get('resumeAt')}) "
                        f"was created and is never completed: no wake-up of the run is left")
    return None


def _stalled(env, op, run: str) -> str | None:
    """Why a pending operation of a quiescent run can never resolve, or None if an outside actor still can."""
    if isinstance(op, HookOp):
        if not op.created:
            return f"hook {op.token} (never created)"
        if op.disposed:
            return f"hook {op.token} (its disposal is never written)"
        if env.view.hook(op.corr) is None:
            return f"hook {op.token} (created, but resumeHook cannot find it by its token)"
        return None   # an outside caller can still resume it
    if isinstance(op, StepCall):
        return f"step {op.name} ({ev.short(op.corr)}, {'created' if op.created else 'never created'}, never completed)"
    # the writes the runtime made for it and what the world answered: a loop of answers taken as "done"
    # (a 409 the broad branch swallows) is how a wait stays open while its wake-up keeps firing
    ledger = getattr(env, "ledger", None)
    tried = [(t, ledger.issued[(run, t, op.corr)]) for t in (ev.WAIT_CREATED, ev.WAIT_COMPLETED)
             if ledger is not None and ledger.issued.get((run, t, op.corr))]
    answers = "".join(f"; {t} written {len(rs)} time(s), answered {_tally(rs)}" for t, rs in tried)
    return (f"wait {ev.short(op.corr)} (resumeAt {op.resume_at}, {'created' if op.created else 'never created'}, "
            f"never completed{answers})")


def _tally(results: list) -> str:
    counts: dict = {}
    for r in results:
        counts[r] = counts.get(r, 0) + 1
    return ", ".join(f"{r} x{n}" for r, n in counts.items())


def runs_live(env):
    """I-LIVE at quiescence: every run the workload drives (`env.liveness`) is terminal, or waits only on
    what an outside actor can still deliver (a created hook whose entity resumeHook can find). Nothing
    else will ever happen at quiescence: no message is queued and no timer is left."""
    if not getattr(env, "liveness", False):
        return None
    for run, wf in env.workflows.items():
        log = env.view.log(run)
        if terminal_index(log) is not None:
            continue
        r = cold_replay(env, run, wf)
        if r.status != "suspended":
            return (f"run {ev.short(run)} is stuck: its log replays to {r.status}"
                    f"{' (' + r.code + ')' if r.code else ''}, but no delivery is left to write {r.terminal()[0]}")
        stalled = [why for why in (_stalled(env, op, run) for op in r.pending) if why]
        if stalled:
            return f"run {ev.short(run)} stalled on {', '.join(stalled)}"
    return None


def stale_write_free(env):
    """I-FENCE (5.7, where a workload checks it: `Env(stale_writes=True)`): every branch-decision event a
    runtime wrote (the scan's wait_completed, the suspension handler's hook_created, hook_disposed,
    step_created, wait_created, run_completed, run_failed) is preceded in the final log by exactly the
    snapshot its decision was made on, apart from the decision's own other writes (its batch). The
    snapshots are ghost state the runtime records where it decides (`Ledger.decide`). The simple version:
    no relaxation for events irrelevant to the writer's awaited correlation ids."""
    checked = getattr(env, "stale_writes", False)
    if not checked:
        return None
    for d in env.ledger.decisions:
        if not d.writes:
            continue
        log = env.view.log(d.run)
        position = {e["eventId"]: i for i, e in enumerate(log)}
        snapshot = set(d.snapshot)
        for t, corr, eid in d.writes:
            if checked is not True and t not in checked:
                continue
            at = position.get(eid)
            if at is None:
                continue   # rolled back or never visible: nothing in the log was decided stale
            extra = [e for e in log[:at] if e["eventId"] not in snapshot and e["eventId"] not in d.batch]
            missing = snapshot - {e["eventId"] for e in log[:at]}
            if extra or missing:
                tail = ev.short(d.snapshot[-1]) if d.snapshot else "-"
                why = (f"{ev.describe(extra[0])} precedes it but was not in the snapshot" if extra else
                       f"{len(missing)} snapshot event(s) do not precede it")
                return (f"run {ev.short(d.run)}: {t} {ev.short(corr or d.run)} {ev.short(eid)}, written by "
                        f"{d.writer} from a snapshot ending at {tail}, is stale: {why}")
    return None


def _log_reads(env):
    return env.view.log_reads


def _entity_reads(env):
    return env.view.entity_reads


def _wait_reads(env):
    return env.view.wait_reads


def world_invariants(entity_after_event: bool = False, extra_always=(), extra_at_end=()) -> tuple:
    """Every invariant, in the order a report names them (one event can break several: the most specific
    is named, e.g. a late step_started after both step_completed and run_completed is I-S2, not I-R2).
    `entity_after_event`: the world writes the
    hook entity only after its event (world-local L1+), so I-H4 holds in every state there.
    The `always` ones declare what they read (the view's `log_reads`, `entity_reads`): DPOR then
    lets writes elsewhere commute, and the kernel re-checks them only after a step that wrote a log."""
    inv = [
        always("I-LOG1", unique_event_ids, reads=_log_reads),
        always("I-LOG3", writer_monotonic, reads=_log_reads),
        always("I-LOG2", prefix_stable, reads=_log_reads),
        always("I-S1", one_step_created, reads=_log_reads),
        always("I-S3", one_step_terminal, reads=_log_reads),
        always("I-S2", no_restart_after_terminal, reads=_log_reads),
        always("I-S5", step_created_first, reads=_log_reads),
        always("I-R1", one_run_created, reads=_log_reads),
        always("I-R2", terminal_is_final, reads=_log_reads),
        always("I-W1", waits_once, reads=_log_reads),
        always("I-H1", one_hook_created, reads=_log_reads),
        always("I-H2", no_self_conflict, reads=_log_reads),
        always("I-H9", one_received_per_resume, reads=_log_reads),
        always("I-ORPHAN", no_wait_orphan, reads=_wait_reads),
        *extra_always,
    ]
    if entity_after_event:
        inv.append(always("I-H4", hook_entity_is_projection, reads=_entity_reads))
    inv += [at_end("I-NO-ESCAPE", no_escape), at_end("I-R1", run_entity_iff_created), at_end("I-ORPHAN", no_orphan), at_end("I-409-SOUND", sound_409), at_end("I-H4", hook_entity_iff_live),
            *extra_at_end, at_end("I-H1", every_hook_logged), at_end("I-S4", step_entity_is_fold),
            at_end("I-ENTITY-FOLD", entities_are_folds), at_end("I-REPLAY", replays_cleanly),
            at_end("I-R3", waits_released), at_end("I-W2", waits_completed), at_end("I-LIVE", runs_live, livelock=True),
            at_end("I-FENCE", stale_write_free)]
    return tuple(inv)


# ---- execution (5.8) ------------------------------------------------------------------------------

def one_body_per_attempt(env):
    """I-EXEC (5.8): per step, at most one body execution per attempt (the attempt number step_started
    returned), at most one body result committed (step_completed/step_failed told "ok"), and, unless a
    crash or redelivery had happened, at most one body execution in flight at a time (#2780). At-least-once
    execution after a fault is allowed. Body executions and the ones in flight are the executor's ghost
    records in the ledger (models.executor, `Ledger.body_started`).

    The in-flight clause is checked where a workload opts in (`env.exec_in_flight`): the runtime before
    #2780 (R-June) re-dispatches a step a delivery is running whenever another delivery replays meanwhile
    (B30), and the workloads built for a world's bug either seed that duplicate dispatch (two step
    messages of one step: #2331's premise) or reach their bug through it (B11, D7, D8): checked there, B30
    would be named first and hide the bug they are for."""
    from models.executor import BODY
    for (run, _t, (corr, attempt)), runs in env.ledger.results(BODY):
        if len(runs) > 1:
            return (f"step {ev.short(corr)} of run {ev.short(run)}: its body ran {len(runs)} times at attempt "
                    f"{attempt} (two executors were both told they started attempt {attempt})")
    committed: dict = {}
    for t in sorted(ev.TERMINAL_STEP_EVENTS):
        for (run, _t, corr), results in env.ledger.results(t):
            committed[(run, corr)] = committed.get((run, corr), 0) + results.count("ok")
    for (run, corr), n in committed.items():
        if n > 1:
            return f"step {ev.short(corr)} of run {ev.short(run)}: {n} body results committed"
    if not getattr(env, "exec_in_flight", False):
        return None
    for run, corr, (a, who_a), (b, who_b) in env.ledger.overlaps:
        return (f"step {ev.short(corr)} of run {ev.short(run)}: its body ran at attempt {b} ({who_b}) while "
                f"attempt {a} ({who_a}) was still in flight, and no crash or redelivery had happened")
    return None


# ---- crash-repairability and 409 soundness, continued (5.6) ------------------------------------------

def no_orphan_terminal_run(env):
    """I-ORPHAN for terminal runs: a run entity (row) terminal while its log has no terminal event
    (local ✂L, postgres ✂M) stays that way: every later terminal write is told 409, every delivery's
    run_started 410."""
    for run in env.view.runs():
        entity = env.view.run(run)
        if ev.is_terminal(entity) and terminal_index(env.view.log(run)) is None:
            return (f"run {ev.short(run)} is {entity['status']} but its log has no terminal event: every "
                    f"terminal write is told 409 and every delivery 410")
    return None


def answers_409(t: str, corr, log: list) -> bool:
    """Is there an event in `log` that makes a 409 to `t` for `corr` true (the entity exists or is terminal)?"""
    if t in ev.TERMINAL_RUN_EVENTS:
        return terminal_index(log) is not None
    if t in (ev.STEP_STARTED, ev.STEP_RETRYING) or t in ev.TERMINAL_STEP_EVENTS:
        want = ev.TERMINAL_STEP_EVENTS
    else:
        want = {t}   # creations, wait_completed, hook_disposed: their own event
    return any(e["eventType"] in want and e["correlationId"] == corr for e in log)


def sound_409_every_type(env):
    """I-409-SOUND for every write the ledger records: at quiescence a write answered 409 has the event
    that makes the 409 true in its run's log (a creation or completion its own event, a step transition
    the step's terminal event, a terminal run write the run's terminal event). A run that ended
    excuses its entities' 409s (creation on a terminal run is refused with 409 by design)."""
    for (run, t, corr), results in env.ledger.issued.items():
        if "409" not in results or not t.startswith(("run_", "step_", "hook_", "wait_")):
            continue
        log = env.view.log(run)
        if t not in ev.TERMINAL_RUN_EVENTS and terminal_index(log) is not None:
            continue
        if not answers_409(t, corr, log):
            what = f"{t} for {ev.short(corr)}" if corr else t
            return f"{what} of run {ev.short(run)} was answered 409, but its log has nothing that makes it true"
    return None


def first_violation(*checks):
    """One check made of several: the first message any of them returns."""
    def check(env):
        for c in checks:
            bad = c(env)
            if bad:
                return bad
        return None
    check.__doc__ = "\n".join(c.__doc__ or c.__name__ for c in checks)
    return check


def with_repairability(invariants: tuple, *orphan_checks) -> tuple:
    """`invariants` (world_invariants') with I-ORPHAN extended to terminal runs and `orphan_checks` (a
    world's own side records), and I-409-SOUND to every type the ledger records (a superset of sound_409)."""
    from dataclasses import replace   # (imported here: this block is appended to the module)
    extended = {"I-ORPHAN": first_violation(no_orphan, no_orphan_terminal_run, *orphan_checks),
                "I-409-SOUND": sound_409_every_type}
    return tuple(replace(i, fn=extended[i.name]) if i.when == "at_end" and i.name in extended else i
                 for i in invariants)
