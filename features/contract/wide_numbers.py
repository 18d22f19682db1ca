"""Messages whose only fault for orjson is a number beyond a 64-bit float (``1e400``).

JSON puts no bound on numbers, and the contract ignores unknown fields, so an event carrying
``"note": 1e400`` in a field the job never reads is a good event. orjson refuses the whole
message for it. The standard library's parser reads such a number as infinity; the field checks
then refuse it only where the job reads it (a price, an attrs number: "must be finite"), naming
the field. Everything else orjson would refuse stays refused: ``NaN``/``Infinity`` literals
(not JSON), lone surrogates in strings (not UTF-8 once written back), bytes that are not UTF-8.

This path is taken only after orjson has refused a message for such a number, so its cost
(a second parse, a walk over the strings) falls on those messages alone.

>>> loads_beyond_float64(b'{"a": 1e400, "b": [-1e999, 2]}')
{'a': inf, 'b': [-inf, 2]}
>>> loads_beyond_float64(b'{"a": -' + b'9' * 5000 + b', "b": 12}')  # past Python's int limit
{'a': -inf, 'b': 12}
>>> loads_beyond_float64(b'{"a": NaN}')
Traceback (most recent call last):
ValueError: NaN is not JSON
>>> loads_beyond_float64(b'{"a": "\\\\ud800"}')
Traceback (most recent call last):
ValueError: a string holds a lone surrogate (\\ud800...), which is not UTF-8
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads_beyond_float64"]


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _check_strings(value: Any) -> None:
    """Refuse a lone surrogate anywhere (keys too): orjson would have, and no UTF-8 holds it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(
                    "a string holds a lone surrogate (\\ud800...), which is not UTF-8"
                ) from None


FLOAT64_DIGITS = 309  # the largest float64 is about 1.8e308: 309 digits


def _int_or_beyond(digits: str) -> int | float:
    """An integer literal; one past float64 (over ``FLOAT64_DIGITS`` digits) as ±infinity, as
    its decimal spelling would be: Python refuses to read one of over 4,300 digits, and its
    words ("use sys.set_int_max_str_digits()") told a producer nothing (red team 14)."""
    if len(digits) - digits.startswith("-") <= FLOAT64_DIGITS:
        return int(digits)
    return float("-inf") if digits.startswith("-") else float("inf")


def loads_beyond_float64(raw: bytes) -> Any:
    """Parse ``raw`` with numbers past float64 read as ±infinity; ``ValueError`` if it is not
    otherwise JSON that orjson would read (``RecursionError`` counts: too deeply nested)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_not_json,
                           parse_int=_int_or_beyond)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None
    _check_strings(value)
    return value
