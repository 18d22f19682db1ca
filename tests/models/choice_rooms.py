"""Rooms for the choice-model tests: one replayed from events, and random bench rooms."""

from __future__ import annotations

import orjson

from features.contract.decoding import decode_event
from features.contract.events import Event, Origin
from models.params import RoomParams
from models.room import Room

T0 = 1_764_331_200_000


def event(n: int, **fields: object) -> Event:
    decoded = decode_event(orjson.dumps({"event_id": f"e{n}", "room_id": "r", **fields}),
                           Origin("t", 0, n + 1))
    assert isinstance(decoded, Event), decoded
    return decoded


def _item_attrs(n: int) -> dict[str, object]:
    """Nine numbers (one past the room's slots), a string, one not known for one item."""
    attrs: dict[str, object] = {
        "rating": 3.5 + 0.3 * n, "reviews": 10**n, "discount_pct": (n * 15) % 40,
        "deal_ends_at": T0 + 60_000 * (n + 1), "stock": 50 - 7 * n, "ship_days": n % 3,
        "free_ship": n % 2, "sold": 5 * n * n, "ninth": n, "brand": f"b{n % 2}",
    }
    if n == 1:
        del attrs["rating"]
    return attrs


def replayed_room(params: RoomParams | None = None) -> Room:
    """Six viewers (tiers, segments) who clicked, carted, bought and liked in a room whose
    showcase changed once: every feature has evidence behind it."""
    items = [
        {"item_id": f"sku-{n}", "price": 3.0 + 17 * n, "category": f"c{n % 3}",
         "attrs": _item_attrs(n)} for n in range(5)
    ]
    lines: list[dict[str, object]] = [
        {"type": "showcase", "ts": T0, "spotlight": "sku-2", "items": items[:4]},
        *(
            {"type": "enter", "ts": T0 + 10 + n, "user_id": f"u-{n}",
             "attrs": {"spend_tier": n % 5, "age_band": f"b{n % 2}", "score": 0.5}}
            for n in range(6)
        ),
        *(
            {"type": "item_click", "ts": T0 + 100 + n, "user_id": f"u-{n % 6}",
             "item_id": f"sku-{n % 4}"}
            for n in range(15)
        ),
        {"type": "showcase", "ts": T0 + 30_000, "spotlight": "sku-4", "items": items},
        *(
            {"type": "add_to_cart", "ts": T0 + 31_000 + n, "user_id": f"u-{n}",
             "item_id": f"sku-{n + 1}"}
            for n in range(4)
        ),
        *(
            {"type": "purchase", "ts": T0 + 32_000 + n, "user_id": f"u-{n}",
             "item_id": f"sku-{n + 1}", "amount": 20.0 + 17 * n}
            for n in range(3)
        ),
        {"type": "like", "ts": T0 + 33_000, "user_id": "u-5"},
        {"type": "heartbeat", "ts": T0 + 60_000, "user_id": "u-0", "watch_ms": 30_000},
    ]
    room = Room("r", params or RoomParams())
    room.accept([event(n, **line) for n, line in enumerate(lines)])
    room.flush()
    return room
