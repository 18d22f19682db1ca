"""Read the recovery stores of releases before the versioned state: pickled ``Room`` objects.

Until 2026-12-02 a room's snapshot was ``pickle.dumps(room)``, naming classes by module paths
that have since moved (``features.viewers`` is ``features.state.viewers`` now, and some classes
changed their fields). Such a store must still resume after an upgrade. So the pickle is read
*without* the classes it names: every project class becomes a ``_Bag`` that keeps the state it
was given, only numpy and the standard containers are built for real (any other class is
refused), and the bags are turned into a version-1 state tree (``models.room_state``), which
the ordinary restore then reads. Nothing in the pickle is called except numpy's own
constructors and the standard containers.
"""

from __future__ import annotations

import io
import pickle
from typing import TYPE_CHECKING, Any

import numpy as np

from features.state.codec import SnapshotError, encode

if TYPE_CHECKING:
    from models.params import RoomParams
    from models.room import Room

PICKLE_MAGIC = b"\x80"  # every pickle protocol >= 2 starts with PROTO
_REAL = {
    ("collections", "deque"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "bytearray"),
}
_NUMPY = ("numpy", "numpy.")
# dataclasses with slots pickle their fields as a list, in declaration order (as then)
_FIELDS = {
    "Event": (
        "event_id", "type", "ts", "room_id", "origin", "raw", "user_id", "item_id", "attrs",
        "watch_ms", "amount", "qty", "rec_id", "items", "spotlight", "read_at",
    ),
    "Origin": ("topic", "partition", "offset"),
    "ShowcaseItem": ("item_id", "price", "category", "title"),
    "Showcase": ("event_id", "ts", "item_ids", "rows", "spotlight"),
}  # fmt: skip


class _Bag:
    """Stands for an object of a class of the old release: only its pickled state."""

    name = ""  # the old class's name (each old class gets its own subclass)

    def __new__(cls, *args: Any) -> _Bag:
        bag = object.__new__(cls)
        bag.state = {}
        return bag

    state: dict[str, Any]

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.state = dict(state)
        elif isinstance(state, tuple) and len(state) == 2:  # (__dict__, __slots__ values)
            self.state = {**(state[0] or {}), **(state[1] or {})}
        elif isinstance(state, list) and self.name in _FIELDS:
            self.state = dict(zip(_FIELDS[self.name], state, strict=False))
        else:  # a part the restore does not read (the old parameters, say)
            self.state = {"_raw": state}

    def __getitem__(self, key: str) -> Any:
        return self.state[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith(("features.", "models.")):
            return type(name, (_Bag,), {"name": name})
        if (module, name) in _REAL or module.startswith(_NUMPY):
            return super().find_class(module, name)
        raise SnapshotError(f"legacy room state names {module}.{name}: not roomrank's")


def is_legacy(blob: bytes) -> bool:
    return blob[:1] == PICKLE_MAGIC


def load_legacy(blob: bytes, params: RoomParams) -> Room:
    """The room a pickled snapshot of an earlier release holds, as today's ``Room``."""
    from models import room_state

    try:
        old = _Unpickler(io.BytesIO(blob)).load()
    except SnapshotError:
        raise
    except Exception as exc:  # a damaged pickle: say so in one line
        raise SnapshotError(f"unreadable legacy (pickled) room state: {exc}") from None
    if not isinstance(old, _Bag) or old.name != "Room":
        raise SnapshotError("legacy room state does not hold a Room")
    return room_state.loads(encode(_tree(old)), params)


def _rows(index: _Bag) -> dict[str, Any]:
    ids = index["ids"]
    high = len(index["_rows"]) + len(index["_free"])
    return {"ids": [None if i is None else str(i) for i in ids[:high]], "free": index["_free"]}


def _table(bag: _Bag, rows: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in bag.state.items():
        if name == "rows":
            out[name] = _rows(value)
        elif isinstance(value, np.ndarray) and value.dtype.kind != "O":
            out[name] = value[:rows]
    return out


def _event(bag: _Bag) -> dict[str, Any]:
    plain = {k: v for k, v in bag.state.items() if k != "read_at"}
    origin = bag["origin"]
    plain["origin"] = [origin["topic"], origin["partition"], origin["offset"]]
    plain["items"] = [
        [i["item_id"], i["price"], i["category"], i.get("title")] for i in bag["items"]
    ]
    plain["attrs"] = dict(bag["attrs"])
    return plain


def _tree(room: _Bag) -> dict[str, Any]:
    """The version-1 tree of an old room (see ``room_state.dumps`` for the shape)."""
    viewers, items, mf = room["viewers"], room["items"], room["mf"]
    v_rows = len(viewers["rows"]["_rows"]) + len(viewers["rows"]["_free"])
    i_rows = len(items["rows"]["_rows"]) + len(items["rows"]["_free"])
    window, model = room["window"], room["propensity"]["model"]
    showcase = room.get("showcase")
    rng_state = mf["rng"].bit_generator.state
    dedup, buffer = room["dedup"], room["buffer"]
    return {
        "version": 1,
        "room_id": room["room_id"],
        "shape": {"dim": int(mf["n_factors"]), "top_k": int(room["pushed_items"].shape[1])},
        "scalars": {
            "clock": int(room["clock"]),
            "last_sweep": int(room["last_sweep"]),
            "present_now": int(room["present_now"]),
            "closed": bool(room["closed"]),
        },
        "per_viewer": {
            "arm": room["arm"][:v_rows],
            "pushed_at": room["pushed_at"][:v_rows],
            "pushed_items": room["pushed_items"][:v_rows],
        },
        "viewers": _table(viewers, v_rows),
        "items": _table(items, i_rows),
        "window": {
            "current": int(window["current"]),
            "total": window["total"][:i_rows],
            "buckets": window["buckets"][:, :i_rows],
        },
        "mf": {
            "users": mf["users"][:v_rows],
            "user_updates": mf["user_updates"][:v_rows],
            "items": mf["items"][:i_rows],
            "item_updates": mf["item_updates"][:i_rows],
            "rng": {**rng_state, "state": {k: str(v) for k, v in rng_state["state"].items()}},
        },
        "propensity": {"coef": list(model["coef"]), "intercept": float(model["intercept"])},
        "pending": [list(part) for part in room.get("pending", ([], [], []))],
        "showcase": None
        if showcase is None
        else {k: showcase[k] for k in ("event_id", "ts", "item_ids", "rows", "spotlight")},
        "dedup": {
            "newest": int(dedup["newest"]),
            "order": [[int(ts), str(event_id)] for ts, event_id in dedup["_order"]],
        },
        "buffer": {
            "newest": int(buffer["newest"]),
            "seq": int(buffer["_seq"]),
            "held": [[int(ts), int(seq), _event(e)] for ts, seq, e in buffer["_heap"]],
        },
    }
