"""Keep a room's memory bounded: forget the idle, give rows back, shed a closed room.

Rows of forgotten viewers and items are reused, but the arrays behind them only grow: 200,000
clicks on junk item ids, or 200,000 ``leave``s of strangers, leave arrays sized for 200,000
rows in memory and in every snapshot long after the ids were forgotten. After a sweep, a
table whose rows are mostly free is renumbered (live rows keep their order) and every owner of
columns indexed by those rows follows (``features.state.rows.RowColumns``: the tables, the
momentum window, the learner's vectors). Compaction depends on event time only (it runs in
the sweep), so replays compact at the same points and push the same items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features.state.choices import forget_items, renumber_items

if TYPE_CHECKING:
    from models.room import Room


def housekeep(room: Room, now: int) -> None:
    """Every ``sweep_every_ms`` of event time: forget idle viewers and unshown items, then
    give memory back."""
    room.apply_learning()  # before rows are freed and possibly handed to someone else
    room.last_sweep = now
    if room.departed:  # as the viewer table forgets: an idle viewer comes back as new
        cutoff = now - room.params.forget_after_ms
        room.departed = {user: ts for user, ts in room.departed.items() if ts >= cutoff}
    room.present_now = room.viewers.present_count(now)
    for row in room.viewers.forget_idle(now):
        room.pushed_at[row] = -1
        room.pushed_items[row] = -1
    keep = room.showcase.rows if room.showcase is not None else np.zeros(0, np.int64)
    freed = room.items.forget_unshown(now, room.params.forget_after_ms, keep)
    for row in freed:
        room.window.forget(row)
    forget_items(room.viewers, freed)
    compact_viewers(room)
    compact_items(room)


# What a closed room drops: all it learned, and its time (a showcase may open a new session
# with its own). Its de-duplication and close stay, and who had left (``Room.departed``).
_SHED = (
    "viewers", "items", "window", "mf", "choices", "model", "pending", "showcase", "columns",
    "allocator", "agreed", "bound", "recent", "clock", "last_sweep",
)  # fmt: skip


def shed(room: Room) -> None:
    """A closed room is kept (until the engine's idle timer drops it) only to turn later
    events into dead letters and redeliveries into duplicates: what it learned goes, in
    memory and in snapshots."""
    from models.room import Room

    if room.shed_done:  # a closed room's every call sheds: once is enough (a flag, not how
        return  # empty its tables look: a restored room's are not, and its clock may be, rt 13)
    viewers = room.viewers
    ids = viewers.rows.ids[: viewers.rows.high_water]
    gone = np.flatnonzero(~viewers.present[: len(ids)] & (ids != None))  # noqa: E711
    room.departed.update(zip(ids[gone].tolist(), viewers.last_seen[gone].tolist(), strict=True))
    cap = room.params.dedup_max_ids  # as many as the ids it keeps: the newest leaves (rt 13)
    if len(room.departed) > cap:
        newest = sorted(room.departed.items(), key=lambda pair: pair[1])[-cap:]
        room.departed = dict(newest)
    fresh = Room(room.room_id, room.params)
    for name in _SHED:
        setattr(room, name, getattr(fresh, name))
    room.shed_done = True
    room.refused_seen = 0


def compact_viewers(room: Room) -> bool:
    """Renumber the viewers if most rows are free; True when it did."""
    index = room.viewers.rows
    if not index.sparse:
        return False
    live = index.compact()
    room.viewers.take_rows(live, index.capacity)
    room.mf.take_user_rows(live, index.capacity)
    return True


def compact_items(room: Room) -> bool:
    """Renumber the items if most rows are free; True when it did."""
    index = room.items.rows
    if not index.sparse:
        return False
    old_capacity = index.capacity
    live = index.compact()
    capacity = index.capacity
    new_row = np.full(max(old_capacity, len(room.mf.items)) + 1, -1, dtype=np.int64)
    new_row[live] = np.arange(len(live))  # new_row[-1] stays -1: "no item" maps to itself
    for owner in (room.items, room.window):  # every owner of per-item columns
        owner.take_rows(live, capacity)
    room.mf.take_item_rows(live, capacity)
    if room.showcase is not None:
        room.showcase.rows = new_row[room.showcase.rows]
    # A pushed item forgotten since is "none" (-1): its old row may go to another item.
    room.pushed_items = new_row[room.pushed_items]
    renumber_items(room.viewers, new_row)
    return True


def reopen(room: Room) -> int:
    """A showcase opened a new session: from a shed room, with no viewers yet; returns the
    close's ts (``RoomStats.reopened``)."""
    shed(room)
    room.closed, room.present_now, room.shed_done = False, 0, False
    return room.closed_at
