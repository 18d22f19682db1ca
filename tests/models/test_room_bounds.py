"""A room's memory and held events stay bounded."""

from __future__ import annotations

from typing import Any

from features.contract.events import DeadLetter
from models.params import RoomParams
from models.room import Room, RoomStats
from tests.models.golden_room import (
    ROOM,
    decode_all,
    msg,
)

# -- bounded state -----------------------------------------------------------------------------


def test_state_stays_bounded_as_viewers_come_and_go() -> None:
    params = RoomParams(
        dim=8,
        lateness_ms=1_000,
        forget_after_ms=120_000,
        sweep_every_ms=10_000,
        dedup_max_ids=1_000,
    )
    messages: list[dict[str, Any]] = []
    for n in range(2_000):
        t = n * 1_000
        if n % 20 == 0:
            items = [
                {"item_id": f"sku-{n}-{j}", "price": 10.0 + j, "category": f"c{j % 3}"}
                for j in range(4)
            ]
            messages.append(msg(f"e-s-{n}", "showcase", t, items=items, spotlight=None))
        messages.append(msg(f"e-in-{n}", "enter", t + 1, user_id=f"u-{n}"))
        messages.append(
            msg(
                f"e-click-{n}",
                "item_click",
                t + 2,
                user_id=f"u-{n}",
                item_id=f"sku-{n - n % 20}-{n % 4}",
            )
        )
        messages.append(msg(f"e-out-{n}", "leave", t + 500, user_id=f"u-{n}"))
    events = decode_all(messages)
    room = Room(ROOM, params)
    peak_capacity = 0
    for n in range(0, len(events), 50):
        room.accept(events[n : n + 50])
        peak_capacity = max(peak_capacity, room.viewers.rows.capacity)
    room.flush()
    # viewers heard from within forget_after (+ one sweep period) of the end: ~130, not 2 000
    assert len(room.viewers) <= 135
    assert peak_capacity <= 512
    assert len(room.items) <= 4 * (130 // 20 + 2)
    assert len(room.inbox.dedup) <= 1_000
    assert len(room.mf.users) <= 512 and len(room.pushed_at) <= 512


def test_a_stuck_producer_clock_is_held_only_up_to_the_bound_and_nothing_is_lost() -> None:
    """Every event at one ts: the watermark never moves, so without a bound the room would
    hold them all. Each is applied exactly once, none is a dead letter."""
    params = RoomParams(dim=4, max_held_events=100)
    room = Room(ROOM, params)
    events = decode_all(
        msg(f"e-{n}", "heartbeat", 1_000, user_id=f"u-{n % 7}", watch_ms=1) for n in range(2_000)
    )
    applied = 0
    for start in range(0, len(events), 64):
        out = room.accept(events[start : start + 64])
        assert not any(isinstance(o, DeadLetter) for o in out)
        applied += sum(sum(o.events.values()) for o in out if isinstance(o, RoomStats))
        assert len(room.inbox.buffer) <= 100
    applied += sum(sum(o.events.values()) for o in room.flush() if isinstance(o, RoomStats))
    assert applied == 2_000
