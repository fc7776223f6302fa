"""Issue 15's statement families: every interleaving on the model and on the real server, outcomes
compared (tests/real_postgres/conformance.py). The model is the guard of every change to db.py."""
from __future__ import annotations

import pytest

from tests.real_postgres.conformance import CASES, outcomes

IDS = [f"{c.family}-{c.name}" for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_model_and_server_reach_the_same_outcomes(pg_backend, case):
    model, n_model = outcomes(case, "model")
    server, n_server = outcomes(case, "postgres")
    assert n_model > 1 and n_server > 1, "a case with one interleaving compares nothing"
    assert model == server, (f"only the model: {sorted(model - server, key=repr)}; "
                             f"only the server: {sorted(server - model, key=repr)}")
