"""Contract v1's event types as data: which fields each type carries, of which kind, in what range.

This table is the one place a type's fields are stated. ``validation`` walks it to check and
explain, and ``decoding`` compiles its fast path from it at import time, so adding a field to a
type, making one optional or moving a bound is one edit here (and one in ``EVENTS.md``, which
``tests/features/contract/test_schema.py`` holds in step with this table).

A field's ``name`` is also the ``Event`` attribute it fills. The kinds:

- ``id``: a non-empty string of at most ``MAX_ID_LEN`` characters;
- ``int``: an integer (not a bool) in ``[low, high]``;
- ``money``: a number (int or float, stored as float) in ``[0, MAX_MONEY]``;
- ``attrs``: an object of strings and numbers within ``±MAX_ATTR``;
- ``items``: the showcase's list of items (see ``EVENTS.md``);
- ``spotlight``: ``null`` or the ``item_id`` of one of the same message's ``items``.

An optional field that is absent or ``null`` keeps the ``Event`` default.

>>> [f.name for f in EVENT_FIELDS["purchase"].fields]
['user_id', 'item_id', 'amount', 'qty']
>>> EVENT_FIELDS["purchase"].missing_order
('amount', 'user_id', 'item_id')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from features.contract.events import ENGAGEMENT_TYPES, EVENT_TYPES
from features.contract.limits import MAX_QTY, MAX_TS, MAX_WATCH_MS

Kind = Literal["id", "int", "money", "attrs", "items", "spotlight"]

MAX_ID_LEN: Final = 128
MAX_SHOWCASE_ITEMS: Final = 500


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    required: bool = True
    low: int = 0
    high: int = 0


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """The fields of one type, in the order they are checked (the first bad one is reported).

    ``missing_order`` is the order absent required fields are reported in; producers have seen
    v1's messages in this order, which for two types is not the checking order.
    """

    fields: tuple[Field, ...]
    missing_order: tuple[str, ...]


def _spec(*fields: Field, missing_order: tuple[str, ...] | None = None) -> TypeSpec:
    required = tuple(f.name for f in fields if f.required)
    order = required if missing_order is None else missing_order
    assert sorted(order) == sorted(required), (order, required)
    assert all(f.kind != "spotlight" for f in fields) or any(f.kind == "items" for f in fields)
    return TypeSpec(fields, order)


def _id(name: str, *, required: bool = True) -> Field:
    return Field(name, "id", required)


def _count(name: str, low: int, high: int, *, required: bool = True) -> Field:
    return Field(name, "int", required, low, high)


COMMON_FIELDS: Final = (
    _id("event_id"),
    Field("type", "id"),
    _count("ts", 0, MAX_TS),
    _id("room_id"),
)
"""Fields every type carries; ``type`` is checked against ``EVENT_TYPES`` rather than as an id."""

_USER: Final = _id("user_id")
_ITEM: Final = _id("item_id")

EVENT_FIELDS: Final[dict[str, TypeSpec]] = {
    "enter": _spec(_USER, Field("attrs", "attrs", required=False)),
    "leave": _spec(_USER),
    "heartbeat": _spec(_USER, _count("watch_ms", 0, MAX_WATCH_MS)),
    **{etype: _spec(_USER, _id("item_id", required=False)) for etype in sorted(ENGAGEMENT_TYPES)},
    "item_click": _spec(_USER, _ITEM),
    "add_to_cart": _spec(_USER, _ITEM),
    "purchase": _spec(
        _USER,
        _ITEM,
        Field("amount", "money"),
        _count("qty", 1, MAX_QTY, required=False),
        missing_order=("amount", "user_id", "item_id"),
    ),
    "push_open": _spec(_USER, _ITEM, _id("rec_id"), missing_order=("rec_id", "user_id", "item_id")),
    "showcase": _spec(Field("items", "items"), Field("spotlight", "spotlight")),
    "room_close": _spec(),
}
assert set(EVENT_FIELDS) == EVENT_TYPES
