"""Contract v1, field by field: an ``Event``, or a ``DeadLetter`` that says what is wrong.

Every rejection names the field, what was found and what the contract wants, so the
producer's owner can fix it from the dead letter alone. Unknown extra fields are ignored (the
contract is forward compatible). Which fields each type carries comes from the one table in
``features.contract.schema``; this module knows how each kind of field is checked and explained.
This is the readable reference: ``features.contract.decoding`` takes a fast path (compiled from
the same table) for messages that are plainly valid and hands every other message to
``validate_event``, which makes every error message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final, get_args

import orjson

from features.contract.duplicates import duplicate_key
from features.contract.events import (
    EVENT_TYPES,
    AttrValue,
    DeadLetter,
    Event,
    Origin,
    ShowcaseItem,
)
from features.contract.limits import MAX_ATTR, MAX_MONEY
from features.contract.schema import (
    COMMON_FIELDS,
    EVENT_FIELDS,
    MAX_ID_LEN,
    MAX_SHOWCASE_ITEMS,
    Field,
    Kind,
)

_TS: Final = COMMON_FIELDS[2]
assert _TS.name == "ts"
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


def _spotlight(obj: dict[str, Any], event: Event) -> str | None:
    spotlight = obj["spotlight"]
    if spotlight is not None:
        spotlight = _id(obj, "spotlight")
        if all(item.item_id != spotlight for item in event.items):
            raise _Invalid(
                "invalid",
                f"spotlight '{spotlight}' is not one of the showcase's items; send an item_id"
                " from 'items' or null",
            )
    return spotlight


# How each kind of ``schema`` is checked; ``spotlight`` reads the items already checked.
_CHECKS: Final[dict[str, Callable[[dict[str, Any], Field, Event], Any]]] = {
    "id": lambda obj, f, event: _id(obj, f.name),
    "int": lambda obj, f, event: _int(obj, f.name, f.low, f.high),
    "money": lambda obj, f, event: _number(obj, f.name),
    "attrs": lambda obj, f, event: _attrs(obj),
    "items": lambda obj, f, event: _items(obj),
    "spotlight": lambda obj, f, event: _spotlight(obj, event),
}
assert set(_CHECKS) == set(get_args(Kind))


def _fields(event: Event, obj: dict[str, Any]) -> None:
    """Check the type's own fields as ``schema.EVENT_FIELDS`` lists them, and fill them in."""
    spec = EVENT_FIELDS[event.type]
    for name in spec.missing_order:
        if name not in obj:
            raise _Invalid("invalid", f"missing required field '{name}' for type '{event.type}'")
    for f in spec.fields:
        if f.required or obj.get(f.name) is not None:
            setattr(event, f.name, _CHECKS[f.kind](obj, f, event))


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
    ts = _int(obj, "ts", _TS.low, _TS.high)
    event = Event(event_id, etype, ts, _id(obj, "room_id"), origin, raw)
    _fields(event, obj)
    return event
