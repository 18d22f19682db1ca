"""The propensity features of one pair (learning path) equal the matrices the ranking uses."""

from __future__ import annotations

import orjson
import pytest

from features.decoding import decode_event
from features.events import Event, Origin
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
