"""Plain state trees to bytes and back, naming no Python class.

Recovery stores outlive the code that wrote them: a snapshot that pickles objects names their
module paths, so moving a class would make every store unreadable. A snapshot is therefore a
*tree* of plain values — dicts with string keys, lists, str, int, float, bool, None, bytes and
numeric numpy arrays — written as a small JSON header plus the arrays' raw bytes. Nothing in
it is executed or imported on the way back (no pickle: object arrays are refused).

Layout: ``MAGIC`` (4 bytes), the header's length (4 bytes, little-endian), the header (UTF-8
JSON), then the array buffers back to back in header order. Arrays and bytes stand in the
header as ``{"$a": [dtype, shape, offset, nbytes]}`` and ``{"$b": [offset, nbytes]}``, a
non-finite float as ``{"$f": "inf"}``. A key of the state's own that starts with ``$`` (an
event's ``attrs`` held for reordering may carry any key a producer sent) is written with one
more ``$`` in front and read back without it, so it can never be taken for a reference.

>>> import numpy as np
>>> tree = {"v": 1, "ids": ["a", None], "x": np.arange(3, dtype=np.int32), "raw": b"\\x00"}
>>> back = decode(encode(tree))
>>> back["v"], back["ids"], back["x"].tolist(), back["x"].dtype.name, back["raw"]
(1, ['a', None], [0, 1, 2], 'int32', b'\\x00')
>>> decode(encode({"attrs": {"$a": 1, "$$b": [2]}}))
{'attrs': {'$a': 1, '$$b': [2]}}
>>> decode(b"nope")
Traceback (most recent call last):
...
features.state.codec.SnapshotError: not a roomrank state snapshot (it does not start with b'RRS1')
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import orjson

MAGIC = b"RRS1"
_ALLOWED_KINDS = frozenset("biuf")  # bool, signed, unsigned, float: never object or void


class SnapshotError(ValueError):
    """A snapshot that cannot be read back; the message is one line an operator can act on."""


def encode(tree: Any) -> bytes:
    """Bytes of a plain state tree (see the module docstring for what a tree may hold)."""
    buffers: list[bytes] = []
    offset = 0

    def plain(value: Any) -> Any:
        nonlocal offset
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in _ALLOWED_KINDS:
                raise TypeError(f"cannot snapshot an array of dtype {value.dtype}")
            data = np.ascontiguousarray(value).tobytes()
            ref = {"$a": [value.dtype.str, list(value.shape), offset, len(data)]}
            buffers.append(data)
            offset += len(data)
            return ref
        if isinstance(value, bytes):
            buffers.append(value)
            ref = {"$b": [offset, len(value)]}
            offset += len(value)
            return ref
        if isinstance(value, dict):
            return {_escaped(str(k)): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, np.generic):
            return plain(value.item())
        if isinstance(value, float) and not math.isfinite(value):
            return {"$f": repr(value)}  # JSON has no inf or nan
        if value is None or isinstance(value, str | int | float | bool):
            return value
        raise TypeError(f"cannot snapshot a {type(value).__name__}: convert it to plain state")

    header = orjson.dumps(plain(tree), option=orjson.OPT_NON_STR_KEYS)
    return b"".join([MAGIC, struct.pack("<I", len(header)), header, *buffers])


def _escaped(key: str) -> str:
    return "$" + key if key.startswith("$") else key


def _unescaped(key: str) -> str:
    return key[1:] if key.startswith("$") else key


def decode(blob: bytes) -> Any:
    """The tree ``encode`` wrote; ``SnapshotError`` for anything else."""
    if blob[:4] != MAGIC:
        raise SnapshotError(f"not a roomrank state snapshot (it does not start with {MAGIC!r})")
    if len(blob) < 8:
        raise SnapshotError("truncated state snapshot (no header length)")
    (size,) = struct.unpack_from("<I", blob, 4)
    body = memoryview(blob)[8 + size :]
    try:
        header = orjson.loads(blob[8 : 8 + size])
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"corrupt state snapshot header: {exc}") from None

    def restore(value: Any) -> Any:
        if isinstance(value, dict):
            if "$a" in value:
                dtype, shape, start, nbytes = value["$a"]
                if np.dtype(dtype).kind not in _ALLOWED_KINDS or start + nbytes > len(body):
                    raise SnapshotError("corrupt state snapshot (bad array reference)")
                flat = np.frombuffer(body[start : start + nbytes], dtype=np.dtype(dtype))
                return flat.reshape(shape).copy()  # writable, and free of ``blob``
            if "$f" in value:
                return float(value["$f"])
            if "$b" in value:
                start, nbytes = value["$b"]
                return bytes(body[start : start + nbytes])
            return {_unescaped(k): restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [restore(v) for v in value]
        return value

    return restore(header)
