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
from tests.models.test_room import PARAMS, ROOM, S1, msg


@pytest.mark.parametrize("learner", LEARNERS)
def test_a_huge_amount_leaves_the_room_learners_finite(learner: str) -> None:
    """A purchase of 1e39 overflows the buyer's float32 spend to inf, so the buyer's later
    examples carry an infinite feature: the propensity learner refuses them (counted in
    the stats) and keeps ranking the other viewers with finite scores."""
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
    # The decoder refuses 1e39 (contract range); the learners are the second line of defence,
    # so the huge amount is put on the decoded event directly.
    events[3].amount = 1e39  # type: ignore[union-attr]
    out = room.accept([e for e in events if isinstance(e, Event)])
    coef, intercept = room.propensity.weights()
    assert np.isfinite(coef).all() and np.isfinite(intercept)
    assert np.isfinite(room.mf.users).all() and np.isfinite(room.mf.items).all()
    assert sum(o.refused for o in out if isinstance(o, RoomStats)) == 4  # click and cart: ±
    last = [o for o in out if isinstance(o, PushBatch)][-1]
    clean = last.user_ids.index("u-2")
    assert np.isfinite(last.score[clean]).all()
