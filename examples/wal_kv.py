"""A key-value server with a write-ahead log, crashing between append and apply.

A client sends two puts through a durable request queue. The server's handler
appends the put to its write-ahead log (durable), answers the client and acks the
request (from then on the put is acknowledged and never delivered again), and
applies it to the table. A crash can come between any
two of those steps; on restart the server recovers before it serves again.

- `wal-kv-no-replay`: recovery trusts the table. It takes the next sequence number
  from the table's last applied record and replays nothing, so a put that was
  acknowledged but not applied is lost (and its log slot is reused by the next
  append): I-DURABLE at quiescence.
- `wal-kv-replay`: recovery scans the log (`Store.items`, a scan DPOR orders
  against every append) and applies every record above the table's applied
  position, then continues numbering after the last record. Holds; exhaustive with
  `--strategy dpor` (one crash).

    python -m sim explore --load examples/wal_kv.py --strategy dpor
"""
from __future__ import annotations

import sim

PUTS = (("x", 1), ("y", 2))


def wal_scenario(replay: bool) -> sim.Scenario:
    def setup(k):
        wal = sim.Store("wal", scans=True)                 # (seq,) -> (key, value)
        table = sim.Store("table", {"applied": 0})         # key -> value, "applied": last seq applied
        replies = sim.Store("replies")                     # what the client was told: key -> value
        requests = sim.Queue("requests", visibility_timeout=50)
        for put in PUTS:
            requests.push(put)

        async def recover(p):
            await sim.point("recover", reads=(wal.range_key(), table.key("applied")),
                            writes=(table.key("applied"),) + tuple(table.key(key) for key, _ in PUTS))
            applied = table["applied"]
            mem = p.volatile
            if replay:
                records = wal.items()
                for (seq,), (key, value) in records:
                    if seq > applied:
                        table[key] = value
                        table["applied"] = seq
                mem["next_seq"] = (records[-1][0][0] if records else 0) + 1
            else:
                mem["next_seq"] = applied + 1
            sim.note(f"recovered: next seq {mem['next_seq']}")
            requests.consume(p, handle)

        async def handle(put, delivery):
            key, value = put
            mem = sim.current_process().volatile
            seq = mem["next_seq"]
            mem["next_seq"] = seq + 1
            await sim.point(f"append {seq}", writes=(wal.key((seq,)),))
            wal[(seq,)] = put
            await sim.point(f"reply {key}", writes=(replies.key(key),))
            replies[key] = value
            await requests.ack(delivery)    # the request is done: it will not be delivered again
            await sim.point(f"apply {seq}", reads=(table.key("applied"),),
                            writes=(table.key(key), table.key("applied")))
            table[key] = value
            table["applied"] = max(table["applied"], seq)

        k.process("server", lambda p: p.spawn("recover", recover, p))
        return {"table": table, "replies": replies}

    def acknowledged_puts_survive(st):
        table, replies = st["table"].snapshot(), st["replies"].snapshot()
        lost = [f"{key}={v}" for key, v in sorted(replies.items()) if table.get(key) != v]
        return not lost or f"acknowledged put(s) {', '.join(lost)} missing from the table"

    return sim.Scenario(
        name="wal-kv-replay" if replay else "wal-kv-no-replay", setup=setup,
        invariants=(sim.at_end("I-DURABLE", acknowledged_puts_survive),),
        faults=sim.Faults(crashes=1), expect="hold" if replay else "I-DURABLE",
        params={"replay": replay}, revision="replay" if replay else "no-replay",
        description="a crash between a WAL append and its apply"
                    + (" (recovery replays the log)" if replay else " (recovery trusts the table)"),
    )


SCENARIOS = [wal_scenario(replay=False), wal_scenario(replay=True)]
