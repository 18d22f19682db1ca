"""The per-showcase columns (``models.choice_columns``) change nothing: at every choice of a
random stream (showcase changes, forgetting, compaction in between), ``features_row`` with the
room's cache equals ``features_row`` built from scratch bit for bit, and its plain twin."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import given, settings

from models.choice_features import features_one, features_row
from models.room import Room
from models.room_outputs import RoomStats
from tests.models import room_streams


class _Checked(Room):
    checked = 0

    def _learn_choice(self, row: int, item: int, ts: int, stats: RoomStats,
                      purchase: bool) -> None:
        sc = self.showcase
        if sc is not None and len(sc) >= 2:
            self.apply_learning()
            scene = self.context(ts).scene()
            fast = features_row(scene, row)
            np.testing.assert_array_equal(fast, features_row(replace(scene, columns=None), row))
            np.testing.assert_allclose(fast, features_one(scene, row), rtol=1e-6, atol=1e-9)
            self.checked += 1
        super()._learn_choice(row, item, ts, stats, purchase)


@given(drawn=room_streams.steps)
@settings(max_examples=80, deadline=None)
def test_cached_columns_change_no_feature_at_any_choice(drawn: list[Any]) -> None:
    room = _Checked("r", room_streams.params)
    room.accept(room_streams.events(drawn))
    room.flush()


def test_the_streams_reach_choices_and_compaction() -> None:
    """The property above is not vacuous: a plain stream checks choices across a compaction."""
    from models import compaction

    many = [("showcase", set(range(100 + 10 * n, 110 + 10 * n)), 0) for n in range(8)]
    drawn: list[Any] = [("enter", 0, 1, "a"), ("item_click", 0, 1), *many,
                        ("showcase", {8, 9, 10}, 1), ("wait", 12_000), ("wait", 12_000),
                        # three viewers after the pause: time a majority of the room's
                        # sources reached moves on
                        ("enter", 1, 2, "b"), ("enter", 2, 0, "c"),
                        ("enter", 0, 1, "a"), ("item_click", 0, 9), ("wait", 3_000),
                        ("add_to_cart", 0, 10)]
    compacted = []
    original = compaction.compact_items

    def spy(room: Room) -> bool:
        done = original(room)
        compacted.append(done)
        return done

    compaction.compact_items = spy
    try:
        room = _Checked("r", room_streams.params)
        room.accept(room_streams.events(drawn))
        room.flush()
    finally:
        compaction.compact_items = original
    assert room.checked >= 2 and any(compacted)


class _FlushEveryTime(Room):
    """The room before its cold viewers' updates could wait: every choice and every
    one-viewer push applies the waiting vector updates first."""

    def vectors_for(self, row: int) -> None:
        self.apply_learning()


@given(drawn=room_streams.steps)
@settings(max_examples=80, deadline=None)
def test_waiting_updates_of_cold_viewers_change_nothing(drawn: list[Any]) -> None:
    """Letting a cold viewer's updates wait for a bigger batch is exact: the same outputs and
    the same snapshot (vectors, weights, every column) as flushing at every read."""
    rooms = [Room("r", room_streams.params), _FlushEveryTime("r", room_streams.params)]
    outputs = []
    for room in rooms:
        events = room_streams.events(drawn)
        half = len(events) // 2
        outputs.append([*room.accept(events[:half]), *room.accept(events[half:]), *room.flush()])
    assert repr(outputs[0]) == repr(outputs[1])
    assert rooms[0].snapshot() == rooms[1].snapshot()
