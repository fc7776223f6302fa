"""world-local `hook_created` through every review round of #2295 (domain doc 2.2.7 and 4.1).

One class per revision, each a subclass of its predecessor that overrides only what
that round changed, so each class reads as the diff the reviewers saw. A revision
is named by the bug its code still has: `B1` is L0 as reported in #2283, `B2`..`B7`
are the successive heads of #2295, `L1` is the merged protocol.

Step numbers in comments are those of 2.2.7 (L0: 1-5, L1: 0-6).
"""
from __future__ import annotations

from models import events as ev
from models.events import EntityConflictError, HookNotFoundError
from models.local.world import LocalWorld, claim_path, event_path, events_dir, hook_path, run_path
from sim import note


def hook_entity(run: str, req: dict, created_at: int) -> dict:
    d = req["eventData"]
    return {"runId": run, "hookId": req["correlationId"], "token": d["token"], "metadata": d.get("metadata"),
            "isWebhook": bool(d.get("isWebhook")), "createdAt": created_at}


def entity_of_event(e: dict) -> dict:
    """The entity a persisted hook_created event projects to (what a repair writes)."""
    return hook_entity(e["runId"], e, e["createdAt"])


def hook_created_event(run: str, req: dict, eid: str) -> dict:
    d = req["eventData"]
    return ev.event(eid, run, ev.HOOK_CREATED, req["correlationId"],
                    {"token": d["token"], "metadata": d.get("metadata"), "isWebhook": bool(d.get("isWebhook"))})


class B1(LocalWorld):
    """L0 (#2283): a lost claim always becomes hook_conflict, even when the claim is our own.

    The claim is read with a schema that has only token and runId, so the parser
    drops hookId and a duplicate of the same creation cannot be told from a rival."""

    revision = "B1"
    publish_exclusive = False    # L0 publishes every event with the racy no-overwrite write
    hook_mutex = False
    entity_after_event = False   # the hook entity is written before its event

    def claim_body(self, run, req, eid) -> dict:
        return {"token": req["eventData"]["token"], "hookId": req["correlationId"], "runId": run}

    async def _hook_created(self, run, req, eid, current):
        self._refuse_child_on_terminal_run(current)                                   # 1
        if not await self.fs.xcreate(claim_path(req["eventData"]["token"]), self.claim_body(run, req, eid)):  # 2
            return await self.claim_lost(run, req, eid)                             # 3
        return await self.create_first(run, req, eid)                               # 4-5

    async def create_first(self, run, req, eid) -> dict:
        """We won the claim: entity, then event (a crash between leaves a claim and an entity, no event)."""
        entity = hook_entity(run, req, ev.created_at_of(eid))
        await self.fs.put_nx_racy(hook_path(req["correlationId"]), entity)        # 4
        return await self._publish_or_409(run, hook_created_event(run, req, eid))  # 5

    async def claim_lost(self, run, req, eid) -> dict:
        claim = await self.fs.read(claim_path(req["eventData"]["token"]))
        return await self.conflict(run, req, eid, claim and claim.get("runId"))

    async def conflict(self, run, req, eid, owner) -> dict:
        """3b: write hook_conflict (a fresh id) instead of hook_created and return it; no exception."""
        e = ev.event(eid, run, ev.HOOK_CONFLICT, req["correlationId"],
                     {"token": req["eventData"]["token"], "conflictingRunId": owner})
        await self.publish(run, e)
        return {"event": e}


class B2(B1):
    """#2295, first head: parse hookId; a claim naming our own (run, hook) is a duplicate -> 409.

    B2: the claim (and entity) are written before the event, so after a crash between
    them every retry sees its own claim and gets 409, which the runtime swallows:
    the hook_created event is never written."""

    revision = "B2"

    async def claim_lost(self, run, req, eid) -> dict:
        claim = await self.fs.read(claim_path(req["eventData"]["token"]))
        if claim is not None and (claim.get("runId"), claim.get("hookId")) == (run, req["correlationId"]):
            return await self.same_hook(run, req, eid, claim)                       # 3a
        return await self.conflict(run, req, eid, claim and claim.get("runId"))     # 3b

    async def same_hook(self, run, req, eid, claim) -> dict:
        raise EntityConflictError(f"hook {req['correlationId']} already created")


class B3(B2):
    """#2295 head c7b23e1b: before answering 409, probe the log; no hook_created -> write one.

    B3: the probe is guarded only by the per-instance hookLocks, and the repair
    publishes under a fresh eventId, so two processes that both lose the claim and
    both probe before either publishes write two hook_created events for one hook."""

    revision = "B3"
    hook_mutex = True

    async def find_hook_created(self, run, hook):
        for e in await self.fs.scan(events_dir(run), " (probe)", immutable=True):
            if e["eventType"] == ev.HOOK_CREATED and e["correlationId"] == hook:
                return e
        return None

    async def same_hook(self, run, req, eid, claim) -> dict:
        if await self.find_hook_created(run, req["correlationId"]) is not None:
            raise EntityConflictError(f"hook {req['correlationId']} already created")
        note("no hook_created in the log: repair with a fresh eventId")
        await self.fs.put(hook_path(req["correlationId"]), hook_entity(run, req, ev.created_at_of(eid)), " (repair)")
        return await self._publish_or_409(run, hook_created_event(run, req, eid))


class B4(B3):
    """#2295: the winner's eventId goes into the claim (same XCREATE that wins the token); every
    loser adopts it and the event is published exclusively, so exactly one publication succeeds.

    B4: a claim written by an older version has no eventId; for it the B3 probe
    ("probe the log, then write with a fresh id") remains, and it still diverges."""

    revision = "B4"
    publish_exclusive = True

    def claim_body(self, run, req, eid) -> dict:
        return {**super().claim_body(run, req, eid), "eventId": eid}

    async def same_hook(self, run, req, eid, claim) -> dict:
        if claim.get("eventId") is None:
            return await self.recover_legacy(run, req, eid)
        return await self.create_canonical(run, req, claim["eventId"])

    async def recover_legacy(self, run, req, eid) -> dict:
        return await B3.same_hook(self, run, req, eid, None)

    async def create_canonical(self, run, req, canonical: str) -> dict:
        """Adopt `canonical`: createdAt from its ULID, so every adopter writes identical bytes."""
        entity = hook_entity(run, req, ev.created_at_of(canonical))
        await self.fs.put(hook_path(req["correlationId"]), entity, " (overwrite)")   # 4, written before 5
        return await self._publish_or_409(run, hook_created_event(run, req, canonical))   # 5


class B5(B4):
    """#2295 pinCanonicalEventIdForLegacyClaim: probe the log for a pre-upgrade hook_created (repair
    the entity from it, 409), else pin a candidate id in a recovery marker; others adopt it.

    B5: the marker is keyed by token alone and names (runId, hookId, eventId); a
    marker naming another hook is overwritten with a plain write, and run
    termination does not delete it. Reusing the token in a later run finds the
    stale marker; concurrent recoveries overwrite it and adopt different ids."""

    revision = "B5"

    def marker_path(self, token, run, hook) -> str:
        return f"hooks/tokens/{token}.recovery"

    async def recover_legacy(self, run, req, eid) -> dict:
        hook = req["correlationId"]
        found = await self.find_hook_created(run, hook)
        if found is not None:
            await self.repair_entity(found)
            raise EntityConflictError(f"hook {hook} already created (pre-upgrade writer)")
        canonical = await self.pin_canonical(run, hook, req["eventData"]["token"], eid)
        return await self.create_canonical(run, req, canonical)

    async def repair_entity(self, e: dict) -> None:
        """Rebuild a missing entity from the persisted event (never from the retry's request)."""
        await self.fs.xcreate(hook_path(e["correlationId"]), entity_of_event(e), " (repair)")

    async def pin_canonical(self, run, hook, token, eid) -> str:
        path = self.marker_path(token, run, hook)
        if await self.fs.xcreate(path, {"runId": run, "hookId": hook, "eventId": eid}):
            return eid
        marker = await self.fs.read(path)
        if marker is not None and (marker.get("runId"), marker.get("hookId")) == (run, hook):
            return marker["eventId"]
        note("stale recovery marker: overwrite it")
        await self.fs.put(path, {"runId": run, "hookId": hook, "eventId": eid})
        return eid


class B6(B5):
    """#2295: marker path = (token, runId, hookId), content {eventId}, created only exclusively;
    disposal and run termination delete it.

    B6: the dedup/recovery path overwrites the hook entity from the retry's request
    before the event publish proves whether this is a repair or a duplicate, so a
    duplicate retry with other metadata rewrites the committed entity."""

    revision = "B6"

    def marker_path(self, token, run, hook) -> str:
        return f"hooks/tokens/{token}.{run}.{hook}.recovery"

    async def pin_canonical(self, run, hook, token, eid) -> str:
        path = self.marker_path(token, run, hook)
        if await self.fs.xcreate(path, {"eventId": eid}):
            return eid
        marker = await self.fs.read(path)
        if marker is None:
            raise EntityConflictError(f"recovery marker for hook {hook} unreadable")
        return marker["eventId"]

    async def release_token(self, run, hook, token):
        await super().release_token(run, hook, token)
        await self.fs.delete(self.marker_path(token, run, hook))


class B7(B6):
    """#2295 (karthikscale3's round): compute the entity, write it only after the publish succeeds;
    a colliding retry never writes it.

    B7: a crash after the publish and before the deferred entity write leaves an
    event without an entity; every retry collides at the event path and gets 409,
    so the entity is never written (getByToken fails, resumeHook cannot find it)."""

    revision = "B7"
    entity_after_event = True

    async def create_first(self, run, req, eid) -> dict:
        return await self.publish_then_entity(run, req, eid, overwrite=False)

    async def create_canonical(self, run, req, canonical: str) -> dict:
        return await self.publish_then_entity(run, req, canonical, overwrite=True)

    async def publish_then_entity(self, run, req, eid, overwrite: bool) -> dict:
        e = hook_created_event(run, req, eid)
        if not await self.publish(run, e):                                            # 5
            await self.publish_collided(run, req, eid)
            raise EntityConflictError(f"hook_created {eid} already published")
        entity = hook_entity(run, req, e["createdAt"])
        path = hook_path(req["correlationId"])
        if overwrite:                                                                  # 6
            await self.fs.put(path, entity, " (overwrite)")
        else:
            await self.fs.put_nx_racy(path, entity)
        return {"event": e, "hook": entity}

    async def publish_collided(self, run, req, eid) -> None:
        pass


class L1(B7):
    """The merged protocol: on a publish collision repair a missing entity from the persisted
    event (R); rebuild a missing claim from the event log before claiming (1)."""

    revision = "L1"

    async def publish_collided(self, run, req, eid) -> None:
        e = await self.fs.read(event_path(run, eid), " (collision)")
        if e is not None and e["eventType"] == ev.HOOK_CREATED and e["correlationId"] == req["correlationId"]:
            if await self.fs.read(hook_path(req["correlationId"])) is None:
                await self.repair_entity(e)

    async def _hook_created(self, run, req, eid, current):
        self._refuse_child_on_terminal_run(current)                                   # 0
        token = req["eventData"]["token"]
        if await self.fs.read(claim_path(token)) is None:                             # 1
            await self.rebuild_claim(token)
        return await super()._hook_created(run, req, eid, current)

    async def hooks_get_by_token(self, token: str) -> dict:
        try:
            return await super().hooks_get_by_token(token)
        except HookNotFoundError:
            if not await self.rebuild_claim(token):
                raise
            return await super().hooks_get_by_token(token)

    async def rebuild_claim(self, token) -> bool:
        """Claim missing: take the newest hook_created for `token` that its run has not disposed or
        ended, and restore its claim (with its eventId) and its entity."""
        best = None
        for run in await self.fs.listdir("events", " (rebuild)"):
            dead = set()
            for e in sorted(await self.fs.scan(events_dir(run), " (rebuild)", immutable=True),
                            key=ev.log_order, reverse=True):
                if e["eventType"] in ev.TERMINAL_RUN_EVENTS:
                    break   # everything older belongs to an ended run
                if e["eventType"] == ev.HOOK_DISPOSED:
                    dead.add(e["correlationId"])
                elif (e["eventType"] == ev.HOOK_CREATED and e["eventData"]["token"] == token
                      and e["correlationId"] not in dead and (best is None or ev.log_order(e) > ev.log_order(best))):
                    best = e
        if best is None:
            return False
        owner = await self.fs.read(run_path(best["runId"]), " (rebuild)")
        if owner is None or owner["status"] in ev.TERMINAL_STATUSES:
            return False
        note(f"rebuild the claim of {token} from {ev.describe(best)}")
        await self.fs.xcreate(claim_path(token), {"token": token, "hookId": best["correlationId"],
                                                  "runId": best["runId"], "eventId": best["eventId"]})
        await self.repair_entity(best)
        return True


class L3749(L1):
    """L1 with #3749's proposal (open): a wait_completed of a terminal run whose wait entity the
    termination deleted publishes its event instead of failing "Wait not found" (B29's fix, with the
    runtime's R3749)."""
    revision = "L3749"
    complete_ended_waits = True


REVISIONS = {cls.revision: cls for cls in (B1, B2, B3, B4, B5, B6, B7, L1, L3749)}
