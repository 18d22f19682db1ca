"""Contract v1's event types as data: which fields each type carries, of which kind, in what range.

This table is the one place a type's fields are stated. ``validation`` walks it to check and
explain, and ``decoding`` compiles its fast path from it at import time, so adding a field to a
type, making one optional or moving a bound is one edit here (and one in ``EVENTS.md``, which
``tests/features/contract/test_schema.py`` holds in step with this table).

A showcase's items are a list of objects with fields of their own; those fields are a table
too (``SHOWCASE_ITEM``), nested in the ``items`` field, so that an item's fields are stated
once for both decoders in the same way.

A field's ``name`` is also the attribute it fills: of the ``Event``, or of the ``ShowcaseItem``
for an item's field (an item field the record has no attribute for, ``attrs``, is checked and
not kept). The kinds:

- ``id``: a non-empty string of at most ``MAX_ID_LEN`` characters;
- ``str``: any string;
- ``int``: an integer (not a bool) in ``[low, high]``;
- ``money``: a finite number (int or float, stored as float) in ``[low, high]``;
- ``attrs``: an object of strings and numbers within ``±MAX_ATTR``;
- ``items``: a list of at most ``high`` objects, each checked against ``entries``;
- ``spotlight``: ``null`` or the key of one of the same message's ``items``.

An optional field that is absent or ``null`` keeps the record's default.

>>> [f.name for f in EVENT_FIELDS["purchase"].fields]
['user_id', 'item_id', 'amount', 'qty']
>>> EVENT_FIELDS["purchase"].missing_order
('amount', 'user_id', 'item_id')
>>> [(f.name, f.kind, f.required) for f in SHOWCASE_ITEM.fields][:3]
[('item_id', 'id', True), ('category', 'str', True), ('title', 'str', False)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from features.contract.events import ENGAGEMENT_TYPES, EVENT_TYPES
from features.contract.limits import MAX_MONEY, MAX_QTY, MAX_TS, MAX_WATCH_MS

Kind = Literal["id", "str", "int", "money", "attrs", "items", "spotlight"]

MAX_ID_LEN: Final = 128
MAX_SHOWCASE_ITEMS: Final = 500


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a type or of a list's entry.

    ``low`` and ``high`` are floats so that money's range fits; the ``int`` kind and an
    ``items`` list's length keep them ints, which the messages and the fast path print as
    written.
    """

    name: str
    kind: Kind
    required: bool = True
    low: float = 0
    high: float = 0
    entries: EntrySpec | None = None  # the ``items`` kind's table of each entry's fields


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """The fields of each entry of a list, in the order they are checked.

    ``key`` is the field no two entries of one list may share: what a ``spotlight`` names.
    An entry has no ``missing_order``: each kind says itself that a required field is absent.
    """

    fields: tuple[Field, ...]
    key: str


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
    if any(f.kind == "spotlight" for f in fields):
        spotlit(fields)
    assert all(f.low == 0 for f in fields if f.kind == "items"), "no check for fewest entries"
    return TypeSpec(fields, order)


def spotlit(fields: Iterable[Field]) -> tuple[Field, str]:
    """The list a ``spotlight`` among ``fields`` names an entry of (the one ``items`` field),
    and the key it names the entry by."""
    (items,) = [f for f in fields if f.kind == "items"]
    assert items.entries is not None and items.entries.key, items
    return items, items.entries.key


def _id(name: str, *, required: bool = True) -> Field:
    return Field(name, "id", required)


def _count(name: str, low: int, high: int, *, required: bool = True) -> Field:
    return Field(name, "int", required, low, high)


def _money(name: str) -> Field:
    return Field(name, "money", True, 0, MAX_MONEY)


COMMON_FIELDS: Final = (
    _id("event_id"),
    Field("type", "id"),
    _count("ts", 0, MAX_TS),
    _id("room_id"),
)
"""Fields every type carries; ``type`` is checked against ``EVENT_TYPES`` rather than as an id."""

_USER: Final = _id("user_id")
_ITEM: Final = _id("item_id")

SHOWCASE_ITEM: Final = EntrySpec(
    (
        _ITEM,
        Field("category", "str"),
        Field("title", "str", required=False),
        Field("attrs", "attrs", required=False),
        _money("price"),
    ),
    key="item_id",
)
"""One item of a showcase's ``items``, in v1's checking order (price last)."""

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
        _money("amount"),
        _count("qty", 1, MAX_QTY, required=False),
        missing_order=("amount", "user_id", "item_id"),
    ),
    "push_open": _spec(_USER, _ITEM, _id("rec_id"), missing_order=("rec_id", "user_id", "item_id")),
    "showcase": _spec(
        Field("items", "items", high=MAX_SHOWCASE_ITEMS, entries=SHOWCASE_ITEM),
        Field("spotlight", "spotlight"),
    ),
    "room_close": _spec(),
}
assert set(EVENT_FIELDS) == EVENT_TYPES
