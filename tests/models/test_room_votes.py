"""A room bounds one viewer's pull on what everyone shares: the statistics and the learner
(``features.state.votes``), and the experiment's conversions."""

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


def test_a_push_converts_once_per_action_however_often_its_viewer_buys() -> None:
    from dataclasses import replace

    from features.contract.messages import PushBatch
    from models.arms import Arms
    from models.room_outputs import RoomStats

    params = replace(RoomParams(), arms=Arms.parse("a=0.5,b=0.5"), allocation="thompson")
    room = Room("r", params)
    out = room.accept([event(0, type="showcase", ts=T0, spotlight=None, items=_ITEMS),
                       event(1, type="enter", ts=T0 + 10, user_id="buyer"),
                       event(2, type="heartbeat", ts=T0 + 3_000, user_id="buyer",
                             watch_ms=1000)])
    pushed = next(b for b in out if isinstance(b, PushBatch))
    item = pushed.item_ids[int(pushed.top[0, 0])]
    arm = params.arms.names.index(pushed.arms[0])
    repeats = [event(10 + n, type=kind, ts=T0 + 5_000 + 100 * n, user_id="buyer",
                     item_id=item, **({"amount": 5.0} if kind == "purchase" else {}))
               for n, kind in enumerate(["item_click", "purchase"] * 10)]
    out += room.accept(repeats) + room.flush()
    conversions = [c for s in out if isinstance(s, RoomStats) for c in s.conversions]
    assert sorted(conversions) == [(pushed.arms[0], "click"), (pushed.arms[0], "purchase")]
    assert room.allocator is not None and room.allocator.wins[arm] == 1
    # a new push (the showcase changes) can convert again
    out = room.accept([event(40, type="showcase", ts=T0 + 60_000, spotlight=None,
                             items=_ITEMS[::-1]),
                       event(41, type="heartbeat", ts=T0 + 63_000, user_id="buyer",
                             watch_ms=1000)])
    again = next(b for b in out if isinstance(b, PushBatch))
    fresh = again.item_ids[int(again.top[0, 0])]
    out = room.accept([event(42, type="purchase", ts=T0 + 65_000, user_id="buyer",
                             item_id=fresh, amount=5.0)]) + room.flush()
    assert [c for s in out if isinstance(s, RoomStats) for c in s.conversions] == [
        (again.arms[0], "purchase")]
    assert room.allocator.wins[arm] == 2


def test_standing_comes_from_the_showcase_in_force_not_from_the_senders_clock() -> None:
    """Red team 12: fresh accounts stamping their choices before the showcase began counted as
    established, and judged the room's learner (honest HR@3 0.294 → 0.236 under the lab's
    poisoning). Standing is the time of the showcase in force at a viewer's first choice
    among the items on show."""
    from features.state.choices import seconds
    from features.state.votes import chose_before

    first = [{"item_id": f"old-{n}", "price": 9.0, "category": "bags"} for n in range(3)]
    room = Room("r", RoomParams(lateness_ms=2_000))
    s2 = T0 + 60_000
    room.accept([event(0, type="showcase", ts=T0, spotlight=None, items=first),
                 event(1, type="item_click", ts=T0 + 1_000, user_id="fan", item_id="old-1"),
                 event(2, type="showcase", ts=s2, spotlight=None, items=_ITEMS),
                 # stamped 500 ms before the showcase, arriving after it (within the lateness):
                 # put before it, under the first showcase, whose items it did not choose
                 event(3, type="item_click", ts=s2 - 500, user_id="quick", item_id="sku-1"),
                 *(event(10 + n, type="heartbeat", ts=s2 + 3_000, user_id=f"v{n}", watch_ms=1)
                   for n in range(4)),  # the room's time: a few seconds past the showcase
                 event(4, type="heartbeat", ts=s2 + 10_000, user_id="fan", watch_ms=1),
                 # stamped 5 s before it, arriving later still: applied late, no standing
                 event(5, type="item_click", ts=s2 - 5_000, user_id="late", item_id="sku-2"),
                 event(6, type="item_click", ts=s2 + 12_000, user_id="late", item_id="sku-3"),
                 event(7, type="heartbeat", ts=s2 + 20_000, user_id="fan", watch_ms=1)])
    rows = {user: room.viewers.rows.get(user) for user in ("fan", "quick", "late")}
    assert chose_before(room.viewers, rows["fan"], s2 - 2_000)
    assert not chose_before(room.viewers, rows["quick"], s2 - 2_000)
    assert not chose_before(room.viewers, rows["late"], s2 - 2_000)
    assert room.viewers.standing[rows["quick"]] == 0
    # the on-time choice under the showcase: established for the next showcase
    assert room.viewers.standing[rows["late"]] == seconds(s2 + 12_000)
