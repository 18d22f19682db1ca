"""Issue 14 #19: the same pushes on every machine. Scores a few ulps apart (BLAS and ``exp``
kernels differ per CPU) tie after ``order_key``, and the lower showcase index wins."""

from __future__ import annotations

import numpy as np

from models.ranking import order_key

f32 = np.float32


def test_order_key_ties_scores_a_few_ulps_apart_and_keeps_nan() -> None:
    base = f32(0.3)
    near = np.array([base, np.nextafter(base, f32(1)), np.nan, 0.0, np.inf], f32)
    key = order_key(near.copy())
    assert key[0] == key[1]
    assert np.isnan(key[2]) and key[3] == 0.0 and key[4] == np.inf
    assert abs(float(key[0]) - float(base)) <= float(base) * 2.0**-16


def test_identical_items_rank_by_showcase_index() -> None:
    """Two items with the same price, category and history: equal scores up to rounding, so
    every viewer gets the one with the lower ``item_id`` first."""
    from flows.bench.ranking import RankingRoom

    bench = RankingRoom(200, 6, seed=1)
    room = bench.room
    trigger = bench.show(6)
    sc = room.showcase
    assert sc is not None
    a, b = int(sc.rows[4]), int(sc.rows[5])
    items = room.items
    for column in (items.price, items.category, items.chosen, items.exposed, items.shown_since,
                   items.seg_chosen, items.seg_exposed, room.mf.items, room.mf.item_updates):
        column[b] = column[a]
    room.window.total[b] = room.window.total[a]
    sc.place[5] = sc.place[4]  # and the same place in the host's list
    room.columns.columns = None  # built from the showcase before the change
    room.viewers.recent_item[room.viewers.recent_item == b + 1] = 0
    room.viewers.engaged_item[room.viewers.engaged_item == b + 1] = 0
    batch = bench.push(trigger)
    both = 0
    for top in batch.top.tolist():
        if 5 in top:
            assert 4 in top and top.index(4) < top.index(5)
            both += 1
    assert both > 0  # the pair did reach some viewers' top k
