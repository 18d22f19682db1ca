"""A room bounds one viewer's pull on what everyone shares (``features.state.votes``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from models.params import RoomParams
from models.room import Room
from tests.models.choice_rooms import T0, event

_ITEMS = [{"item_id": f"sku-{n}", "price": 5.0 + n, "category": "bags" if n < 2 else "shoes"}
          for n in range(4)]


def _room_with(clicks: list[tuple[str, str]]) -> tuple[Room, list[float]]:
    room = Room("r", RoomParams())
    weights: list[float] = []
    learn = room.model.learn_matrix

    def recording(x: np.ndarray, chosen: int, weight: float = 1.0) -> Any:
        weights.append(weight)
        return learn(x, chosen, weight)

    room.model.learn_matrix = recording  # type: ignore[method-assign]
    lines = [event(0, type="showcase", ts=T0, spotlight=None, items=_ITEMS)]
    lines += [event(n, type="item_click", ts=T0 + 1000 * n, user_id=user, item_id=item)
              for n, (user, item) in enumerate(clicks, 1)]
    room.accept(lines)
    room.flush()
    return room, weights


def test_a_viewer_repeating_a_choice_moves_the_room_once_and_the_learner_less_each_time(
) -> None:
    room, weights = _room_with([("bot", "sku-0")] * 30 + [("fan", "sku-1"), ("fan", "sku-3")])
    row0, row1 = room.items.rows.get("sku-0"), room.items.rows.get("sku-1")
    assert room.items.chosen[row0] == 1.0 and room.items.chosen[row1] == 1.0
    bot = room.viewers.rows.get("bot")
    assert float(room.viewers.cat_chosen[bot].sum()) == 30.0  # the bot's own taste: all of it
    assert weights[:4] == [1.0, 1 / 2, 1 / 3, 1 / 4]
    assert sum(weights[:30]) < 4.1  # 30 choices pull like four
    assert weights[30:] == [1.0, 1.0]  # the fan's first choice in each category: whole


def test_the_votes_survive_a_snapshot() -> None:
    room, _ = _room_with([("bot", "sku-0")])
    restored = Room.restore(room.snapshot(), RoomParams())
    np.testing.assert_array_equal(restored.viewers.voted, room.viewers.voted)
    restored.accept([event(99, type="item_click", ts=T0 + 99_000, user_id="bot",
                           item_id="sku-0")])
    assert restored.items.chosen[restored.items.rows.get("sku-0")] == 1.0
