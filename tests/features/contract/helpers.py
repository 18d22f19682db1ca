"""Contract v1 messages, one valid per type, and the checks the ``decode_event`` tests share."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson

from features.contract.events import ENGAGEMENT_TYPES, EVENT_TYPES, DeadLetter, Origin
from features.contract.messages import dead_letter_dict, encode_dead_letter

ORIGIN = Origin("live.room-events", 3, 41)
TS = 1764331200000
COMMON = {"ts": TS, "room_id": "r-7"}


def _msg(event_id: str, etype: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": etype, **COMMON, **fields}


# One valid message per contract type (engagement types get an item-less and an item variant).
VALID: dict[str, dict[str, Any]] = {
    "enter": _msg("e-1", "enter", user_id="u-42", attrs={"spend_tier": 3, "city": "Lyon"}),
    "leave": _msg("e-2", "leave", user_id="u-42"),
    "heartbeat": _msg("e-3", "heartbeat", user_id="u-42", watch_ms=30000),
    **{t: _msg(f"e-{t}", t, user_id="u-42") for t in sorted(ENGAGEMENT_TYPES)},
    "item_click": _msg("e-4", "item_click", user_id="u-42", item_id="sku-2"),
    "add_to_cart": _msg("e-5", "add_to_cart", user_id="u-42", item_id="sku-2"),
    "purchase": _msg("e-6", "purchase", user_id="u-42", item_id="sku-2", amount=89.0),
    "push_open": _msg("e-7", "push_open", user_id="u-42", item_id="sku-2", rec_id="rec-1"),
    "showcase": _msg(
        "e-8",
        "showcase",
        spotlight="sku-2",
        items=[
            {"item_id": "sku-1", "price": 19.9, "category": "beauty"},
            {
                "item_id": "sku-2",
                "price": 89,
                "category": "beauty",
                "title": "Serum 30ml",
                "attrs": {"size_ml": 30, "brand": "x"},
            },
        ],
    ),
    "room_close": _msg("e-9", "room_close"),
}
assert set(VALID) == EVENT_TYPES


COMMON_FIELDS = ("event_id", "type", "ts", "room_id")


def encode(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def check_encoded_dead_letter(letter: DeadLetter) -> None:
    key, value = encode_dead_letter(letter)
    message = orjson.loads(value)
    assert set(message) == {"topic", "partition", "offset", "error", "raw"}
    assert message == dead_letter_dict(letter)
    assert message["topic"] == letter.origin.topic
    assert message["partition"] == letter.origin.partition
    assert message["offset"] == letter.origin.offset
    assert isinstance(message["error"], str) and message["error"]
    assert key == f"{letter.origin.topic}:{letter.origin.partition}:{letter.origin.offset}".encode()
    text = message["raw"]
    assert isinstance(text, str)
    try:
        expected = letter.raw.decode("utf-8")
    except UnicodeDecodeError:
        assert base64.b64decode(text, validate=True) == letter.raw
    else:
        assert text == expected
        assert text.encode("utf-8") == letter.raw
