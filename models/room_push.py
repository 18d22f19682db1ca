"""What a room sends at a trigger (a showcase change, a viewer entering): each present
viewer's arm drawn if new, the ranking served per arm's policy, ghosts for holdouts.

A trigger the room's time has passed by more than ``--lateness-ms`` when it is applied (it
came late, or after a quiet room's early release) pushes nothing: its ranking would read what
came after it, which the contract forbids, and its showcase may be gone. The room's time is
the one a majority of its sources agree on, and the sources applied just before the trigger
must have passed it too, and a majority of everyone heard lately
(``features.state.clock.RecentSources.late``): a few clocks ahead hold the agreed time ahead,
and, sending in one burst, are the sources applied last. ``stats.late_triggers`` counts it
(``roomrank_late_triggers_total``; docs/contract-notes.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features.contract.events import Event
from models.experiment.allocation import assign_fresh
from models.experiment.serving import serve
from models.room_outputs import RoomStats

if TYPE_CHECKING:
    from models.room import Output, Room


def push(room: Room, rows: np.ndarray, event: Event, out: list[Output], read_at: float,
         stats: RoomStats, late: bool) -> None:
    """Rank and push viewer ``rows`` of ``room`` for trigger ``event``."""
    if room.showcase is None or len(room.showcase) == 0 or rows.size == 0:
        return
    if late:
        stats.late_triggers[event.type] += 1
        return
    room.vectors_for(int(rows[0])) if rows.size == 1 else room.apply_learning()
    if room.allocator is not None:  # sticky: drawn once, at a viewer's first push here
        drawn = assign_fresh(room.allocator, room.params, room.room_id, room.arm,
                             room.viewers.rows.ids, rows, event.event_id, event.ts)
        if drawn is not None:
            out.append(drawn)
    served = serve(room.context(event.ts), rows, room.arm[rows], event, room.room_id,
                   room.pushed_at, room.pushed_items, room.push_converted)
    held = max(read_at - event.read_at, 0.0) if event.read_at and read_at else None
    for batch in served.pushes:
        batch.read_at, batch.held_s = read_at, held
        out.append(batch)
    out.extend(served.ghosts)
    stats.skipped.update(served.skipped)
    if room.allocator is not None:  # ghost pushes count for a holdout
        batches = [*served.pushes, *(g.batch for g in served.ghosts)]
        room.allocator.pushed_arms(room.params.arms.names,
                                   [arm for b in batches for arm in b.arms],
                                   min(event.ts, room.clock))  # ages on agreed time
