"""A transactional outbox, a relay with at-least-once delivery, and a consumer that must dedupe.

The order service writes an order and its outbox entry in one transaction. A relay
process scans the outbox (`Store.items` by prefix), publishes every unpublished entry
to a broker queue and then marks it published: a crash between the publish and the
mark publishes the entry again on restart. The broker may also deliver a message
twice (a redelivery fault: the visibility timeout expired while the first consumer
still ran). The billing consumer charges the customer for each order event.

- `outbox-no-dedupe`: billing charges once per delivery: a duplicate charges twice
  (I-CHARGED-ONCE at quiescence).
- `outbox-dedupe`: billing records the event id in the same transaction as the
  charge, and skips an id it has seen. Holds; exhaustive with `--strategy dpor`
  (one crash, one redelivery).

    python -m sim explore --load examples/outbox.py --strategy dpor
"""
from __future__ import annotations

import sim

ORDERS = (("o1", 30),)


def outbox_scenario(dedupe: bool) -> sim.Scenario:
    def setup(k):
        db = sim.Store("db", scans=True)             # ("order", id), ("outbox", id) -> published?
        billing = sim.Store("billing", scans=True)   # ("charge", id) -> amount, ("seen", event id)
        broker = sim.Queue("broker", visibility_timeout=20)

        async def place(order_id: str, amount: int) -> None:
            await sim.point(f"place {order_id}", writes=(db.key(("order", order_id)), db.key(("outbox", order_id))))
            db[("order", order_id)] = amount
            db[("outbox", order_id)] = False

        def pending() -> bool:   # a guard, not a step: it reads without recording (snapshot)
            return any(key[0] == "outbox" and not published for key, published in db.snapshot().items())

        async def relay() -> None:
            while True:
                # idle: a relay waiting for work is not a deadlock
                await sim.wait("outbox has work", pending, reads=(db.range_key(("outbox",)),), idle=True)
                await sim.point("scan outbox", reads=(db.range_key(("outbox",)), db.range_key(("order",))))
                todo = [(key[1], db[("order", key[1])]) for key, published in db.items(("outbox",)) if not published]
                for order_id, amount in todo:
                    await broker.send({"event": f"charge-{order_id}", "order": order_id, "amount": amount})
                    await sim.point(f"mark {order_id} published", writes=(db.key(("outbox", order_id)),))
                    db[("outbox", order_id)] = True

        async def charge(event, delivery) -> None:
            seen = ("seen", event["event"])
            await sim.point(f"charge {event['order']}", reads=(billing.key(seen),),
                            writes=(billing.key(seen), billing.key(("charge", event["order"]))))
            if dedupe and seen in billing:
                sim.note(f"{event['event']} already charged")
                return
            billing[seen] = True
            billing[("charge", event["order"])] = billing.get(("charge", event["order"]), 0) + event["amount"]

        k.process("shop", lambda p: [p.spawn(f"place {o}", place, o, a) for o, a in ORDERS])
        k.process("relay", lambda p: p.spawn("relay", relay))
        k.process("billing", lambda p: broker.consume(p, charge))
        return {"db": db, "billing": billing}

    def charged_once(st):
        orders = {key[1]: v for key, v in st["db"].snapshot().items() if key[0] == "order"}
        charges = {key[1]: v for key, v in st["billing"].snapshot().items() if key[0] == "charge"}
        wrong = [f"{o}: charged {charges.get(o, 0)} for {a}" for o, a in sorted(orders.items()) if charges.get(o, 0) != a]
        return not wrong or "; ".join(wrong)

    return sim.Scenario(
        name="outbox-dedupe" if dedupe else "outbox-no-dedupe", setup=setup,
        invariants=(sim.at_end("I-CHARGED-ONCE", charged_once),),
        faults=sim.Faults(crashes=1, redeliveries=1), expect="hold" if dedupe else "I-CHARGED-ONCE",
        params={"dedupe": dedupe}, revision="dedupe" if dedupe else "no-dedupe",
        description="an outbox relay that publishes at least once"
                    + (" to a consumer that dedupes by event id" if dedupe else " to a consumer that does not dedupe"),
    )


SCENARIOS = [outbox_scenario(dedupe=False), outbox_scenario(dedupe=True)]
