"""Find a key that appears twice in one JSON object; orjson silently keeps the last.

A duplicate ``room_id`` would move an event to another room without a word, so a message with
a duplicate key anywhere is refused. Parsing every message a second time to find out would
cost more than decoding it; instead the raw text's colons are counted: every key written is
followed by exactly one structural colon, so ``raw.count(b":")`` is at least the number of keys
written, which is at least the number of distinct keys orjson kept. When the count equals the
latter, nothing was written twice. Only otherwise (a duplicate, or a colon inside a string) is
the text parsed again, pair by pair, to decide exactly.
"""

from __future__ import annotations

import json
from typing import Any

from features.contract.limits import MAX_NESTING


def _keys(value: Any, depth: int = 1) -> int:
    """Keys of every object in ``value`` (orjson's result: only dict and list nest), at
    ``depth`` levels of nesting; deeper than ``MAX_NESTING`` raises ``_TooDeep``."""
    if depth > MAX_NESTING:
        raise _TooDeep
    kind = type(value)
    if kind is list:
        return sum(_keys(v, depth + 1) for v in value if type(v) is dict or type(v) is list)
    if kind is not dict:
        return 0
    n = len(value)
    for v in value.values():
        if type(v) is dict or type(v) is list:
            n += _keys(v, depth + 1)
    return n


class _TooDeep(Exception):
    """Nested past the contract's limit: the readable validation says so."""


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(key)
        seen[key] = value
    return seen


def surely_unique(raw: bytes, parsed: Any) -> bool:
    """The cheap test: True proves no key is written twice; False decides nothing (a message
    nested too deeply is never sure: ``validation`` refuses it)."""
    try:
        return raw.count(b":") == _keys(parsed)
    except _TooDeep:
        return False


def duplicate_key(raw: bytes, parsed: Any) -> str | None:
    """The first key written twice in one object of ``raw`` (``parsed`` is orjson's result).

    >>> import orjson
    >>> raw = b'{"room_id":"a","x":{"k":1},"room_id":"b"}'
    >>> duplicate_key(raw, orjson.loads(raw))
    'room_id'
    >>> raw = b'{"a": "\\\\":", "b" : {"a": 1}}'
    >>> duplicate_key(raw, orjson.loads(raw)) is None
    True
    """
    if surely_unique(raw, parsed):
        return None
    try:
        json.loads(raw, object_pairs_hook=_pairs)
    except _Duplicate as dup:
        return dup.key
    except ValueError:
        return None  # orjson parsed it; the stdlib disagreeing is not a duplicate
    return None
