"""Who is in a room and what the room has seen them choose.

Presence follows the contract: a viewer is present after ``enter`` (or any event of theirs:
the job may start mid-stream), until ``leave`` or until not heard from for the presence
timeout. What a viewer chose is kept as columns (one row per viewer; written by
``features.state.choices``) so that the features of all present viewers come out as matrices,
without a per-viewer Python loop. Every per-row array is listed in ``_COLUMNS``: forgetting a
viewer zeroes them, compaction and snapshots carry them.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from features.contract.events import AttrValue
from features.state.attr_numbers import attr_number
from features.state.rows import RowIndex, grow, no_rows, take_columns, vocabulary_slot

# A room's categories get exact slots, first come first served; only a room showing more than
# this many distinct categories shares slots (by hash) among the rest.
CATEGORY_SLOTS: Final = 16
SEGMENT_SLOTS: Final = 16  # a room's attribute values, exact up to this many
RECENT: Final = 3  # the items a viewer acted on last, for short-term intent
TIER_ATTR: Final = "spend_tier"


class ViewerTable:
    """Column store of a room's viewers, with presence."""

    def __init__(self, presence_timeout_ms: int, forget_after_ms: int, push_width: int = 3,
                 ) -> None:
        self.presence_timeout_ms = presence_timeout_ms
        self.forget_after_ms = max(forget_after_ms, presence_timeout_ms)
        self.rows = RowIndex()
        self.last_seen = no_rows(np.int64)
        self.present = no_rows(np.bool_)
        self.tier = no_rows(np.float32)
        self.has_tier = no_rows(np.float32)
        # The viewer's attribute values (``key=value``) as the room's exact segment slots.
        self.segments = no_rows(np.uint8, SEGMENT_SLOTS)
        self.segment_names: list[str] = []  # slot -> "key=value", in order of first sight
        # What the viewer chose, per category slot, against what they were shown when they
        # chose (each choice spreads one unit of exposure over the showcase in force).
        # (whole choices: float16 counts them exactly up to 2,048, half the bytes)
        self.cat_chosen = no_rows(np.float16, CATEGORY_SLOTS)
        self.cat_exposed = no_rows(np.float32, CATEGORY_SLOTS)
        # The last RECENT items acted on (item row + 1; 0 = none), when (event time in whole
        # seconds: intent fades over minutes), and how far down the funnel (1 click, 2 cart,
        # 3 purchase), newest first.
        self.recent_item = no_rows(np.int32, RECENT)
        self.recent_ts = no_rows(np.uint32, RECENT)
        self.recent_kind = no_rows(np.int8, RECENT)
        # Since when the viewer has chosen here (whole seconds; 0: never): the time of the
        # showcase in force at their first choice among its items applied on time, or the
        # choice's own if later. Whose choices judge the room's learner
        # (``features.state.votes.chose_before``): a choice stamped before its showcase
        # began is no earlier standing (red team 12).
        self.standing = no_rows(np.uint32)
        # The item on stage at the viewer's last like/comment/share/gift (row + 1) and when.
        self.engaged_item = no_rows(np.int32)
        self.engaged_ts = no_rows(np.uint32)  # seconds
        # Evidence of purchasing power: weighted log prices of the items acted on.
        self.price_w = no_rows(np.float32)
        self.price_lp = no_rows(np.float32)
        # The items whose choice by the viewer already counted in the room's statistics, as
        # hashed bits (``features.state.votes``): one viewer, one vote per item.
        self.voted = no_rows(np.uint64)
        # The room's pushes to the viewer: experiment arm (−1: drawn at the first push), the
        # trigger ts of the last push (−1: none) and its items (item rows, −1: none). The room
        # sets them for a new row; a forgotten row is zeroed like every column.
        self.arm = no_rows(np.int8)
        self.pushed_at = no_rows(np.int64)
        self.pushed_items = no_rows(np.int64, push_width)
        # What the last push already converted (1: a click of one of its items, 2: a
        # purchase): a push converts once per action, however often its viewer repeats it.
        self.push_converted = no_rows(np.uint8)

    _COLUMNS: Final = (
        "last_seen", "present", "tier", "has_tier", "segments", "cat_chosen", "cat_exposed",
        "recent_item", "recent_ts", "recent_kind", "standing", "engaged_item", "engaged_ts",
        "price_w", "price_lp", "voted", "arm", "pushed_at", "pushed_items", "push_converted",
    )  # fmt: skip

    def __len__(self) -> int:
        return len(self.rows)

    def take_rows(self, live: np.ndarray, capacity: int) -> None:
        """Every column follows the rows its index kept (``RowColumns``)."""
        take_columns(self, live, capacity)

    def trimmed(self) -> ViewerTable:
        """A shallow copy without the arrays' growth slack, for a compact snapshot."""
        rows = self.rows.high_water
        copy = object.__new__(ViewerTable)
        copy.__dict__.update(self.__dict__)
        copy.rows = self.rows.trimmed()
        for name in self._COLUMNS:
            setattr(copy, name, getattr(self, name)[:rows])
        return copy


    def touch(self, user_id: str, ts: int) -> tuple[int, bool]:
        """Mark a viewer heard from at ``ts``; returns (row, was_new). A viewer first heard
        from is present (the job may start mid-stream, after their ``enter``); one who sent
        ``leave`` is present again only by a newer ``enter``, not by the heartbeat a client
        flushes as it closes, nor by opening a push later."""
        row = self.rows.get(user_id)
        new = row is None
        if row is None:
            row = self.rows.add(user_id)
            if row >= len(self.last_seen):
                for name in self._COLUMNS:
                    setattr(self, name, grow(getattr(self, name), self.rows.capacity))
        if new or ts >= self.last_seen[row]:
            self.last_seen[row] = ts
        if new:
            self.present[row] = True
        return row, new

    def enter(self, user_id: str, ts: int, attrs: dict[str, AttrValue]) -> int:
        row, _ = self.touch(user_id, ts)
        if self.last_seen[row] == ts:  # not a late enter from before a newer leave
            self.present[row] = True
        # A tier that is not a number (``gold``) is a segment like any other value: its
        # viewers still share taste, if not the tier's prices.
        tier = attr_number(attrs.get(TIER_ATTR))
        if tier is not None:
            self.tier[row] = tier
            self.has_tier[row] = 1.0
        if attrs:
            self.segments[row] = 0
            for key, value in attrs.items():
                if key == TIER_ATTR and tier is not None:
                    continue  # a number: the tier's own column, not a segment
                if isinstance(value, str | int):  # floats: no segment
                    self.segments[row, self.segment_slot(f"{key}={value}")] = 1
        return row

    def segment_slot(self, name: str) -> int:
        """The room's slot for an attribute value: exact for the first ``SEGMENT_SLOTS``
        values seen, shared by hash beyond (as ``ItemTable.category_slot``)."""
        return vocabulary_slot(self.segment_names, name, SEGMENT_SLOTS, "segment")

    def leave(self, user_id: str, ts: int) -> None:
        """A late leave, older than what was last heard from the viewer (who came back
        since), does not make them absent."""
        row, new = self.touch(user_id, ts)
        if new or ts >= self.last_seen[row]:
            self.present[row] = False

    def present_rows(self, now: int) -> np.ndarray:
        """Rows of viewers present at ``now``, ascending (a stable, worker-independent order)."""
        mask = self.present & (self.last_seen >= now - self.presence_timeout_ms)
        return np.flatnonzero(mask)

    def present_count(self, now: int) -> int:
        return int(self.present_rows(now).size)


    def forget_idle(self, now: int) -> list[int]:
        """Drop viewers not heard from for ``forget_after_ms``; returns freed rows."""
        cutoff = now - self.forget_after_ms
        stale = np.flatnonzero((self.last_seen < cutoff) & (self.rows.ids != None))  # noqa: E711
        freed: list[int] = []
        for row in stale.tolist():
            self.rows.remove(self.rows.ids[row])
            for name in self._COLUMNS:
                getattr(self, name)[row] = 0
            freed.append(row)
        return freed
