"""The trace document itself: pydantic models of a trace, its steps and its verdict.

Kept apart from sim.trace so that importing sim does not import pydantic (a
tenth of a second): only commands that read or write a trace load it.
"""
from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict


QUIESCENCE = "at quiescence: "   # how the kernel's message starts for a violation found after the last step


def describe_violation(invariant: str | None, step: int | None, message: str | None) -> str:
    """`I-X violated at step N: why`, or, for a violation of the final state, `I-X violated at
    quiescence (after step N): why`."""
    message = message or ""
    if message.startswith(QUIESCENCE):
        return f"{invariant} violated at quiescence (after step {step}): {message[len(QUIESCENCE):]}"
    return f"{invariant} violated at step {step}: {message}"


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    i: int
    t: int
    kind: Literal["run", "time", "crash", "redeliver"]
    actor: str
    process: str
    label: str
    reads: list[str]
    writes: list[str]
    notes: list[str] = []


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ok", "violation"]
    invariant: str | None = None
    step: int | None = None
    message: str | None = None

    def describe(self) -> str:
        if self.status == "ok":
            return "ok (no invariant violated)"
        return describe_violation(self.invariant, self.step, self.message)


class Trace(BaseModel):
    """A saved trace: scenario and revision, parameters and faults, strategy and seed, the decision
    tape, the step log, the verdict, what was loaded (`load`), sealed by a sha256 `digest`.

    Example: `trace = sim.Trace.model_validate_json(path.read_text()); print(trace.verdict.describe())`."""
    model_config = ConfigDict(extra="forbid")
    schema_version: int
    sim_version: str
    scenario: str
    revision: str
    params: dict
    faults: dict
    max_steps: int
    strategy: dict
    engine: str
    execution: int | None = None
    check_footprints: bool = False   # footprint violations were checked (replay checks them too)
    load: list[str] = []             # the `--load` module or file the scenario came from (replay loads it)
    backend: str = "model"           # what the world's storage ran on (sim.backends)
    tape: list[tuple[str, int, int]]
    steps: list[Step]
    verdict: Verdict
    digest: str = ""

    def _body(self, exclude: set) -> dict:
        # fields added after schema 1 shipped are left out while at their default, so older
        # traces keep their bytes and their digests
        if not self.check_footprints:
            exclude = exclude | {"check_footprints"}
        if not self.load:
            exclude = exclude | {"load"}
        if self.backend == "model":
            exclude = exclude | {"backend"}
        return self.model_dump(mode="json", exclude=exclude)

    def content_digest(self) -> str:
        raw = json.dumps(self._body({"digest"}), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(raw.encode()).hexdigest()

    def sealed(self) -> "Trace":
        return self.model_copy(update={"digest": self.content_digest()})

    def to_json(self) -> str:
        return json.dumps(self._body(set()), indent=1, ensure_ascii=True) + "\n"
