"""A viewer whose ``enter`` names an item of the room (an ad's, a coupon's) is pushed it as
if they had just clicked it; the room's shared statistics do not count it
(``features.state.referrals``)."""

from __future__ import annotations

from features.contract.messages import PushBatch
from models.params import RoomParams
from models.room import Room
from tests.models.choice_rooms import T0, event

_ITEMS = [{"item_id": f"sku-{n}", "price": 20.0, "category": "bags"} for n in range(8)]


def _enter_pushes(attrs_by_user: dict[str, dict[str, object]]) -> tuple[Room, dict[str, list[str]]]:
    room = Room("r", RoomParams())
    lines = [event(0, type="showcase", ts=T0, spotlight=None, items=_ITEMS)]
    lines += [event(n, type="enter", ts=T0 + 100 * n, user_id=user, attrs=attrs)
              for n, (user, attrs) in enumerate(attrs_by_user.items(), 1)]
    out = room.accept(lines) + room.flush()
    tops: dict[str, list[str]] = {}
    for batch in (b for b in out if isinstance(b, PushBatch)):
        for v, user in enumerate(batch.user_ids):
            tops[user] = [batch.item_ids[int(j)] for j in batch.top[v]]
    return room, tops


def test_an_item_the_enter_names_is_pushed_first_to_that_viewer_only() -> None:
    room, tops = _enter_pushes({
        "from-ad": {"source": "ad", "ad_item": "sku-6", "spend_tier": 2},
        "from-feed": {"source": "feed", "spend_tier": 2},
        "other-ad": {"source": "ad", "ad_item": "sku-9", "spend_tier": 2},  # not in the room
    })
    assert tops["from-ad"][0] == "sku-6"
    assert "sku-6" not in tops["from-feed"][:1]
    assert tops["other-ad"] == tops["from-feed"]  # an id the room does not hold names nothing
    # not a choice: nothing the room shares moved, and the viewer has no standing
    assert float(room.items.chosen.sum()) == 0.0 and float(room.items.exposed.sum()) == 0.0
    row = room.viewers.rows.get("from-ad")
    assert row is not None and int(room.viewers.standing[row]) == 0


def test_a_late_enter_names_nothing_new() -> None:
    room = Room("r", RoomParams())
    room.accept([event(0, type="showcase", ts=T0, spotlight=None, items=_ITEMS),
                 event(1, type="heartbeat", ts=T0 + 9_000, user_id="u", watch_ms=1000)])
    room.flush()  # applied: the enter below arrives after it, 8 s older
    room.accept([event(2, type="enter", ts=T0 + 1_000, user_id="u", attrs={"ad_item": "sku-6"})])
    room.flush()
    row = room.viewers.rows.get("u")
    assert row is not None and room.viewers.recent_item[row].tolist() == [0, 0, 0]
