"""The job's own conversions (``roomrank_push_conversions_total``, the adaptive allocator)
count only actions after the push, as the readout does."""

from __future__ import annotations

from dataclasses import replace

from features.contract.messages import PushBatch
from models.arms import Arms
from models.params import RoomParams
from models.room import Room
from models.room_outputs import RoomStats
from tests.models.choice_rooms import T0, event

_ITEMS = [{"item_id": f"sku-{n}", "price": 5.0 + n, "category": "bags"} for n in range(4)]


def _pushed_buyer() -> tuple[Room, PushBatch, str]:
    """A room with two arms under Thompson allocation that pushed "buyer" at their enter
    (T0 + 1 s); the pushed top item."""
    params = replace(RoomParams(), arms=Arms.parse("a=0.5,b=0.5"), allocation="thompson")
    room = Room("r", params)
    out = room.accept([event(0, type="showcase", ts=T0, spotlight=None, items=_ITEMS),
                       event(1, type="enter", ts=T0 + 1_000, user_id="buyer"),
                       event(2, type="heartbeat", ts=T0 + 3_000, user_id="buyer",
                             watch_ms=1000)])
    pushed = next(b for b in out if isinstance(b, PushBatch))
    return room, pushed, pushed.item_ids[int(pushed.top[0, 0])]


def test_a_purchase_from_before_the_push_arriving_late_converts_nothing() -> None:
    room, pushed, item = _pushed_buyer()
    arm = room.params.arms.names.index(pushed.arms[0])
    assert int(room.pushed_at[0]) == T0 + 1_000  # pushed at the enter
    # the room's time moves past the lateness, then a purchase from 0.5 s before the push
    # arrives: applied late (after the push), but it did not follow the push
    out = room.accept([event(3, type="heartbeat", ts=T0 + 20_000, user_id="other",
                             watch_ms=1000),
                       event(4, type="purchase", ts=T0 + 500, user_id="buyer",
                             item_id=item, amount=5.0)]) + room.flush()
    assert [c for s in out if isinstance(s, RoomStats) for c in s.conversions] == []
    assert room.allocator is not None and room.allocator.wins[arm] == 0
    # one after the push, within the window, still converts it
    out = room.accept([event(5, type="purchase", ts=T0 + 21_000, user_id="buyer",
                             item_id=item, amount=5.0)]) + room.flush()
    assert [c for s in out if isinstance(s, RoomStats) for c in s.conversions] == [
        (pushed.arms[0], "purchase")]
    assert room.allocator.wins[arm] == 1


def test_an_order_of_amount_0_converts_no_push() -> None:
    """As in the readout: a free order sold nothing, so it moves neither the metric nor the
    allocation (a few accounts posting them would otherwise steer the room's shares)."""
    room, pushed, item = _pushed_buyer()
    out = room.accept([event(3 + n, type="purchase", ts=T0 + 4_000 + n, user_id="buyer",
                             item_id=item, amount=0.0) for n in range(5)]) + room.flush()
    assert [c for s in out if isinstance(s, RoomStats) for c in s.conversions] == []
    assert room.allocator is not None and float(room.allocator.wins.sum()) == 0
    out = room.accept([event(9, type="purchase", ts=T0 + 5_000, user_id="buyer",
                             item_id=item, amount=0.5)]) + room.flush()
    assert [c for s in out if isinstance(s, RoomStats) for c in s.conversions] == [
        (pushed.arms[0], "purchase")]
