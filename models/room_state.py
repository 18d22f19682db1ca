"""A room's recovery state: explicit, versioned, and free of class paths.

Bytewax stores whatever ``Room.snapshot`` returns and hands it back after a restart, possibly
to a newer release of the job. So the snapshot is a plain tree (``features.state.codec``) of
named arrays and scalars under a ``STATE_VERSION``, never pickled objects: classes may move or
be renamed without making any recovery store unreadable.

Rules for changing it:

* Each part (viewers, items, window, learners, ...) is stored as its attributes by name. On
  restore a fresh ``Room`` is built from the *running* job's parameters, then every stored
  attribute that the fresh object still has is put back. An attribute the snapshot lacks (a
  column added since) keeps the fresh object's default; a per-row array among them is grown
  to the part's row count with zeros, the value a new row starts with. A stored attribute the
  code no longer has is ignored.
* A change that alters the *meaning* of stored values (units, encodings) bumps
  ``STATE_VERSION`` and adds a step to ``_UPGRADES`` that rewrites the older tree; a snapshot
  of an unknown (newer) version fails with one line, rather than being misread.
* The room's shape parameters (``_shape``: ``dim``, ``top_k``, the momentum window, the arms'
  names) must match the running job's: a mismatch is refused with one line that names both
  values. A snapshot that lacks one (written before it was stored) is not checked for it.
* How viewers are split into arms (``_split``: the experiment name and the arms' shares) may
  change on a resume; the restore ignores it, and the job warns (``written_split``).

``tests/models/test_room_state.py`` restores a committed snapshot of every released version,
including the pickled rooms of the releases before this format (``models.room_legacy``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from features.state.catalog import Showcase, no_attrs
from features.state.codec import SnapshotError, decode, encode
from features.state.rows import RowIndex, grow
from models.arms import Arms
from models.learner_state import dump_learner, load_learner

if TYPE_CHECKING:
    from models.params import RoomParams
    from models.room import Room

STATE_VERSION = 2


def _v1_to_v2(tree: dict[str, Any]) -> dict[str, Any]:
    """Version 2 ranks with the choice model. An item's ``category`` was a hash bucket and is
    now the room's exact slot: the buckets are dropped (each item takes its slot again at its
    next showcase; until then the items on show share slot 0). The pointwise propensity
    weights have no counterpart; the choice model starts from its priors. The per-viewer push
    columns (arm, last push) move into the viewer table."""
    tree = dict(tree)
    viewers = dict(tree["viewers"])
    viewers.update(tree.pop("per_viewer"))  # the viewer table owns its push columns now
    tree["viewers"] = viewers
    items = dict(tree["items"])
    items["category"] = np.zeros_like(items["category"])
    tree["items"] = items
    tree.pop("propensity", None)
    tree["version"] = 2
    return tree


_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}
"""``version -> step`` turning a tree of that version into one of ``version + 1``."""

# Per-row arrays are stored up to the high-water mark of their row index only: arrays grow
# by doubling, and the slack would otherwise be up to half of every snapshot.


def dumps(room: Room) -> bytes:
    """The snapshot bytes of ``room``."""
    v_rows = room.viewers.rows.high_water
    i_rows = room.items.rows.high_water
    tree: dict[str, Any] = {
        "version": STATE_VERSION,
        "room_id": room.room_id,
        "shape": _shape(room.params),
        "split": _split(room.params),
        "scalars": {
            "clock": room.clock,
            "last_sweep": room.last_sweep,
            "present_now": room.present_now,
            "closed": room.closed,
            "refused_seen": room.refused_seen,
            "closed_at": room.closed_at,
            "close_id": room.inbox.close_id,
            "close_ts": room.inbox.close_ts,
            "inbox_closed": room.inbox.closed,  # open again before the room applied its showcase
        },
        "agreed": _agreed(room),
        "departed": [[user, ts] for user, ts in room.departed.items()],
        "viewers": _columns(room.viewers, v_rows),
        "items": _columns(room.items, i_rows),
        "window": {
            "current": room.window.current,
            "total": room.window.total[:i_rows],
            "buckets": room.window.buckets[:, :i_rows],
        },
        "mf": {
            "users": room.mf.users[:v_rows],
            "user_updates": room.mf.user_updates[:v_rows],
            "items": room.mf.items[:i_rows],
            "item_updates": room.mf.item_updates[:i_rows],
            "rng": _rng_state(room.mf.rng),  # type: ignore[attr-defined]
            "refused": room.mf.refused,
        },
        "choices": _columns(room.choices, None),
        "model": dump_learner(room),
        "pending": [list(part) for part in room.pending],
        "showcase": _showcase(room.showcase),
        **room.inbox.dump(),  # "dedup" and "buffer"
    }
    if room.allocator is not None:  # an adaptive allocation: its counts and probabilities
        alloc = room.allocator
        tree["allocator"] = {
            "pushes": alloc.pushes,
            "wins": alloc.wins,
            "cut": alloc.cut,
            "probabilities": alloc.probabilities,
            "version": alloc.version,
            "stale": alloc.stale,
            "clock": alloc.clock,  # where the counts were aged to (decay)
        }
    return encode(tree)


def loads(blob: bytes, params: RoomParams) -> Room:
    """The room ``dumps`` wrote, living on under the running job's ``params``."""
    from models.room import Room
    from models.room_legacy import is_legacy, load_legacy

    if is_legacy(blob):  # a pickled room of a release before the versioned state
        return load_legacy(blob, params)
    tree = decode(blob)
    if not isinstance(tree, dict) or not isinstance(tree.get("version"), int):
        raise SnapshotError("state snapshot without a version number: not written by roomrank")
    version = tree["version"]
    if version > STATE_VERSION:
        raise SnapshotError(
            f"the recovery store holds room state of version {version}, newer than this"
            f" release reads ({STATE_VERSION}): run the release that wrote it, or start"
            " with a new --recovery-dir"
        )
    while version < STATE_VERSION:
        tree = _UPGRADES[version](tree)
        version += 1
    stored_shape, shape = tree["shape"], _shape(params)
    for name in shape:  # a name the stored shape lacks: written before it was stored
        if name in stored_shape and _shown(stored_shape[name]) != _shown(shape[name]):
            raise SnapshotError(
                f"the recovery store was written with {name}={_shown(stored_shape[name])},"
                f" this run has {name}={_shown(shape[name])}: use the same"
                f" {_SHAPE_FLAGS.get(name, name)}, or a new --recovery-dir"
            )
    room = Room(tree["room_id"], params)
    scalars = dict(tree["scalars"])
    inbox = room.inbox
    inbox.close_id, inbox.close_ts = scalars.pop("close_id", ""), scalars.pop("close_ts", -1)
    # Older snapshots: no reopening, so the inbox was closed when the room was, by that close.
    inbox.closed = bool(scalars.pop("inbox_closed", scalars.get("closed", False)))
    scalars.setdefault("closed_at", inbox.close_ts)
    for name, value in scalars.items():
        setattr(room, name, value)
    _load_agreed(room, tree.get("agreed"))
    room.departed = {str(user): int(ts) for user, ts in tree.get("departed", ())}
    _load_columns(room.viewers, tree["viewers"])
    if "standing" not in tree["viewers"]:  # older snapshots: as their recent choices' times say
        v = room.viewers
        held = v.recent_item > 0
        first = np.where(held, v.recent_ts, np.uint32(2**32 - 1)).min(axis=1, initial=2**32 - 1)
        v.standing[:] = np.where(held.any(axis=1), first, 0)
    _load_columns(room.items, tree["items"])
    _load_columns(room.mf, {k: v for k, v in tree["mf"].items() if k != "rng"})
    room.mf.rng.bit_generator.state = _rng_from(tree["mf"]["rng"])  # type: ignore[attr-defined]
    room.mf.rows_replaced()
    _load_columns(room.choices, tree.get("choices", {}))  # absent: upgraded from version 1
    stored_model = tree.get("model")
    if stored_model is not None:
        load_learner(room, stored_model)
    window = tree["window"]
    room.window.current = window["current"]
    room.window.total, room.window.buckets = window["total"], window["buckets"]
    users, items, ys = tree["pending"]
    room.pending = (list(users), list(items), list(ys))
    room.showcase = _showcase_from(tree["showcase"])
    inbox.load(tree)
    stored = tree.get("allocator")
    if room.allocator is not None and stored is not None:
        if len(stored["pushes"]) != len(room.allocator.pushes):
            raise SnapshotError(
                f"the recovery store's allocation has {len(stored['pushes'])} arms, this run"
                f" has {len(room.allocator.pushes)}: keep --arms, or use a new --recovery-dir"
            )
        for name, value in stored.items():  # counts stored as int64 before decay existed
            setattr(room.allocator, name,
                    value.astype(np.float64) if name in ("pushes", "wins") else value)
    return room


def _shape(params: RoomParams) -> dict[str, Any]:
    """The settings stored state is laid out by: vector length (``dim``), per-viewer push
    columns (``top_k``, and ``push_width``: the widest arm's k), the momentum window's ring
    (``window_ms`` and ``bucket_ms``: its bucket count and what its bucket index means), and
    each viewer's sticky arm (an index into the ``arms``' names)."""
    return {"dim": params.dim, "top_k": params.top_k, "push_width": params.push_width,
            "window_ms": params.window_ms, "bucket_ms": params.bucket_ms,
            "arms": list(params.arms.names)}


def _split(params: RoomParams) -> dict[str, Any]:
    """What moves viewers between arms without changing the layout: a resume may change it
    (a new experiment from then on), and the job says so (``flows.resume_split``)."""
    return {"experiment": params.experiment, "shares": list(params.arms.shares),
            "allocation": params.allocation}


def written_allocation(blob: bytes) -> str | None:
    """The ``--allocation`` a room's snapshot was written with (None: not recorded, before
    2026-12-06's third stop)."""
    from models.room_legacy import is_legacy

    tree = None if is_legacy(blob) else decode(blob)
    split = tree.get("split") if isinstance(tree, dict) else None
    return str(split["allocation"]) if isinstance(split, dict) and "allocation" in split else None


def written_split(blob: bytes) -> tuple[str, Arms] | None:
    """The experiment name and arms (names and shares) a room's snapshot was written with.
    None for a snapshot written before they were stored (2026-12-06), or a pickled room of an
    older release: such a store is resumed without comparing them, and without a warning."""
    from models.room_legacy import is_legacy

    if is_legacy(blob):
        return None
    tree = decode(blob)
    split, shape = (tree.get("split"), tree.get("shape")) if isinstance(tree, dict) else (0, 0)
    if not isinstance(split, dict) or not isinstance(shape, dict) or "arms" not in shape:
        return None
    names, shares = tuple(map(str, shape["arms"])), tuple(map(float, split["shares"]))
    if len(names) != len(shares):
        return None
    return str(split["experiment"]), Arms(names, shares)


_SHAPE_FLAGS = {"dim": "setting", "top_k": "setting", "window_ms": "--window-ms",
                "bucket_ms": "--bucket-ms", "arms": "arm names in --arms (shares may change)",
                "push_width": "widest push (--top-k and each arm's k=)"}


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


# -- parts ------------------------------------------------------------------------------
def _attrs(obj: object) -> dict[str, Any]:
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    return {name: getattr(obj, name) for name in getattr(obj, "__slots__", ())}


def _columns(obj: object, rows: int | None, scalars: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object's arrays (cut at ``rows``), row index and lists by name, plus the named
    ``scalars``. Other scalars are configuration: they come from the running job."""
    out: dict[str, Any] = {}
    for name, value in _attrs(obj).items():
        if isinstance(value, RowIndex):
            out[name] = {"ids": value.ids[: value.high_water].tolist(), "free": value._free}
        elif isinstance(value, np.ndarray):
            if not value.flags.writeable:  # shared zeros nothing wrote yet (the choice totals,
                continue  # items' segment counts): the fresh default, which a restore makes
            out[name] = value[:rows] if rows is not None else value
        elif isinstance(value, list) or name in scalars:
            out[name] = value
    return out


def _load_columns(obj: object, stored: dict[str, Any]) -> None:
    """Put stored attributes back; per-row arrays (stored ones cut at the high-water mark,
    and ones the snapshot lacks) grow with zeros to the row index's capacity."""
    current = _attrs(obj)
    rows = 0
    for name, value in stored.items():
        if name not in current:
            continue  # an attribute this release no longer has
        if isinstance(current[name], RowIndex):
            index = RowIndex()
            ids = np.empty(max(8, len(value["ids"])), dtype=object)
            ids[: len(value["ids"])] = value["ids"]
            index.ids = ids
            index._rows = {key: row for row, key in enumerate(value["ids"]) if key is not None}
            index._free = list(value["free"])
            rows = max(rows, index.capacity)
            setattr(obj, name, index)
        else:
            setattr(obj, name, value)
    if rows:  # a table with a row index: every array of it is per row
        for name, value in _attrs(obj).items():
            if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) < rows:
                setattr(obj, name, grow(value, rows))


def _agreed(room: Room) -> dict[str, Any]:
    """The sources with the newest times and the platform's (``features.state.clock``), and
    the bound on the room's time with its wait; the two newest also as ``first`` and
    ``second``, which releases that kept two read."""
    a = room.agreed
    (first_ts, first_src), (second_ts, second_src) = a.top
    return {"first": [first_ts, first_src], "second": [second_ts, second_src], **a.dump(),
            "bound": [room.bound.limit, room.bound.wait],
            "recent": [[src, ts] for src, ts in room.recent.pairs]}


def _load_agreed(room: Room, stored: dict[str, Any] | None) -> None:
    """Older snapshots name no sources: the room goes on from its stored ``clock`` and the
    next sources it hears. Those that kept two go on from those two."""
    if stored is None:
        return
    pairs = stored.get("newest")
    if pairs is None:
        pairs = [pair for pair in (stored["first"], stored["second"]) if pair[1] is not None]
    room.agreed.load(pairs, stored.get("platform", -1))
    # Older snapshots: who spoke last is heard anew (until then no trigger is late).
    room.recent.pairs = [(str(src), int(ts)) for src, ts in stored.get("recent", ())]
    bound = stored.get("bound")  # older snapshots: no bound yet, the next advance counts one
    if bound is not None:
        room.bound.limit, room.bound.wait = int(bound[0]), int(bound[1])


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    state = dict(rng.bit_generator.state)
    inner = state["state"]
    state["state"] = {k: str(v) for k, v in inner.items()}  # 128-bit integers
    return state


def _rng_from(stored: dict[str, Any]) -> dict[str, Any]:
    state = dict(stored)
    state["state"] = {k: int(v) for k, v in stored["state"].items()}
    return state


def _showcase(showcase: Showcase | None) -> dict[str, Any] | None:
    if showcase is None:
        return None
    return {
        "event_id": showcase.event_id,
        "ts": showcase.ts,
        "item_ids": list(showcase.item_ids),
        "rows": showcase.rows,
        "spotlight": showcase.spotlight,
        "place": showcase.place,
        **_known_attrs(showcase.attrs),
    }


def _known_attrs(attrs: np.ndarray) -> dict[str, np.ndarray]:
    """The attrs' columns up to the last slot any item has (none: nothing to store)."""
    width = int(np.flatnonzero(np.isfinite(attrs).any(axis=0)).max(initial=-1)) + 1
    return {"attrs": attrs[:, :width]} if width else {}


def _showcase_from(stored: dict[str, Any] | None) -> Showcase | None:
    if stored is None:
        return None
    rows = np.asarray(stored["rows"])
    place = stored.get("place")  # absent before 2026-12-05: the host's order not known
    attrs = stored.get("attrs")  # absent: no item had any (or written before item attrs)
    return Showcase(stored["event_id"], stored["ts"], list(stored["item_ids"]), rows,
                    stored["spotlight"],
                    np.zeros(len(rows), dtype=np.int64) if place is None else place,
                    _all_attrs(len(rows), attrs))


def _all_attrs(n: int, stored: np.ndarray | None) -> np.ndarray:
    """The stored columns, padded with NaN to this release's slots (cut to them, were a
    snapshot ever written with more)."""
    attrs = no_attrs(n)
    if stored is not None:
        width = min(stored.shape[1], attrs.shape[1])
        attrs[:, :width] = stored[:, :width]
    return attrs
