"""A storage model written outside sim/ and models/, using only `import sim` public names.

It is the subject of the plugin-boundary test: a key-value bank whose transfer
reads two balances and writes them back, racy or under a lock, with the
invariant "the total is conserved". A user with their own storage system
writes exactly this kind of module and loads it with `sim.registry.load_module`.

It also holds `Record`, a user-side strategy wrapper (the Strategy protocol is
public), which the engine tests use to look at every execution of an exploration.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sim

OPENING = {"A": 100, "B": 100}


class Bank:
    """Durable balances; every read and every write is its own atomic step."""

    def __init__(self, balances: dict[str, int]):
        self.balances = dict(balances)

    async def read(self, account: str) -> int:
        await sim.point(f"read {account}", reads=(account,))
        return self.balances[account]

    async def write(self, account: str, value: int) -> None:
        await sim.point(f"write {account}", writes=(account,))
        self.balances[account] = value
        sim.note(f"{account} = {value}")

    def total(self) -> int:
        return sum(self.balances.values())


async def transfer(bank: Bank, src: str, dst: str, amount: int, lock: sim.Lock | None) -> None:
    if lock is None:
        await _move(bank, src, dst, amount)
        return
    async with lock:
        await _move(bank, src, dst, amount)


async def _move(bank: Bank, src: str, dst: str, amount: int) -> None:
    a = await bank.read(src)
    b = await bank.read(dst)
    await bank.write(src, a - amount)
    await bank.write(dst, b + amount)


def bank_transfer(locked: bool) -> sim.Scenario:
    """Two tellers (two processes) move money in opposite directions at the same time."""
    transfers = (("A", "B", 10), ("B", "A", 5))

    def setup(k):
        bank = Bank(OPENING)
        lock = sim.Lock("ledger") if locked else None  # setup-level: a cross-process lock
        for i, (src, dst, amount) in enumerate(transfers):
            k.process(f"teller{i + 1}",
                      lambda p, t=(src, dst, amount): p.spawn("transfer", transfer, bank, *t, lock))
        return bank

    expected = sum(OPENING.values())

    def conserved(bank: Bank):
        got = bank.total()
        return got == expected or f"total is {got}, expected {expected} (balances {sorted(bank.balances.items())})"

    return sim.Scenario(
        name="outside-bank" + ("-locked" if locked else ""), setup=setup,
        invariants=(sim.at_end("I-TOTAL", conserved),),
        expect="hold" if locked else "I-TOTAL",
        params={"locked": locked},
        description="a bank transfer written outside sim: read two balances, write them back",
    )


SCENARIOS = [bank_transfer(locked=False), bank_transfer(locked=True)]


# ---- a user-side strategy wrapper ------------------------------------------------------

@dataclass
class Run:
    tape: list[int]
    state: Any
    violation: Any
    crashes: int
    now: int
    pruned: bool = False


class Record(sim.Wrapper):
    """Answers exactly as the wrapped strategy does and keeps what every execution did."""

    def __init__(self, inner: sim.Strategy):
        super().__init__(inner)
        self.runs: list[Run] = []

    def end_execution(self, view) -> None:
        self.runs.append(Run(list(view.tape), view.state, view.violation, view.crashes, view.now, view.pruned))
        self.inner.end_execution(view)
