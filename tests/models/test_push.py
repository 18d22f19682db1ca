"""``build_push`` (blocks of viewers, fast logits) equals its readable twin and the
one-viewer path (``build_push_one``, for enters), viewer by viewer."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from flows.bench.ranking import RankingRoom
from models.arms import Arms
from models.params import RoomParams
from models.push import build_push, build_push_one, build_push_reference
from models.room import Room
from tests.models.choice_rooms import T0, event, replayed_room


def _compare(room: Room, trigger, temperature: float = 1.0) -> int:  # type: ignore[no-untyped-def]
    ctx = replace(room.context(trigger.ts), temperature=temperature)
    rows = room.viewers.present_rows(trigger.ts)
    block = build_push(ctx, rows, room.arm[rows], trigger, room.room_id)
    for (v, row), build in zip(enumerate(rows.tolist()),
                               itertools.cycle((build_push_reference, build_push_one))):
        one = build(ctx, row, int(room.arm[row]), trigger, room.room_id)
        assert (one.user_ids, one.arms) == ([block.user_ids[v]], [block.arms[v]])
        assert (one.room_id, one.trigger, one.trigger_id, one.ts, one.item_ids) == (
            block.room_id, block.trigger, block.trigger_id, block.ts, block.item_ids)
        for name in ("score", "attention", "propensity"):
            np.testing.assert_allclose(getattr(one, name)[0], getattr(block, name)[v],
                                       rtol=1e-3, atol=1e-6, err_msg=name)
        if one.top[0].tolist() != block.top[v].tolist():  # only between near-equal scores
            np.testing.assert_allclose(one.score[0], block.score[v], rtol=1e-3)
        else:
            assert one.why[0] == block.why[v]
    return len(rows)


def test_block_push_equals_the_twin_in_a_replayed_room() -> None:
    room = replayed_room(RoomParams(arms=Arms.parse("attention=0.5,control=0.5")))
    trigger = event(99, type="showcase", ts=T0 + 61_000, spotlight=None,
                    items=[{"item_id": f"sku-{n}", "price": 5.0 * n + 1, "category": "c1"}
                           for n in range(5)])
    room.accept([trigger])
    room.flush()
    assert {int(a) for a in room.arm[room.viewers.present_rows(trigger.ts)]} == {0, 1}
    assert _compare(room, trigger) == 6


@pytest.mark.parametrize("seed", range(10))
def test_block_push_equals_the_twin_on_random_rooms(seed: int) -> None:
    """Random viewer states and learned weights (``RankingRoom``), some control viewers, and
    an arm's temperature."""
    rng = np.random.default_rng(seed)
    bench = RankingRoom(40, 20, seed=seed)
    trigger = bench.show(int(rng.integers(1, 21)))
    assert _compare(bench.room, trigger, temperature=float(rng.choice([1.0, 0.5]))) == 40


@pytest.mark.parametrize("n_items", [255, 256, 300])
def test_block_push_equals_the_twin_either_side_of_the_packed_top_k(n_items: int) -> None:
    """Below 256 items the top k is packed into the keys (``top_k_of_keys``), from 256 on
    ``TopK`` ranks them: the same pushes as the twin either way."""
    bench = RankingRoom(30, n_items, seed=n_items)
    assert _compare(bench.room, bench.show(n_items)) == 30


def test_blocks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import models.push as push

    bench = RankingRoom(300, 30, seed=5)
    trigger = bench.show(30)
    whole = bench.push(trigger)
    monkeypatch.setattr(push, "BLOCK_ROWS", 64)
    split = bench.push(trigger)
    np.testing.assert_array_equal(whole.top, split.top)
    np.testing.assert_allclose(whole.score, split.score, rtol=1e-5)  # BLAS blocking: ulps
