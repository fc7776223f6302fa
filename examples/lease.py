"""A leader lease with a fencing token, written only against `import sim`.

Two clients want to be the single writer of a storage service. A lock service grants
a lease for TTL ticks and a token that grows with every grant. A client that holds
the lease writes to storage with its token. A client may stall (a GC pause, a page
fault, a slow network) for longer than the TTL: its lease expires, the other client
is granted a new one, and the stalled client wakes up still believing it is the
leader.

- `lease-unfenced`: the storage accepts every write. The stalled client's write
  lands after the new leader's: I-FENCE (accepted tokens must never go down).
- `lease-fenced`: the storage remembers the highest token it has seen and rejects
  a write with a lower one, in the same atomic step. Holds; exhaustive with
  `--strategy dfs` or `dpor`.

    python -m sim explore --load examples/lease.py --strategy dfs
"""
from __future__ import annotations

import sim

TTL = 10


def lease_scenario(fenced: bool) -> sim.Scenario:
    def setup(k):
        lease = sim.Store("lease", {"holder": None, "expires": 0, "token": 0})
        storage = sim.Store("storage", {"accepted": (), "max_token": 0})

        async def acquire(me: str) -> int | None:
            """One compare-and-set at the lock service: free or expired -> mine, with a new token."""
            await sim.point("acquire lease", reads=(lease.key("holder"), lease.key("expires"), lease.key("token")),
                            writes=(lease.key("holder"), lease.key("expires"), lease.key("token")))
            if lease["holder"] is not None and lease["expires"] > sim.now():
                return None
            token = lease["token"] + 1
            lease["holder"], lease["expires"], lease["token"] = me, sim.now() + TTL, token
            sim.note(f"{me} holds the lease until {sim.now() + TTL} with token {token}")
            return token

        async def write(me: str, token: int) -> None:
            await sim.point("write storage", reads=(storage.key("max_token"),),
                            writes=(storage.key("accepted"), storage.key("max_token")))
            if fenced and token < storage["max_token"]:
                sim.note(f"rejected {me}'s write: token {token} < {storage['max_token']}")
                return
            storage["accepted"] = storage["accepted"] + ((me, token),)
            storage["max_token"] = max(storage["max_token"], token)

        async def client(me: str, start_after: int) -> None:
            if start_after:
                await sim.sleep(start_after)
            for _ in range(2):   # try, wait for the lease to expire, try once more
                token = await acquire(me)
                if token is not None:
                    break
                await sim.sleep(max(1, lease["expires"] - sim.now()))   # same step as the failed acquire
            else:
                return
            if sim.choose("pause", 2, f"{me} stalls past its lease"):
                await sim.sleep(TTL + 1, f"{me} wakes from a pause")
            await write(me, token)

        k.process("c1", lambda p: p.spawn("client", client, "c1", 0))
        k.process("c2", lambda p: p.spawn("client", client, "c2", 1))
        return storage

    def tokens_never_go_down(storage):
        seen = storage.peek("accepted")
        for (a, ta), (b, tb) in zip(seen, seen[1:]):
            if tb < ta:
                return f"storage accepted {b}'s token {tb} after {a}'s token {ta}"
        return True

    return sim.Scenario(
        name="lease-fenced" if fenced else "lease-unfenced", setup=setup,
        invariants=(sim.always("I-FENCE", tokens_never_go_down, reads=(("storage", "accepted"),)),),
        expect="hold" if fenced else "I-FENCE",
        params={"fenced": fenced}, revision="fenced" if fenced else "unfenced",
        description="a lease holder that stalls past its TTL writes after the next holder"
                    + (" (storage checks the fencing token)" if fenced else ""),
    )


SCENARIOS = [lease_scenario(fenced=False), lease_scenario(fenced=True)]
