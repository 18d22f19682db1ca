"""The propensity features of one pair (learning path) equal the matrices the ranking uses."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contract.decoding import decode_event
from features.contract.events import Event, Origin
from models.params import RoomParams
from models.propensity import pair_features
from models.push import learning_example
from models.room import Room

T0 = 1_764_331_200_000


def _room() -> Room:
    items = [
        {"item_id": f"sku-{n}", "price": 3.0 + 17 * n, "category": f"c{n % 3}"} for n in range(5)
    ]
    lines = [
        {"type": "showcase", "ts": T0, "spotlight": "sku-2", "items": items},
        *(
            {
                "type": "enter",
                "ts": T0 + 10 + n,
                "user_id": f"u-{n}",
                "attrs": {"spend_tier": n % 5, "age_band": f"b{n % 2}"},
            }
            for n in range(6)
        ),
        *(
            {
                "type": "item_click",
                "ts": T0 + 100 + n,
                "user_id": f"u-{n % 6}",
                "item_id": f"sku-{n % 5}",
            }
            for n in range(15)
        ),
        *(
            {
                "type": "purchase",
                "ts": T0 + 200 + n,
                "user_id": f"u-{n}",
                "item_id": f"sku-{n}",
                "amount": 3.0 + 17 * n,
            }
            for n in range(3)
        ),
        {"type": "heartbeat", "ts": T0 + 60_000, "user_id": "u-0", "watch_ms": 30_000},
    ]
    events = []
    for n, line in enumerate(lines):
        event = decode_event(
            orjson.dumps({"event_id": f"e{n}", "room_id": "r", **line}), Origin("t", 0, n + 1)
        )
        assert isinstance(event, Event)
        events.append(event)
    room = Room("r", RoomParams())
    room.accept(events)
    return room


def test_single_pair_features_equal_the_ranking_matrices() -> None:
    room = _room()
    ctx = room._context(room.clock)
    showcase = ctx.showcase
    assert showcase is not None
    rows = room.viewers.present_rows(room.clock)
    assert rows.size == 6
    viewer_x = room.viewers.features(rows)
    item_x = room.items.features(showcase, ctx.window)
    log_budget, known = room.viewers.log_budget(rows)
    pairs = pair_features(
        viewer_x,
        log_budget,
        known,
        room.viewers.category_share(rows),
        item_x,
        room.items.category[showcase.rows],
    )
    for v, row in enumerate(rows.tolist()):
        for j, item in enumerate(showcase.rows.tolist()):
            expected = [*viewer_x[v].tolist(), *item_x[j].tolist(), *pairs[:, v, j].tolist()]
            assert learning_example(ctx, row, item) == pytest.approx(expected, rel=1e-5, abs=1e-5)
    assert pairs[0].any() and item_x[:, 1].sum() == 1.0  # budgets known, one spotlight


def _compare_one_with_block(room: Room, event: Event) -> int:
    """Every present viewer's one-viewer push against the block path's row for them."""
    from models.push import build_push, build_push_one

    ctx = room._context(event.ts)
    rows = room.viewers.present_rows(event.ts)
    block = build_push(ctx, rows, room.arm[rows], event, room.room_id)
    for v, row in enumerate(rows.tolist()):
        one = build_push_one(ctx, row, int(room.arm[row]), event, room.room_id)
        assert (one.user_ids, one.arms) == ([block.user_ids[v]], [block.arms[v]])
        assert (one.room_id, one.trigger, one.trigger_id, one.ts, one.item_ids) == (
            block.room_id, block.trigger, block.trigger_id, block.ts, block.item_ids)
        assert one.top.shape == (1, block.top.shape[1])
        for name in ("score", "attention", "propensity"):
            np.testing.assert_allclose(getattr(one, name)[0], getattr(block, name)[v],
                                       rtol=1e-4, atol=1e-6, err_msg=name)
        if one.top[0].tolist() != block.top[v].tolist():  # only between near-equal scores
            np.testing.assert_allclose(one.score[0], block.score[v], rtol=1e-4, atol=1e-6)
        else:
            assert one.why[0] == block.why[v]
    return len(rows)


def test_one_viewer_push_equals_the_block_path_in_a_replayed_room() -> None:
    room = _room()
    showcase = decode_event(
        orjson.dumps({"event_id": "s2", "type": "showcase", "ts": T0 + 61_000, "room_id": "r",
                      "spotlight": None,
                      "items": [{"item_id": f"sku-{n}", "price": 5.0 * n + 1, "category": "c1"}
                                for n in range(5)]}),
        Origin("t", 0, 99),
    )
    assert isinstance(showcase, Event)
    room.accept([showcase])
    room.flush()
    assert _compare_one_with_block(room, showcase) == 6


@pytest.mark.parametrize("seed", range(12))
def test_one_viewer_push_equals_the_block_path_on_random_rooms(seed: int) -> None:
    """Random viewer states (warm and cold vectors, tiers, spend, categories, control arm)
    and random learned propensity weights, as the ranking bench builds them."""
    from flows.bench.ranking import RankingRoom

    rng = np.random.default_rng(seed)
    bench = RankingRoom(40, 20, seed=seed)
    event = bench.show(int(rng.integers(1, 21)))
    assert _compare_one_with_block(bench.room, event) > 0


@given(
    n=st.integers(1, 8),
    data=st.data(),
)
@settings(max_examples=300, deadline=None)
def test_one_viewer_why_code_equals_why_codes(n: int, data: st.DataObject) -> None:
    from features.state.catalog import Showcase
    from models.push import why_code, why_codes
    from models.ranking import Ranked

    spotlight = data.draw(st.integers(-1, n - 1))
    showcase = Showcase("s", 0, [f"i{j}" for j in range(n)], np.arange(n), spotlight)
    heat = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.5]), min_size=n,
                                       max_size=n)))
    first = data.draw(st.integers(0, n - 1))
    # attention·n around the 1.5 threshold, exactly on it included
    attention = data.draw(st.sampled_from([0.0, 1.0, 1.4999, 1.5, 1.5001, 3.0])) / n
    warm, known = data.draw(st.booleans()), data.draw(st.sampled_from([0.0, 1.0]))
    att32 = np.float32(attention)
    ranked = Ranked(np.array([[first]]), np.zeros((1, 1), np.float32),
                    np.array([[att32]], np.float32), np.zeros((1, 1), np.float32))
    expected = why_codes(showcase, heat, ranked, np.array([warm]), np.array([known]))
    assert why_code(showcase, heat, first, float(att32), warm, known) == int(expected[0])
