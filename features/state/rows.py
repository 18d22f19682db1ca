"""Stable integer rows for string ids, with reuse of freed rows.

Per-room state is held column-wise in numpy arrays so that a showcase change ranks every
present viewer with array operations; this maps ids to those rows and back.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any, Protocol

import numpy as np

from features.contract.ids import unit_hash


class RowIndex:
    """id -> row, with a free list so that memory follows the live population.

    >>> rows = RowIndex()
    >>> rows.add("a"), rows.add("b"), rows.get("b")
    (0, 1, 1)
    >>> _ = rows.remove("a"); rows.add("c"), len(rows), rows.capacity >= 2
    (0, 2, True)
    """

    __slots__ = ("_free", "_rows", "ids")

    def __init__(self) -> None:
        self._rows: dict[str, int] = {}
        self._free: list[int] = []
        self.ids: np.ndarray = no_rows(object)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    @property
    def capacity(self) -> int:
        return len(self.ids)

    @property
    def high_water(self) -> int:
        """Rows ever handed out (live or free): rows at and beyond it are unused slack."""
        return len(self._rows) + len(self._free)

    def trimmed(self) -> RowIndex:
        """A shallow copy whose ``ids`` end at the high-water mark."""
        copy = RowIndex.__new__(RowIndex)
        copy._rows, copy._free = self._rows, self._free
        copy.ids = self.ids[: self.high_water]
        return copy

    def get(self, key: str) -> int | None:
        return self._rows.get(key)

    def add(self, key: str) -> int:
        """Row of a new id; callers grow their columns to ``capacity`` afterwards."""
        if self._free:
            row = self._free.pop()
        else:
            row = len(self._rows)
            if row >= len(self.ids):
                grown = np.empty(max(8, 2 * len(self.ids)), dtype=object)
                grown[: len(self.ids)] = self.ids
                self.ids = grown
        self._rows[key] = row
        self.ids[row] = key
        return row

    def remove(self, key: str) -> int:
        row = self._rows.pop(key)
        self.ids[row] = None
        self._free.append(row)
        return row

    def items(self) -> list[tuple[str, int]]:
        return list(self._rows.items())

    @property
    def sparse(self) -> bool:
        """Whether most allocated rows are free: many ids came and went (junk ids, churn)."""
        return self.capacity > 4 * max(len(self._rows), 16)

    def compact(self) -> np.ndarray:
        """Renumber the live ids ``0..n-1``, keeping their order, and shrink to fit; returns
        the old row of each new row, for the columns to follow (``take_rows``).

        >>> rows = RowIndex()
        >>> for key in "abcde": _ = rows.add(key)
        >>> for key in "abd": _ = rows.remove(key)
        >>> rows.compact().tolist(), rows.get("c"), rows.get("e"), rows.capacity
        ([2, 4], 0, 1, 8)
        """
        live = np.array(sorted(self._rows.values()), dtype=np.int64)
        ids = np.empty(max(8, len(live)), dtype=object)
        ids[: len(live)] = self.ids[live]
        self.ids = ids
        self._rows = {key: row for row, key in enumerate(ids[: len(live)].tolist())}
        self._free = []
        return live


def take_rows(array: np.ndarray, live: np.ndarray, capacity: int, axis: int = 0) -> np.ndarray:
    """``array``'s rows ``live`` (along ``axis``) as rows ``0..``, zero-padded to ``capacity``."""
    shape = list(array.shape)
    shape[axis] = capacity
    if is_unwritten(array):
        return unwritten(array.dtype, *shape)
    out = np.zeros(shape, dtype=array.dtype)
    index = [slice(None)] * array.ndim
    index[axis] = slice(0, len(live))
    out[tuple(index)] = np.take(array, live, axis=axis)
    return out


class RowColumns(Protocol):
    """An owner of per-row columns (a table, a learner's vectors, a window): it grows them,
    resets a reused row, snapshots them, and renumbers them when its room compacts."""

    def take_rows(self, live: np.ndarray, capacity: int) -> None:
        """Keep rows ``live`` as rows ``0..`` in order, in columns ``capacity`` long."""


def take_columns(owner: object, live: np.ndarray, capacity: int) -> None:
    """``take_rows`` for an owner whose every numpy attribute is a column by row."""
    for name, value in list(vars(owner).items()):
        if isinstance(value, np.ndarray):
            setattr(owner, name, take_rows(value, live, capacity))


@cache
def no_rows(dtype: Any, *tail: int) -> np.ndarray:
    """The column of a table that has no rows yet, one array shared by all such tables.

    A room's tables start with some thirty columns, and many rooms never fill some of them
    (a room of junk ids, a closed room shed back to empty tables): each array's header would
    cost every such room as much as a few rows. A zero-length array holds no element a write
    could change, so sharing it is safe; ``grow`` gives a table its own array at its first row.

    >>> no_rows(np.float32, 16) is no_rows(np.float32, 16), no_rows(np.int64).shape
    (True, (0,))
    """
    return np.zeros((0, *tail), dtype=dtype)


@lru_cache(maxsize=1024)
def unwritten(dtype: Any, *shape: int) -> np.ndarray:
    """Zeros of ``shape`` that hold no memory: a read-only view of a single zero, for a column
    most rooms never write (their item-by-segment counts, 128 B per item), shared by every
    table of that shape. ``grow`` and ``take_rows`` keep it unwritten; a writer takes
    ``written`` of it first.

    >>> column = unwritten(np.float32, 4, 16)
    >>> column.nbytes, column.base.nbytes, column.flags.writeable, float(column.sum())
    (256, 4, False, 0.0)
    >>> written(column).flags.writeable, grow(column, 8).shape, is_unwritten(grow(column, 8))
    (True, (8, 16), True)
    """
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


def is_unwritten(array: np.ndarray) -> bool:
    """Whether ``array`` is an ``unwritten`` column (every element the same, read-only zero)."""
    return not array.flags.writeable and not any(array.strides)


def written(array: np.ndarray) -> np.ndarray:
    """``array`` itself, or an ``unwritten`` one's zeros in memory of its own, to write into."""
    return np.zeros(array.shape, dtype=array.dtype) if is_unwritten(array) else array


def grow(array: np.ndarray, capacity: int) -> np.ndarray:
    """Return ``array`` with at least ``capacity`` rows, new rows zeroed."""
    if len(array) >= capacity:
        return array
    if is_unwritten(array):
        return unwritten(array.dtype, capacity, *array.shape[1:])
    bigger = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


def first_come_slot(names: list[str], name: str, slots: int) -> int | None:
    """``name``'s slot in a room's vocabulary ``names``, appended to while fewer than
    ``slots`` names are held; None for a name that came too late.

    >>> names: list[str] = []
    >>> [first_come_slot(names, n, 2) for n in ("a", "b", "a", "c")], names
    ([0, 1, 0, None], ['a', 'b'])
    """
    if name in names:
        return names.index(name)
    if len(names) < slots:
        names.append(name)
        return len(names) - 1
    return None


def vocabulary_slot(names: list[str], name: str, slots: int, salt: str) -> int:
    """``first_come_slot``, exact for the first ``slots`` names and shared by hash beyond, so
    a room's memory for them stays bounded whatever its producers send.

    >>> names: list[str] = []
    >>> [vocabulary_slot(names, n, 2, "x") for n in ("a", "b", "a")], names
    ([0, 1, 0], ['a', 'b'])
    >>> 0 <= vocabulary_slot(names, "c", 2, "x") < 2 and names == ["a", "b"]
    True
    """
    slot = first_come_slot(names, name, slots)
    return slot if slot is not None else int(unit_hash(salt, name) * slots)
