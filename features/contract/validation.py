"""Contract v1, field by field: an ``Event``, or a ``DeadLetter`` that says what is wrong.

Every rejection names the field, what was found and what the contract wants, so the
producer's owner can fix it from the dead letter alone. Unknown extra fields are ignored (the
contract is forward compatible). Which fields each type, and each showcase item, carries comes
from the tables in ``features.contract.schema``; this module knows how each kind of field is
checked and explained.
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
    CutMessage,
    DeadLetter,
    Event,
    Origin,
    ShowcaseItem,
    UnreadMessage,
)
from features.contract.limits import MAX_ATTR, MAX_NESTING
from features.contract.not_json import cut_inside_a_character, framing, not_json
from features.contract.schema import (
    COMMON_FIELDS,
    EVENT_FIELDS,
    MAX_ID_LEN,
    Field,
    Kind,
    spotlit,
)
from features.contract.wide_numbers import loads_beyond_float64

_TS: Final = COMMON_FIELDS[2]
assert _TS.name == "ts"
DEFAULT_MAX_BYTES: Final = 256 * 1024
_TYPE_LIST: Final = ", ".join(sorted(EVENT_TYPES))
_UNITS: Final = {
    "ts": " (epoch milliseconds, UTC, up to 9999-12-31)",
    "watch_ms": " (milliseconds, up to a day)",
}


class _Invalid(Exception):
    """Internal: carries the reason label and a human-readable message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _preview(value: Any) -> str:
    """The value as the producer wrote it (JSON: ``null``, ``true``, ``[1,2]``; a string, or
    a key, in quotes as Python writes it), shortened."""
    if isinstance(value, float) and math.isinf(value):  # JSON would write it as null
        return f"a number past {'-' if value < 0 else ''}1.8e308"
    try:
        text = repr(value) if isinstance(value, str) else orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):  # an integer beyond 64 bits
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_KINDS = {type(None): "null", bool: "a boolean", int: "a number", float: "a number",
          str: "a string", list: "an array"}


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


def _str(obj: dict[str, Any], name: str, where: str) -> str:
    value = obj.get(name)  # absent reads as None: v1 says "must be a string, got None"
    if not isinstance(value, str):
        raise _Invalid("invalid", f"field '{where}{name}' must be a string, got {_preview(value)}")
    return value


def _int(obj: dict[str, Any], name: str, minimum: float, maximum: float, where: str = "") -> int:
    value = obj[name]
    if isinstance(value, float) and not minimum <= value <= maximum:
        # 1e30, or 20 digits (orjson reads an integer past 64 bits as a float): its size is
        # what is wrong, whatever way it was written
        raise _Invalid(
            "invalid",
            f"field '{where}{name}' is out of range, got {_preview(value)}: the contract"
            f" wants an integer from {minimum} to {maximum}{_UNITS.get(name, '')}",
        )
    if isinstance(value, bool) or not isinstance(value, int):
        how = ""
        if isinstance(value, float):  # 1000.0 or 1e3: a JSON number with a point or exponent
            how = " (digits only, without a decimal point or exponent)"
        raise _Invalid(
            "invalid", f"field '{where}{name}' must be an integer{how}, got {_preview(value)}"
        )
    if value < minimum:
        raise _Invalid("invalid", f"field '{where}{name}' must be >= {minimum}, got {value}")
    if value > maximum:
        raise _Invalid(
            "invalid", f"field '{where}{name}' must be <= {maximum} (contract range), got {value}"
        )
    return value


def _number(obj: dict[str, Any], f: Field, where: str) -> float:
    name = f.name
    if name not in obj:
        raise _Invalid("invalid", f"missing required field '{where}{name}'")
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid("invalid", f"field '{where}{name}' must be a number, got {_preview(value)}")
    number = float(value)
    if math.isnan(number) or number < f.low:  # +inf (1e400 in the bytes) is past f.high
        raise _Invalid(
            "invalid", f"field '{where}{name}' must be a number >= {f.low:g}, got {value}"
        )
    if number > f.high:
        raise _Invalid(
            "invalid",
            f"field '{where}{name}' must be <= {f.high:g} (contract range), got {value}",
        )
    return number


def _attrs(obj: dict[str, Any], name: str, where: str) -> dict[str, AttrValue]:
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid("invalid", f"field '{where}{name}' must be an object, got {_preview(value)}")
    for key, attr in value.items():
        if isinstance(attr, bool) or not isinstance(attr, str | int | float):
            raise _Invalid(
                "invalid",
                f"field '{where}{name}.{key}' must be a string or a number, got {_preview(attr)}",
            )
        if isinstance(attr, float) and not math.isfinite(attr):
            raise _Invalid("invalid", f"field '{where}{name}.{key}' must be a finite number")
        if not isinstance(attr, str) and not -MAX_ATTR <= attr <= MAX_ATTR:
            raise _Invalid(
                "invalid",
                f"field '{where}{name}.{key}' must be within ±{MAX_ATTR:g} (contract range),"
                f" got {_preview(attr)}",
            )
    return value


_KEPT: Final = frozenset(ShowcaseItem.__slots__)


def _items(obj: dict[str, Any], f: Field) -> tuple[ShowcaseItem, ...]:
    """Each entry checked against the field's nested table, in order, and no key twice."""
    entries = f.entries
    assert entries is not None
    raw_items = obj[f.name]
    if not isinstance(raw_items, list):
        raise _Invalid("invalid", f"field '{f.name}' must be a list, got {_preview(raw_items)}")
    if len(raw_items) > f.high:
        raise _Invalid(
            "invalid",
            f"field '{f.name}' has {len(raw_items)} entries; the contract allows at most {f.high}",
        )
    seen: set[str] = set()

    def once(g: Field, value: Any) -> None:
        if g.name == entries.key:
            if value in seen:
                raise _Invalid("invalid", f"{g.name} '{value}' appears twice in '{f.name}'")
            seen.add(value)

    items: list[ShowcaseItem] = []
    for n, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise _Invalid("invalid", f"'{f.name}[{n}]' must be an object, got {_preview(raw)}")
        item = _checked(raw, entries.fields, f"{f.name}[{n}].", once)
        items.append(ShowcaseItem(**{name: v for name, v in item.items() if name in _KEPT}))
    return tuple(items)


def _spotlight(obj: dict[str, Any], f: Field, checked: dict[str, Any]) -> str | None:
    spotlight = obj[f.name]
    if spotlight is not None:
        spotlight = _id(obj, f.name)
        listed, key = spotlit(EVENT_FIELDS[obj["type"]].fields)
        if all(getattr(item, key) != spotlight for item in checked[listed.name]):
            raise _Invalid(
                "invalid",
                f"spotlight '{spotlight}' is not one of the showcase's items; send an item_id"
                " from 'items' or null",
            )
    return spotlight


# How each kind of ``schema`` is checked: the object, the field, where the object sits
# ("items[3]." for an item, "" for the message) and the values checked before it by name (a
# ``spotlight`` reads its items there).
_CHECKS: Final[dict[str, Callable[[dict[str, Any], Field, str, dict[str, Any]], Any]]] = {
    "id": lambda obj, f, where, checked: _id(obj, f.name, where),
    "str": lambda obj, f, where, checked: _str(obj, f.name, where),
    "int": lambda obj, f, where, checked: _int(obj, f.name, f.low, f.high, where),
    "money": lambda obj, f, where, checked: _number(obj, f, where),
    "attrs": lambda obj, f, where, checked: _attrs(obj, f.name, where),
    "items": lambda obj, f, where, checked: _items(obj, f),
    "spotlight": lambda obj, f, where, checked: _spotlight(obj, f, checked),
}
assert set(_CHECKS) == set(get_args(Kind))


def _checked(
    obj: dict[str, Any],
    fields: tuple[Field, ...],
    where: str = "",
    then: Callable[[Field, Any], None] | None = None,
) -> dict[str, Any]:
    """Each field's checked value by name, checked in the table's order so that the first bad
    one is reported; ``then`` may refuse a value before the next field is checked (a list's
    repeated key). An optional field that is absent or null is left out: the record keeps its
    default."""
    checked: dict[str, Any] = {}
    for f in fields:
        if f.required or obj.get(f.name) is not None:
            checked[f.name] = value = _CHECKS[f.kind](obj, f, where, checked)
            if then is not None:
                then(f, value)
    return checked


def _fields(event: Event, obj: dict[str, Any]) -> None:
    """Check the type's own fields as ``schema.EVENT_FIELDS`` lists them, and fill them in."""
    spec = EVENT_FIELDS[event.type]
    for name in spec.missing_order:
        if name not in obj:
            raise _Invalid("invalid", f"missing required field '{name}' for type '{event.type}'")
    for name, value in _checked(obj, spec.fields).items():
        setattr(event, name, value)


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


def _nested(what: str) -> str:
    return (
        f"{what} is nested more than {MAX_NESTING} levels deep (arrays and objects inside one"
        f" another, the message itself being the first); the job reads at most {MAX_NESTING}:"
        " flatten the field, or leave it out"
    )


def _too_deep(obj: dict[str, Any]) -> str | None:
    """The first field of ``obj`` nested past ``MAX_NESTING`` levels (a walk without
    recursion: the point is a message deeper than the stack)."""
    for name, value in obj.items():
        stack = [(value, 2)]
        while stack:
            item, depth = stack.pop()
            kind = type(item)
            if kind is not dict and kind is not list:
                continue
            if depth > MAX_NESTING:
                return str(name)
            stack.extend((v, depth + 1) for v in (item.values() if kind is dict else item))
    return None


def _beyond_float64(raw: bytes, err: orjson.JSONDecodeError) -> Any:
    """A message orjson refused only for a number past float64 (``1e400``) is read anyway
    (``features.contract.wide_numbers``): in a field the job ignores it changes nothing, and
    in one it reads, the field's own check refuses the infinity by name."""
    if "number is infinity" in str(err):
        try:
            return loads_beyond_float64(raw)
        except ValueError as why:  # something else is wrong too: say that
            err = why  # type: ignore[assignment]
    raise _Invalid("not_json", not_json(raw, err)) from None


def _decode(raw: bytes, origin: Origin, max_bytes: int, parsed: Any) -> Event:
    if isinstance(raw, UnreadMessage):
        raise _Invalid("too_large", raw.why)
    if len(raw) > max_bytes:
        size, kept = len(raw), ""
        if isinstance(raw, CutMessage):  # a line the file reader cut: its own size, not the cut's
            size, kept = max(raw.size, size), f"; raw holds its first {len(raw)} bytes"
            kept += cut_inside_a_character(raw)
        raise _Invalid(
            "too_large",
            f"message is {size} bytes; the job accepts at most {max_bytes} bytes"
            f" (--max-message-bytes){kept}{framing(raw)}",
        )
    if parsed is not NOT_PARSED:
        obj = parsed
    else:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            if "depth limit" in str(err):  # orjson's own limit, past MAX_NESTING
                raise _Invalid("invalid", _nested("the message")) from None
            obj = _beyond_float64(raw, err)
    if not isinstance(obj, dict):
        kind = _KINDS.get(type(obj), type(obj).__name__)
        raise _Invalid("invalid", f"message must be a JSON object, got {kind}")
    deep = _too_deep(obj)
    if deep is not None:
        raise _Invalid("invalid", _nested(f"field {_preview(deep)}"))
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
