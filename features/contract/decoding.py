"""Turn raw message bytes into an ``Event`` or a ``DeadLetter``; never raise.

Almost every message is valid, and field-by-field validation
(``features.contract.validation``) spends most of its time on being able to say what is wrong.
``decode_event`` first tries a fast path that only decides "valid" (about half the time a
message); any message it does not accept goes to ``validation.validate_event``, which decides
and explains. Both are driven by the one table of ``features.contract.schema``, and they give
the same results on every input (``tests/features/contract/test_decoding_fast.py``).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from features.contract import validation
from features.contract.duplicates import surely_unique
from features.contract.events import DeadLetter, Event, Origin
from features.contract.fastpath import FAST
from features.contract.schema import COMMON_FIELDS, MAX_ID_LEN, MAX_SHOWCASE_ITEMS
from features.contract.validation import DEFAULT_MAX_BYTES

__all__ = ["DEFAULT_MAX_BYTES", "MAX_ID_LEN", "MAX_SHOWCASE_ITEMS", "decode_event"]

# The fast path: one function per type, compiled at import time from ``schema.EVENT_FIELDS``
# (``features.contract.fastpath``) into one combined condition with the checks of
# ``validation``'s ``_id``, ``_str``, ``_int``, ``_number`` and ``_attrs`` inlined (a showcase's
# items by a second function, compiled from the nested item table). It builds the Event
# exactly as ``validate_event`` would, or gives up (returns None, or raises, say a KeyError for
# a missing field) the moment anything looks off, and then ``validate_event`` decides and
# explains. When in doubt the fast path must give up, never accept:
# ``tests/features/contract/test_decoding_fast.py`` compares the two.

_loads: Final = orjson.loads
_TS: Final = COMMON_FIELDS[2]
assert _TS.name == "ts"
_TS_LOW: Final = _TS.low
_TS_HIGH: Final = _TS.high


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
            ts = obj["ts"]
            room_id = obj["room_id"]
            if (
                type(event_id) is str
                and 0 < len(event_id) <= MAX_ID_LEN
                and type(ts) is int
                and _TS_LOW <= ts <= _TS_HIGH
                and type(room_id) is str
                and 0 < len(room_id) <= MAX_ID_LEN
            ):
                event = FAST[obj["type"]](obj, event_id, ts, room_id, origin, raw)
                if event is not None:
                    return event
    except Exception:  # not JSON, not an object, a field missing, an unknown type, ...
        pass
    return validation.validate_event(raw, origin, max_bytes, obj)
