"""One non-finite number must not poison a room's learners for good (issue 14, item 1: the
learners' line of defence behind the decoder's range checks), with either learner."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from features.contract.decoding import decode_event
from features.contract.events import Event, Origin
from features.contract.messages import PushBatch
from models.learners.choice import LEARNERS
from models.room import Room, RoomStats
from tests.models.golden_room import PARAMS, ROOM, S1, msg


@pytest.mark.parametrize("learner", LEARNERS)
def test_a_huge_price_leaves_the_room_learners_finite(learner: str) -> None:
    """A price of 1e39 (past float32: it would be inf) on a showcase item is held at the
    contract's MAX_MONEY: every feature, weight and score stays finite, choices of that
    item included."""
    room = Room(ROOM, dataclasses.replace(PARAMS, learner=learner))
    stream = [
        msg("a", "enter", 0, user_id="u-1"),
        msg("b", "enter", 10, user_id="u-2"),
        msg("c", "showcase", 1_000, items=S1, spotlight="sku-2"),
        msg("d", "purchase", 2_000, user_id="u-1", item_id="sku-1", amount=1.0, qty=1),
        msg("e", "item_click", 3_000, user_id="u-1", item_id="sku-2"),
        msg("f", "add_to_cart", 4_000, user_id="u-1", item_id="sku-3"),
        msg("g", "item_click", 5_000, user_id="u-2", item_id="sku-4"),
        msg("h", "showcase", 60_000, items=S1, spotlight="sku-3"),
        msg("z", "room_close", 70_000),
    ]
    events = [decode_event(json.dumps(m).encode(), Origin("t", 0, n)) for n, m in enumerate(stream)]
    assert all(isinstance(e, Event) for e in events)
    # The decoder refuses 1e39 (contract range); the room is the second line of defence, so
    # the huge price is put on the decoded event directly.
    showcase = events[2]
    assert isinstance(showcase, Event) and showcase.items[0].item_id == "sku-1"
    showcase.items = (dataclasses.replace(showcase.items[0], price=1e39), *showcase.items[1:])
    out = room.accept([e for e in events[:-1] if isinstance(e, Event)])
    assert np.isfinite(room.model.weights).all() and room.model.learned == 4
    assert np.isfinite(room.mf.users).all() and np.isfinite(room.mf.items).all()
    assert sum(o.refused for o in out if isinstance(o, RoomStats)) == 0
    pushes = [o for o in out if isinstance(o, PushBatch)]
    assert pushes and all(np.isfinite(p.score).all() for p in pushes)
