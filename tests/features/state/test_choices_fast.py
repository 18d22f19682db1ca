"""``record_choice`` (with and without the showcase's ``Exposure`` kept by the caller) leaves
exactly the tables its readable twin ``record_choice_reference`` leaves, over random runs of
choices (counting as a whole, no or half a vote), showcase changes and viewers with and
without segments."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contract.events import ShowcaseItem
from features.state.catalog import ItemTable
from features.state.choices import (
    FUNNEL,
    SEGMENT_VOTES,
    RoomChoices,
    exposure,
    record_choice,
    record_choice_reference,
    remember,
    remember_reference,
)
from features.state.viewers import ViewerTable
from features.state.votes import cast_vote, vote_bit

_step = st.one_of(
    st.tuples(st.just("show"), st.sets(st.integers(0, 9), min_size=1, max_size=6),
              st.integers(-1, 5)),
    st.tuples(st.sampled_from(sorted(FUNNEL)), st.integers(0, 3), st.integers(0, 9),
              st.sampled_from([1.0, 0.0, 0.5])),  # the choice's vote (features.state.votes)
)


def _tables() -> tuple[ViewerTable, ItemTable, RoomChoices]:
    viewers, items = ViewerTable(90_000, 600_000), ItemTable()
    for n in range(4):
        attrs: dict[str, Any] = {"spend_tier": n} if n % 2 else {"city": f"c{n}", "age": n}
        viewers.enter(f"u{n}", 0, attrs)
    for n in range(10):
        items.ensure(f"i{n}")
    return viewers, items, RoomChoices()


def _state(viewers: ViewerTable, items: ItemTable, room: RoomChoices) -> list[np.ndarray]:
    return [*(getattr(viewers, n) for n in viewers._COLUMNS),
            *(v for v in vars(items).values() if isinstance(v, np.ndarray)),
            *vars(room).values()]


@given(steps=st.lists(_step, max_size=40), keep=st.booleans())
@settings(max_examples=150, deadline=None)
def test_record_choice_equals_its_twin(steps: list[Any], keep: bool) -> None:
    fast, slow = _tables(), _tables()
    showcases: list[Any] = [None, None]
    for ts, step in enumerate(steps, 1):
        if step[0] == "show":
            ids = sorted(step[1])
            spot = f"i{ids[step[2]]}" if 0 <= step[2] < len(ids) else None
            shown = tuple(ShowcaseItem(f"i{i}", 3.0 + 7 * i, f"c{i % 3}") for i in ids)
            showcases = [tables[1].show(f"s{ts}", ts * 1000, shown, spot)
                         for tables in (fast, slow)]
            continue
        action, row, item, vote = step
        sc = showcases[0]
        kept = exposure(fast[1], sc) if keep and sc is not None else None
        record_choice(*fast, row, item, sc, action, ts * 1000, kept, vote)
        record_choice_reference(*slow, row, item, showcases[1], action, ts * 1000, vote)
    for a, b in zip(_state(*fast), _state(*slow), strict=True):
        np.testing.assert_array_equal(a, b)


@given(keys=st.lists(st.integers(1, 6), max_size=12))
def test_remember_equals_its_twin(keys: list[int]) -> None:
    rows = [(np.zeros(3, np.int32), np.zeros(3, np.uint32), np.zeros(3, np.int8))
            for _ in range(2)]
    for ts, key in enumerate(keys):
        remember(*rows[0], key, ts, key % 3 + 1)
        remember_reference(*rows[1], key, ts, key % 3 + 1)
        for a, b in zip(*rows, strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_repeated_choice_counts_once_for_the_room_and_whole_for_the_viewer() -> None:
    viewers, items, room = _tables()
    shown = tuple(ShowcaseItem(f"i{i}", 5.0, f"c{i % 3}") for i in range(4))
    sc = items.show("s", 1000, shown, None)
    voted = viewers.voted
    bit = vote_bit("i1")
    for n in range(50):
        record_choice(viewers, items, room, 0, 1, sc, "item_click", 2000 + n,
                      vote=cast_vote(voted, 0, bit))
    assert float(viewers.cat_chosen[0, items.category[1]]) == 50.0
    assert viewers.price_w[0] == 50.0
    assert items.chosen[1] == 1.0 and room.cat_chosen.sum() == 1.0
    assert items.exposed.sum() == pytest.approx(1.0)
    assert room.tier_w.sum() == 1.0  # the viewer's tier-less pool only


def test_a_viewer_of_many_attrs_weighs_at_most_four_votes_over_their_segments() -> None:
    """Red team 8's "segment capture": sybils entering with 16 junk attrs sat in every
    segment slot, each vote counted whole in each, and reached every honest viewer's
    segment features (five did what ten plain ones do). A viewer's choice now weighs at
    most SEGMENT_VOTES votes in all, whole in each of up to four segments ("u0": two)."""
    viewers, items, room = _tables()
    junk = viewers.enter("sybil", 0, {f"x{n}": "1" for n in range(16)})
    shown = tuple(ShowcaseItem(f"i{i}", 5.0, f"c{i % 3}") for i in range(4))
    sc = items.show("s", 1000, shown, None)
    record_choice(viewers, items, room, junk, 1, sc, "item_click", 2000)
    slots = int(np.count_nonzero(viewers.segments[junk]))  # 16 values; some share a slot
    assert slots >= 12 and room.seg_chosen.max() == pytest.approx(SEGMENT_VOTES / slots)
    assert room.seg_chosen.sum() == pytest.approx(SEGMENT_VOTES)
    assert items.seg_chosen[1].sum() == pytest.approx(SEGMENT_VOTES)
    assert items.seg_exposed.sum() == pytest.approx(SEGMENT_VOTES)  # exposure alike
    record_choice(viewers, items, room, 0, 2, sc, "item_click", 2100)  # city, age: whole
    assert room.seg_chosen.sum() == pytest.approx(SEGMENT_VOTES + 2.0)
    assert items.seg_chosen[2].max() == 1.0
