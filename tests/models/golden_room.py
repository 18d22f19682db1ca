"""The golden room: a scripted stream through ``decode_event`` and ``Room.accept``, and
what the tests read from its outputs (shared by the room's test files).

Events are written as contract dicts, encoded and decoded exactly as the job reads them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from features.contract.decoding import decode_event
from features.contract.events import DeadLetter, Event, Origin
from features.contract.messages import PushBatch
from models.arms import Arms
from models.params import RoomParams
from models.room import Room, RoomStats

ROOM = "r-7"
T0 = 1_764_331_200_000
PARAMS = RoomParams(
    top_k=3,
    dim=8,
    lateness_ms=1_000,
    arms=Arms.parse("attention=0.5,control=0.5"),
    experiment="golden",
)

S1 = [
    {"item_id": "sku-1", "price": 19.9, "category": "beauty"},
    {"item_id": "sku-2", "price": 89.0, "category": "beauty", "title": "Serum 30ml"},
    {"item_id": "sku-3", "price": 35.0, "category": "fashion"},
    {"item_id": "sku-4", "price": 12.0, "category": "home"},
]
S2 = [
    {"item_id": "sku-6", "price": 240.0, "category": "home"},
    {"item_id": "sku-1", "price": 19.9, "category": "beauty"},
    {"item_id": "sku-5", "price": 55.0, "category": "home"},
    {"item_id": "sku-3", "price": 35.0, "category": "fashion"},
]
S3 = [
    {"item_id": "sku-7", "price": 15.0, "category": "beauty", "attrs": {"shade": "rose"}},
    {"item_id": "sku-5", "price": 55.0, "category": "home"},
]
SHOWCASE_ITEMS = {"e-s1": S1, "e-s2": S2, "e-s3": S3}


def msg(event_id: str, etype: str, t: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": etype, "ts": T0 + t, "room_id": ROOM, **fields}


# The golden stream, in arrival order (which here is event-time order).
GOLDEN: list[dict[str, Any]] = [
    msg("e-enter-1", "enter", 0, user_id="u-1", attrs={"spend_tier": 3, "city": "Lyon"}),
    msg("e-enter-2", "enter", 100, user_id="u-2"),
    msg("e-s1", "showcase", 1_000, items=S1, spotlight="sku-2"),
    msg("e-enter-3", "enter", 2_000, user_id="u-3"),
    msg("e-click-1", "item_click", 3_000, user_id="u-1", item_id="sku-3"),
    msg("e-cart-2", "add_to_cart", 3_200, user_id="u-2", item_id="sku-1"),
    msg("e-hb-3", "heartbeat", 3_500, user_id="u-3", watch_ms=1_500),
    msg("e-leave-2", "leave", 4_000, user_id="u-2"),
    msg("e-s2", "showcase", 5_000, items=S2, spotlight=None),
    msg("e-enter-4", "enter", 11_500, user_id="u-4"),
    msg("e-buy-3", "purchase", 12_000, user_id="u-3", item_id="sku-5", amount=55.0),
    msg("e-like-4", "like", 12_500, user_id="u-4"),
    msg("e-hb-3b", "heartbeat", 100_000, user_id="u-3", watch_ms=30_000),
    msg("e-s3", "showcase", 100_500, items=S3, spotlight="sku-7"),
    msg("e-close", "room_close", 101_000),
]

# After the close: the host's next showcase opens a new session (arrival order).
REOPENED: list[dict[str, Any]] = [
    msg("e-gap", "like", 101_500, user_id="u-3"),  # closed: refused
    msg("e-s4", "showcase", 102_000, items=S2, spotlight=None),  # opens the room again
    msg("e-enter-9", "enter", 101_900, user_id="u-9"),  # late, the new session's
    msg("e-hb-3c", "heartbeat", 102_100, user_id="u-3", watch_ms=0),
    msg("e-hb-2", "heartbeat", 102_200, user_id="u-2", watch_ms=0),  # left before the close
    msg("e-old", "like", 100_950, user_id="u-3"),  # from just before the close, late
    msg("e-s5", "showcase", 104_000, items=S3, spotlight=None),
]

# (trigger_id, trigger, viewers who must get exactly this push)
EXPECTED_PUSHES = [
    ("e-s1", "showcase", ["u-1", "u-2"]),
    ("e-enter-3", "enter", ["u-3"]),
    ("e-s2", "showcase", ["u-1", "u-3"]),  # u-2 left
    ("e-enter-4", "enter", ["u-4"]),
    ("e-s3", "showcase", ["u-3", "u-4"]),  # u-1 silent since 3 000: timed out at 100 500
]


def decode_all(messages: Iterable[dict[str, Any]]) -> list[Event]:
    events = []
    for line, obj in enumerate(messages, start=1):
        event = decode_event(json.dumps(obj).encode(), Origin("room-events.jsonl", 0, line))
        assert isinstance(event, Event), event
        events.append(event)
    return events


def run(
    messages: list[dict[str, Any]],
    params: RoomParams = PARAMS,
    batches: Callable[[list[Event]], Iterable[list[Event]]] | None = None,
) -> tuple[Room, list[Any]]:
    """Feed the messages in arrival order (one ``accept`` per event unless ``batches``)."""
    events = decode_all(messages)
    room = Room(ROOM, params)
    out: list[Any] = []
    for batch in (batches or (lambda es: ([e] for e in es)))(events):
        out.extend(room.accept(batch))
    out.extend(room.flush())
    return room, out


def batches_of(outputs: list[Any]) -> list[PushBatch]:
    return [o for o in outputs if isinstance(o, PushBatch)]


def letters_of(outputs: list[Any]) -> list[DeadLetter]:
    return [o for o in outputs if isinstance(o, DeadLetter)]


def stats_of(outputs: list[Any]) -> list[RoomStats]:
    return [o for o in outputs if isinstance(o, RoomStats)]


def summary(batch: PushBatch) -> tuple:
    """Everything a push batch says, exactly (floats included)."""
    return (
        batch.room_id,
        batch.trigger,
        batch.trigger_id,
        batch.ts,
        tuple(batch.user_ids),
        tuple(batch.arms),
        tuple(batch.item_ids),
        batch.top.tolist(),
        batch.score.tolist(),
        batch.attention.tolist(),
        batch.propensity.tolist(),
        batch.why.tolist(),
    )


def summaries(outputs: list[Any]) -> list[tuple]:
    return [summary(b) for b in batches_of(outputs)]


def by_trigger(outputs: list[Any]) -> dict[str, tuple]:
    return {b.trigger_id: summary(b) for b in batches_of(outputs)}


def with_inserted(at: int, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [*GOLDEN[:at], *extra, *GOLDEN[at:]]


def index_of(event_id: str) -> int:
    return next(n for n, m in enumerate(GOLDEN) if m["event_id"] == event_id)
