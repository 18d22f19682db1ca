"""What a viewer's action says about the last push they got: a hit, a conversion.

A click of one of the pushed items is a hit (the rolling hit rate per arm); a click or a
purchase of one at or after the push, within the conversion window, converts the push, and a
purchase counts for the arm in the room's adaptive allocation (one from before the push that
arrives late did not follow it, and one of amount 0 sold nothing). A push converts **once
per action**, as the readout (``models.experiment.readout``) counts it: one viewer buying a
pushed item again and again, or one account posting purchases, must not win its arm the
room's allocation (``tests/models/test_room_votes.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from models.room import Room
    from models.room_outputs import RoomStats

_BIT: Final = {"item_click": 1, "purchase": 2}  # ViewerTable.push_converted


def score_last_push(room: Room, row: int, item: int, etype: str, ts: int,
                    stats: RoomStats, amount: float = 0.0) -> None:
    """Viewer ``row`` acted (``etype``) on item row ``item`` at ``ts`` (a purchase: for
    ``amount``)."""
    pushed_at = int(room.pushed_at[row])
    if pushed_at < 0:
        return
    arm = room.params.arms.names[int(room.arm[row])]
    hit = item in room.pushed_items[row].tolist()
    if etype == "item_click":
        stats.hits.append((arm, hit))
    bit = _BIT.get(etype)
    if bit == 2 and amount <= 0:  # an order of amount 0 sold nothing, as the readout says
        bit = None
    # After the push and within the window, as the readout counts it: a purchase from before
    # the push that arrives late (applied after it) did not follow the push.
    if not hit or bit is None or not 0 <= ts - pushed_at <= room.params.conversion_window_ms:
        return
    done = int(room.push_converted[row])
    if done & bit:
        return
    room.push_converted[row] = done | bit
    stats.conversions.append((arm, "click" if bit == 1 else "purchase"))
    if bit == 2 and room.allocator is not None:
        room.allocator.converted(int(room.arm[row]), now=ts)
