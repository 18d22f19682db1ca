"""The decoder's fast path, compiled from ``schema.EVENT_FIELDS`` once, at import time.

A loop over the table for every message would cost the fast path most of what it saves, so each
type's entry is turned into the source of one straight-line function (read the fields, one
combined condition, plain slot stores into a new ``Event``), which is what a hand-written fast
path would be, and compiled. The table stays the only statement of the contract; this module
only knows how each *kind* of field is accepted. orjson only makes exact str/int/float/dict/list
objects, so ``type(v) is int`` is ``isinstance(v, int)`` without the bool.

>>> for line in source("leave").splitlines()[:4]:
...     print(line)
def fast_leave(obj, event_id, ts, room_id, origin, raw):
    user_id = obj['user_id']
    if not ((type(user_id) is str and 0 < len(user_id) <= 128)):
        return None
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

from features.contract.events import Event, Origin, ShowcaseItem
from features.contract.limits import MAX_ATTR, MAX_MONEY
from features.contract.schema import EVENT_FIELDS, MAX_ID_LEN, MAX_SHOWCASE_ITEMS, Field

FastDecoder = Callable[[dict[str, Any], str, int, str, Origin, bytes], Event | None]


def plain_attrs(attrs: dict[str, Any]) -> bool:
    """``validation._attrs`` would accept this dict: every value a string or a finite number."""
    for value in attrs.values():
        kind = type(value)
        if not (kind is str or ((kind is int or kind is float) and -MAX_ATTR <= value <= MAX_ATTR)):
            return False
    return True


def plain_items(raw_items: Any) -> tuple[ShowcaseItem, ...] | None:
    """What ``validation._items`` returns for a list it would accept, else None."""
    if type(raw_items) is not list or len(raw_items) > MAX_SHOWCASE_ITEMS:
        return None
    items: list[ShowcaseItem] = []
    seen: set[str] = set()
    for item in raw_items:
        if type(item) is not dict:
            return None
        item_id = item.get("item_id")
        price = item.get("price")
        if type(price) is int:
            price = float(price)
        category = item.get("category")
        title = item.get("title")
        attrs = item.get("attrs")
        if not (
            type(item_id) is str
            and 0 < len(item_id) <= MAX_ID_LEN
            and item_id not in seen
            and type(category) is str
            and (title is None or type(title) is str)
            and (attrs is None or (type(attrs) is dict and plain_attrs(attrs)))
            and type(price) is float
            and 0.0 <= price <= MAX_MONEY
        ):
            return None
        seen.add(item_id)
        items.append(ShowcaseItem(item_id, price, category, title))
    return tuple(items)


def _accepts(f: Field, fields: tuple[Field, ...]) -> str:
    """The condition under which ``validation`` accepts the value in the local ``f.name``."""
    v = f.name
    if f.kind == "id":
        return f"type({v}) is str and 0 < len({v}) <= {MAX_ID_LEN!r}"
    if f.kind == "int":
        return f"type({v}) is int and {f.low!r} <= {v} <= {f.high!r}"
    if f.kind == "money":  # also false for NaN; ints were made floats when read
        return f"type({v}) is float and 0.0 <= {v} <= {MAX_MONEY!r}"
    if f.kind == "attrs":
        return f"type({v}) is dict and _plain_attrs({v})"
    if f.kind == "items":  # _plain_items gave None for anything it would not accept
        return f"{v} is not None"
    if f.kind == "spotlight":  # an item's id was checked with the items
        (items,) = [g.name for g in fields if g.kind == "items"]
        return f"{v} is None or (type({v}) is str and any(i.item_id == {v} for i in {items}))"
    raise AssertionError(f"no fast check for kind {f.kind!r}")


def _default(name: str) -> Any:
    field = {f.name: f for f in dataclasses.fields(Event)}[name]
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def source(etype: str) -> str:
    """The Python source of ``etype``'s fast decoder (public so that it can be read)."""
    fields = EVENT_FIELDS[etype].fields
    lines = [f"def fast_{etype}(obj, event_id, ts, room_id, origin, raw):"]
    conditions: list[str] = []
    after: dict[str, str] = {}
    for f in fields:
        v = f.name
        read = f"obj[{v!r}]" if f.required else f"obj.get({v!r})"
        lines.append(
            f"    {v} = _plain_items({read})" if f.kind == "items" else f"    {v} = {read}"
        )
        if f.kind == "money":
            lines.append(f"    if type({v}) is int:\n        {v} = float({v})")
        if f.required:
            conditions.append(f"({_accepts(f, fields)})")
            continue
        assert f.kind != "items", "an optional items list needs its own fast check"
        default = _default(v)
        if default is None or isinstance(default, dict):
            conditions.append(f"({v} is None or ({_accepts(f, fields)}))")
            if default is not None:
                after[v] = f"{default!r} if {v} is None else {v}"
        else:  # an immutable default stands in for an absent value, as the Event default would
            lines.append(f"    if {v} is None:\n        {v} = {default!r}")
            conditions.append(f"({_accepts(f, fields)})")
    if conditions:
        lines.append(f"    if not ({' and '.join(conditions)}):\n        return None")
    given = {"event_id", "ts", "room_id", "origin", "raw"}
    named = {f.name for f in fields}
    lines.append("    event = _new(Event)")
    for slot in Event.__slots__:
        if slot == "type":
            value = repr(etype)
        elif slot in after:
            value = after[slot]
        elif slot in given or slot in named:
            value = slot
        else:
            value = repr(_default(slot))
        lines.append(f"    event.{slot} = {value}")
    lines.append("    return event")
    return "\n".join(lines)


def _compile(etype: str) -> FastDecoder:
    namespace: dict[str, Any] = {
        "_new": object.__new__,
        "Event": Event,
        "_plain_attrs": plain_attrs,
        "_plain_items": plain_items,
    }
    exec(compile(source(etype), f"<fast decoder for {etype!r}>", "exec"), namespace)
    decoder: FastDecoder = namespace[f"fast_{etype}"]
    return decoder


FAST: Final[dict[str, FastDecoder]] = {etype: _compile(etype) for etype in EVENT_FIELDS}
"""Per type: the ``Event`` that ``validate_event`` would return, or None (or an exception) when
the message is not plainly valid."""

# Every slot set, and to the same defaults as ``Event`` (an unset slot raises AttributeError).
_PROBE: Final = ("e", 0, "r", Origin("t", 0, 1), b"")
assert FAST["room_close"]({}, *_PROBE) == Event("e", "room_close", 0, "r", *_PROBE[3:]), (
    "features.contract.fastpath is out of step with Event"
)
