"""``RowIndex`` and ``grow``: ids to reusable rows of growing arrays."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from features.state.rows import RowIndex, grow, is_unwritten, take_rows, unwritten, written
from tests.features.state.helpers import PROPERTY


def test_row_index_reuses_freed_rows() -> None:
    rows = RowIndex()
    a, b, c = rows.add("a"), rows.add("b"), rows.add("c")
    assert (a, b, c) == (0, 1, 2)
    assert rows.remove("b") == 1
    assert "b" not in rows and rows.get("b") is None
    assert rows.ids[1] is None
    assert rows.add("d") == 1
    assert rows.ids[1] == "d" and rows.get("d") == 1
    assert rows.add("e") == 3
    assert len(rows) == 4
    assert sorted(rows.items()) == [("a", 0), ("c", 2), ("d", 1), ("e", 3)]


def test_row_index_grows_capacity() -> None:
    rows = RowIndex()
    for n in range(100):
        assert rows.add(f"k{n}") == n
        assert rows.capacity > n
    assert [rows.ids[n] for n in range(100)] == [f"k{n}" for n in range(100)]


@PROPERTY
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 25)), max_size=150))
def test_row_index_matches_a_dict_and_follows_the_live_population(
    ops: list[tuple[bool, int]],
) -> None:
    rows = RowIndex()
    model: dict[str, int] = {}
    peak = 0
    for add, n in ops:
        key = f"k{n}"
        if add and key not in model:
            model[key] = rows.add(key)
        elif not add and key in model:
            assert rows.remove(key) == model.pop(key)
        peak = max(peak, len(model))
        assert len(rows) == len(model)
        assert len(set(model.values())) == len(model)  # rows unique
        for k, r in model.items():
            assert rows.get(k) == r and k in rows and rows.ids[r] == k
            assert r < peak  # rows never go beyond the largest live population
        assert rows.capacity >= len(model)


def test_grow_keeps_content_and_zeroes_new_rows() -> None:
    a = np.arange(6, dtype=np.float32).reshape(3, 2)
    b = grow(a, 5)
    assert b.shape == (5, 2) and b.dtype == np.float32
    assert (b[:3] == a).all() and (b[3:] == 0).all()
    assert grow(a, 2) is a


def test_an_unwritten_column_reads_as_zeros_and_stays_unwritten_until_written() -> None:
    column = unwritten(np.float32, 4, 3)
    assert column.shape == (4, 3) and column.dtype == np.float32 and not column.any()
    for moved in (grow(column, 10), take_rows(column, np.array([3, 1]), 8)):
        assert is_unwritten(moved) and moved.shape[1:] == (3,) and not moved.any()
    own = written(column)
    own[1, 2] = 5.0
    assert own.flags.writeable and not column.any() and not unwritten(np.float32, 4, 3).any()
    assert written(own) is own and not is_unwritten(np.zeros((2, 3)))
