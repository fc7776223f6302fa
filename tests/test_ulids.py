"""sim.ulids writes the text the `ulid` package writes for the same value (models' ULIDs are in traces)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

ulid = pytest.importorskip("ulid")

from sim import ulids  # noqa: E402


@given(st.integers(0, (1 << 128) - 1))
def test_same_text_as_the_ulid_package(v):
    assert ulids.text(v) == str(ulid.ULID.from_int(v))


def test_out_of_range():
    with pytest.raises(ValueError):
        ulids.text(1 << 128)


@given(st.integers(0, (1 << 128) - 1))
def test_value_reads_back_what_text_wrote(v):
    assert ulids.value(ulids.text(v)) == v == int(ulid.ULID.from_str(ulids.text(v)))
    assert ulids.value(ulids.text(v).lower()) == v


@pytest.mark.parametrize("bad", ["", "0" * 25, "U" * 26, "8" + "0" * 25])
def test_value_refuses_what_is_not_a_ulid(bad):
    with pytest.raises(ValueError):
        ulids.value(bad)


@pytest.mark.parametrize("bad", ["I" * 26, "0" * 25 + "U", "0" * 25 + "é", "0" * 25 + " ", "0" * 25 + "_",
                                 "0" * 24 + "+1", "8" + "0" * 25, "0" * 27, ""])
def test_text_that_is_not_a_ulid_is_refused(bad):
    # symbols outside Crockford's alphabet (I L O U, non-ASCII, what int() would accept: _ + space),
    # more than 128 bits, or the wrong length
    with pytest.raises(ValueError):
        ulids.value(bad)
