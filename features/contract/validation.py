"""Contract v1, field by field: an ``Event``, or a ``DeadLetter`` that says what is wrong.

Every rejection names the field, what was found and what the contract wants, so the
producer's owner can fix it from the dead letter alone. Unknown extra fields are ignored (the
contract is forward compatible). This is the readable reference:
``features.contract.decoding`` takes
a fast path for messages that are plainly valid and hands every other message to
``validate_event``, which makes every error message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

import orjson

from features.contract.duplicates import duplicate_key
from features.contract.events import (
    ENGAGEMENT_TYPES,
    EVENT_TYPES,
    AttrValue,
    DeadLetter,
    Event,
    Origin,
    ShowcaseItem,
)
from features.contract.limits import MAX_ATTR, MAX_MONEY, MAX_QTY, MAX_TS, MAX_WATCH_MS

MAX_ID_LEN: Final = 128
MAX_SHOWCASE_ITEMS: Final = 500
DEFAULT_MAX_BYTES: Final = 256 * 1024
_TYPE_LIST: Final = ", ".join(sorted(EVENT_TYPES))


class _Invalid(Exception):
    """Internal: carries the reason label and a human-readable message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _id(obj: dict[str, Any], name: str, where: str = "") -> str:
    if name not in obj:
        raise _Invalid("invalid", f"missing required field '{where}{name}'")
    value = obj[name]
    if not isinstance(value, str):
        raise _Invalid(
            "invalid", f"field '{where}{name}' must be a string id, got {_preview(value)}"
        )
    if not value or len(value) > MAX_ID_LEN:
        raise _Invalid(
            "invalid",
            f"field '{where}{name}' must be a non-empty id of at most {MAX_ID_LEN} characters"
            f" (got {len(value)})",
        )
    return value


def _int(obj: dict[str, Any], name: str, minimum: int, maximum: int) -> int:
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid("invalid", f"field '{name}' must be an integer, got {_preview(value)}")
    if value < minimum:
        raise _Invalid("invalid", f"field '{name}' must be >= {minimum}, got {value}")
    if value > maximum:
        raise _Invalid(
            "invalid", f"field '{name}' must be <= {maximum} (contract range), got {value}"
        )
    return value


def _number(obj: dict[str, Any], name: str, where: str = "") -> float:
    if name not in obj:
        raise _Invalid("invalid", f"missing required field '{where}{name}'")
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid("invalid", f"field '{where}{name}' must be a number, got {_preview(value)}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise _Invalid("invalid", f"field '{where}{name}' must be a number >= 0, got {value}")
    if number > MAX_MONEY:
        raise _Invalid(
            "invalid",
            f"field '{where}{name}' must be <= {MAX_MONEY:g} (contract range), got {value}",
        )
    return number


def _attrs(obj: dict[str, Any], where: str = "") -> dict[str, AttrValue]:
    value = obj.get("attrs")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid("invalid", f"field '{where}attrs' must be an object, got {_preview(value)}")
    for key, attr in value.items():
        if isinstance(attr, bool) or not isinstance(attr, str | int | float):
            raise _Invalid(
                "invalid",
                f"field '{where}attrs.{key}' must be a string or a number, got {_preview(attr)}",
            )
        if isinstance(attr, float) and not math.isfinite(attr):
            raise _Invalid("invalid", f"field '{where}attrs.{key}' must be a finite number")
        if not isinstance(attr, str) and not -MAX_ATTR <= attr <= MAX_ATTR:
            raise _Invalid(
                "invalid",
                f"field '{where}attrs.{key}' must be within ±{MAX_ATTR:g} (contract range),"
                f" got {_preview(attr)}",
            )
    return value


def _items(obj: dict[str, Any]) -> tuple[ShowcaseItem, ...]:
    if "items" not in obj:
        raise _Invalid("invalid", "missing required field 'items'")
    raw_items = obj["items"]
    if not isinstance(raw_items, list):
        raise _Invalid("invalid", f"field 'items' must be a list, got {_preview(raw_items)}")
    if len(raw_items) > MAX_SHOWCASE_ITEMS:
        raise _Invalid(
            "invalid",
            f"field 'items' has {len(raw_items)} entries; the contract allows at most"
            f" {MAX_SHOWCASE_ITEMS}",
        )
    items: list[ShowcaseItem] = []
    seen: set[str] = set()
    for n, raw in enumerate(raw_items):
        where = f"items[{n}]."
        if not isinstance(raw, dict):
            raise _Invalid("invalid", f"'items[{n}]' must be an object, got {_preview(raw)}")
        item_id = _id(raw, "item_id", where)
        if item_id in seen:
            raise _Invalid("invalid", f"item_id '{item_id}' appears twice in 'items'")
        seen.add(item_id)
        category = raw.get("category")
        if not isinstance(category, str):
            raise _Invalid(
                "invalid", f"field '{where}category' must be a string, got {_preview(category)}"
            )
        title = raw.get("title")
        if title is not None and not isinstance(title, str):
            raise _Invalid(
                "invalid", f"field '{where}title' must be a string, got {_preview(title)}"
            )
        _attrs(raw, where)
        items.append(ShowcaseItem(item_id, _number(raw, "price", where), category, title))
    return tuple(items)


def _require(obj: dict[str, Any], etype: str, *names: str) -> None:
    for name in names:
        if name not in obj:
            raise _Invalid("invalid", f"missing required field '{name}' for type '{etype}'")


def _user(event: Event, obj: dict[str, Any]) -> None:
    _require(obj, event.type, "user_id")
    event.user_id = _id(obj, "user_id")


def _user_item(event: Event, obj: dict[str, Any]) -> None:
    _require(obj, event.type, "user_id", "item_id")
    event.user_id = _id(obj, "user_id")
    event.item_id = _id(obj, "item_id")


def _enter(event: Event, obj: dict[str, Any]) -> None:
    _user(event, obj)
    event.attrs = _attrs(obj)


def _heartbeat(event: Event, obj: dict[str, Any]) -> None:
    _require(obj, "heartbeat", "user_id", "watch_ms")
    event.user_id = _id(obj, "user_id")
    event.watch_ms = _int(obj, "watch_ms", 0, MAX_WATCH_MS)


def _engagement(event: Event, obj: dict[str, Any]) -> None:
    _user(event, obj)
    if obj.get("item_id") is not None:
        event.item_id = _id(obj, "item_id")


def _purchase(event: Event, obj: dict[str, Any]) -> None:
    _require(obj, "purchase", "amount")
    _user_item(event, obj)
    event.amount = _number(obj, "amount")
    if obj.get("qty") is not None:
        event.qty = _int(obj, "qty", 1, MAX_QTY)


def _push_open(event: Event, obj: dict[str, Any]) -> None:
    _require(obj, "push_open", "rec_id")
    _user_item(event, obj)
    event.rec_id = _id(obj, "rec_id")


def _showcase(event: Event, obj: dict[str, Any]) -> None:
    _require(obj, "showcase", "items", "spotlight")
    event.items = _items(obj)
    spotlight = obj["spotlight"]
    if spotlight is not None:
        spotlight = _id(obj, "spotlight")
        if all(item.item_id != spotlight for item in event.items):
            raise _Invalid(
                "invalid",
                f"spotlight '{spotlight}' is not one of the showcase's items; send an item_id"
                " from 'items' or null",
            )
    event.spotlight = spotlight


def _nothing(event: Event, obj: dict[str, Any]) -> None:
    return None


_FIELDS: Final[dict[str, Callable[[Event, dict[str, Any]], None]]] = {
    "enter": _enter,
    "leave": _user,
    "heartbeat": _heartbeat,
    **{etype: _engagement for etype in ENGAGEMENT_TYPES},
    "item_click": _user_item,
    "add_to_cart": _user_item,
    "purchase": _purchase,
    "push_open": _push_open,
    "showcase": _showcase,
    "room_close": _nothing,
}
assert set(_FIELDS) == EVENT_TYPES


NOT_PARSED: Final = object()


def validate_event(
    raw: bytes, origin: Origin, max_bytes: int = DEFAULT_MAX_BYTES, parsed: Any = NOT_PARSED
) -> Event | DeadLetter:
    """Validate one message against the contract, field by field (the readable twin).

    ``features.contract.decoding.decode_event`` returns exactly what this returns, and falls back
    to it
    for every message its fast path does not accept, passing ``parsed`` (what
    ``orjson.loads(raw)`` gave, for a message within ``max_bytes``) so as not to parse twice.

    >>> validate_event(b'{"type":"leave"}', Origin("f", 0, 2)).error
    "missing required field 'event_id'"
    """
    try:
        return _decode(raw, origin, max_bytes, parsed)
    except _Invalid as bad:
        return DeadLetter(origin, bad.reason, bad.message, raw)
    except Exception as bug:  # a decoder bug must still not stop the stream
        return DeadLetter(origin, "invalid", f"could not be decoded: {type(bug).__name__}", raw)


def _not_json(raw: bytes, err: Exception) -> str:
    """Say what is wrong in the producer's terms: bad UTF-8 at a byte, a BOM, or bad JSON."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "not valid UTF-8 JSON: it starts with a byte order mark (BOM); remove it"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not valid UTF-8 JSON: invalid UTF-8 at byte {bad.start} ({bad.reason})"
    return f"not valid UTF-8 JSON: {err}"


def _decode(raw: bytes, origin: Origin, max_bytes: int, parsed: Any) -> Event:
    if len(raw) > max_bytes:
        raise _Invalid(
            "too_large",
            f"message is {len(raw)} bytes; the job accepts at most {max_bytes} bytes"
            " (--max-message-bytes)",
        )
    if parsed is not NOT_PARSED:
        obj = parsed
    else:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise _Invalid("not_json", _not_json(raw, err)) from None
    if not isinstance(obj, dict):
        raise _Invalid("invalid", f"message must be a JSON object, got {type(obj).__name__}")
    duplicate = duplicate_key(raw, obj)
    if duplicate is not None:
        raise _Invalid(
            "invalid",
            f"key {_preview(duplicate)} appears twice in one object; JSON parsers disagree on"
            " which one counts, so the contract needs every key once",
        )
    event_id = _id(obj, "event_id")
    if "type" not in obj:
        raise _Invalid("invalid", "missing required field 'type'")
    etype = obj["type"]
    if not isinstance(etype, str):
        raise _Invalid("unknown_type", f"field 'type' must be a string, got {_preview(etype)}")
    if etype not in EVENT_TYPES:
        raise _Invalid(
            "unknown_type",
            f"unknown type {_preview(etype)}; contract v1 types are: {_TYPE_LIST}",
        )
    if "ts" not in obj:
        raise _Invalid("invalid", "missing required field 'ts'")
    ts = _int(obj, "ts", 0, MAX_TS)
    event = Event(event_id, etype, ts, _id(obj, "room_id"), origin, raw)
    _FIELDS[etype](event, obj)
    return event
