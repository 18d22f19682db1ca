"""Turn raw message bytes into an ``Event`` or a ``DeadLetter``; never raise.

Almost every message is valid, and field-by-field validation
(``features.contract.validation``) spends
most of its time on being able to say what is wrong. ``decode_event`` first tries a fast path
that only decides "valid" (~3.6 against ~6.6 µs a message on the bench's world); any message
it does not accept goes to ``validation.validate_event``, which decides and explains. The two
give the same results on every input (``tests/features/contract/test_decoding_fast.py``).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from features.contract import validation
from features.contract.duplicates import surely_unique
from features.contract.events import (
    ENGAGEMENT_TYPES,
    AttrValue,
    DeadLetter,
    Event,
    Origin,
    ShowcaseItem,
)
from features.contract.limits import MAX_ATTR, MAX_MONEY, MAX_QTY, MAX_TS, MAX_WATCH_MS
from features.contract.validation import DEFAULT_MAX_BYTES, MAX_ID_LEN, MAX_SHOWCASE_ITEMS

__all__ = ["DEFAULT_MAX_BYTES", "MAX_ID_LEN", "MAX_SHOWCASE_ITEMS", "decode_event"]

# The fast path: one combined condition per type, with the checks of ``validation``'s ``_id``,
# ``_int``, ``_number`` and ``_attrs`` inlined, types in order of how often they come. It builds
# the Event exactly as ``validate_event`` would, or gives up (falls through, or raises, say a
# KeyError for a missing field) the moment anything looks off, and then ``validate_event``
# decides and explains. orjson only makes exact str/int/float/dict/list
# objects, so ``type(v) is int`` is ``isinstance(v, int)`` without the bool. When in doubt the
# fast path must give up, never accept:
# ``tests/features/contract/test_decoding_fast.py`` compares the two.

_loads: Final = orjson.loads
_new: Final = object.__new__


def decode_event(
    raw: bytes, origin: Origin, max_bytes: int = DEFAULT_MAX_BYTES
) -> Event | DeadLetter:
    """Validate one message against the contract; same results as ``validate_event``.

    >>> decode_event(b'{"event_id":"e","type":"leave","ts":1,"room_id":"r","user_id":"u"}',
    ...              Origin("f", 0, 1)).user_id
    'u'
    >>> decode_event(b'{"type":"leave"}', Origin("f", 0, 2)).error
    "missing required field 'event_id'"
    """
    obj: Any = validation.NOT_PARSED
    try:
        if len(raw) <= max_bytes:
            obj = _loads(raw)
            if not surely_unique(raw, obj):
                raise KeyError  # maybe a key written twice: validate_event decides
            event_id = obj["event_id"]
            etype = obj["type"]
            ts = obj["ts"]
            room_id = obj["room_id"]
            if not (
                type(event_id) is str
                and 0 < len(event_id) <= MAX_ID_LEN
                and type(ts) is int
                and 0 <= ts <= MAX_TS
                and type(room_id) is str
                and 0 < len(room_id) <= MAX_ID_LEN
            ):
                pass
            elif etype == "heartbeat":
                user_id = obj["user_id"]
                watch_ms = obj["watch_ms"]
                if (
                    type(user_id) is str
                    and 0 < len(user_id) <= MAX_ID_LEN
                    and type(watch_ms) is int
                    and 0 <= watch_ms <= MAX_WATCH_MS
                ):
                    return _event(
                        event_id, etype, ts, room_id, origin, raw, user_id, None, None, watch_ms
                    )
            elif etype in ENGAGEMENT_TYPES:
                user_id = obj["user_id"]
                item_id = obj.get("item_id")
                if (
                    type(user_id) is str
                    and 0 < len(user_id) <= MAX_ID_LEN
                    and (
                        item_id is None or (type(item_id) is str and 0 < len(item_id) <= MAX_ID_LEN)
                    )
                ):
                    return _event(event_id, etype, ts, room_id, origin, raw, user_id, item_id)
            elif etype == "item_click" or etype == "add_to_cart":
                user_id = obj["user_id"]
                item_id = obj["item_id"]
                if (
                    type(user_id) is str
                    and 0 < len(user_id) <= MAX_ID_LEN
                    and type(item_id) is str
                    and 0 < len(item_id) <= MAX_ID_LEN
                ):
                    return _event(event_id, etype, ts, room_id, origin, raw, user_id, item_id)
            elif etype == "enter":
                user_id = obj["user_id"]
                attrs = obj.get("attrs")
                if (
                    type(user_id) is str
                    and 0 < len(user_id) <= MAX_ID_LEN
                    and (attrs is None or (type(attrs) is dict and _plain_attrs(attrs)))
                ):
                    return _event(event_id, etype, ts, room_id, origin, raw, user_id, None, attrs)
            elif etype == "leave":
                user_id = obj["user_id"]
                if type(user_id) is str and 0 < len(user_id) <= MAX_ID_LEN:
                    return _event(event_id, etype, ts, room_id, origin, raw, user_id)
            elif etype == "purchase":
                user_id = obj["user_id"]
                item_id = obj["item_id"]
                amount = obj["amount"]
                if type(amount) is int:
                    amount = float(amount)
                qty = obj.get("qty")
                if qty is None:
                    qty = 1
                if (
                    type(user_id) is str
                    and 0 < len(user_id) <= MAX_ID_LEN
                    and type(item_id) is str
                    and 0 < len(item_id) <= MAX_ID_LEN
                    and type(amount) is float
                    and 0.0 <= amount <= MAX_MONEY  # also false for NaN
                    and type(qty) is int
                    and 1 <= qty <= MAX_QTY
                ):
                    return _event(
                        event_id, etype, ts, room_id, origin, raw, user_id, item_id, None, 0,
                        amount, qty,
                    )  # fmt: skip
            elif etype == "push_open":
                user_id = obj["user_id"]
                item_id = obj["item_id"]
                rec_id = obj["rec_id"]
                if (
                    type(user_id) is str
                    and 0 < len(user_id) <= MAX_ID_LEN
                    and type(item_id) is str
                    and 0 < len(item_id) <= MAX_ID_LEN
                    and type(rec_id) is str
                    and 0 < len(rec_id) <= MAX_ID_LEN
                ):
                    return _event(
                        event_id, etype, ts, room_id, origin, raw, user_id, item_id, None, 0, 0.0,
                        1, rec_id,
                    )  # fmt: skip
            elif etype == "showcase":
                items = _plain_items(obj["items"])
                spotlight = obj["spotlight"]
                if items is not None and (
                    spotlight is None
                    or (type(spotlight) is str and any(i.item_id == spotlight for i in items))
                ):
                    return _event(
                        event_id, etype, ts, room_id, origin, raw, None, None, None, 0, 0.0, 1,
                        None, items, spotlight,
                    )  # fmt: skip
            elif etype == "room_close":
                return _event(event_id, etype, ts, room_id, origin, raw)
    except Exception:  # not JSON, not an object, a field missing, ...: see below
        pass
    return validation.validate_event(raw, origin, max_bytes, obj)


def _plain_attrs(attrs: dict[str, Any]) -> bool:
    """``_attrs`` would accept this dict: every value a string or a finite number."""
    for value in attrs.values():
        kind = type(value)
        if not (kind is str or ((kind is int or kind is float) and -MAX_ATTR <= value <= MAX_ATTR)):
            return False
    return True


def _plain_items(raw_items: Any) -> tuple[ShowcaseItem, ...] | None:
    """What ``_items`` returns for a list it would accept, else None."""
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
            and (attrs is None or (type(attrs) is dict and _plain_attrs(attrs)))
            and type(price) is float
            and 0.0 <= price <= MAX_MONEY
        ):
            return None
        seen.add(item_id)
        items.append(ShowcaseItem(item_id, price, category, title))
    return tuple(items)


def _event(
    event_id: str,
    etype: str,
    ts: int,
    room_id: str,
    origin: Origin,
    raw: bytes,
    user_id: str | None = None,
    item_id: str | None = None,
    attrs: dict[str, AttrValue] | None = None,
    watch_ms: int = 0,
    amount: float = 0.0,
    qty: int = 1,
    rec_id: str | None = None,
    items: tuple[ShowcaseItem, ...] = (),
    spotlight: str | None = None,
) -> Event:
    """``Event(...)`` with the same defaults, by plain slot stores: on the job's benchmark world
    this is ~0.2 µs of ~3.6 µs per event cheaper than calling the class (``type.__call__`` and
    the generated ``__init__``). The check below keeps it in step with ``Event``'s fields."""
    event = _new(Event)
    event.event_id = event_id
    event.type = etype
    event.ts = ts
    event.room_id = room_id
    event.origin = origin
    event.raw = raw
    event.user_id = user_id
    event.item_id = item_id
    event.attrs = {} if attrs is None else attrs
    event.watch_ms = watch_ms
    event.amount = amount
    event.qty = qty
    event.rec_id = rec_id
    event.items = items
    event.spotlight = spotlight
    event.read_at = 0.0
    return event


# Same defaults as Event, and no field left unset (reading an unset slot raises AttributeError).
_PROBE: Final = ("e", "leave", 0, "r", Origin("t", 0, 1), b"")
assert _event(*_PROBE) == Event(*_PROBE), (
    "features.contract.decoding._event is out of step with Event"
)
