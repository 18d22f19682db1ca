"""The rooms' floor: what a room costs in Python when it does only what the contract obliges
(each event once, in event-time order, presence, one River update per feedback signal),
against the job's ``Room``, all without Bytewax (``flows.bench.profile.event_path``).

The bench reports it next to the budget the throughput target leaves the rooms
(``room_us_per_event``): a budget below the floor cannot be met by tuning the rooms' Python.
"""

from __future__ import annotations

import math
import time
from typing import Any

from features.contract.events import Event
from flows.bench.profile import event_path
from models.params import FEEDBACK
from models.room import Output, Room, RoomStats


class OrderedRoom(Room):
    """A room that takes each event id once, in event-time order, and applies nothing."""

    def _apply(self, event: Event, out: list[Output], stats: RoomStats, read_at: float) -> None:
        stats.events[event.type] += 1


class FloorRoom(Room):
    """The contract's obligations alone: ``OrderedRoom`` plus presence, the item on stage, and
    one vector update (River's ``FunkMF`` step, flushed at the end of each ``accept``) per
    event with a feedback target. No features, windows, propensity model, sweeps or pushes."""

    def _apply(self, event: Event, out: list[Output], stats: RoomStats, read_at: float) -> None:
        stats.events[event.type] += 1
        if event.type == "showcase":
            self._show(event)
        elif event.user_id is not None:
            row = self._viewer(event.user_id, event.ts)
            target = FEEDBACK.get(event.type)
            if target:
                item = (self._item(event.item_id) if event.item_id is not None
                        else self._spotlight_row())
                if item is not None:
                    self._learn(row, item, target)


def room_floor_costs(lines: list[bytes], repeats: int = 3) -> dict[str, float]:
    """Wall time inside ``Room.accept``/``flush`` per event of the stream, for rooms that do
    less and less of the job (``OrderedRoom``, ``FloorRoom``, ``Room``): what even a minimal
    room costs in Python, to set against what the throughput target leaves the rooms
    (``room_us_per_event`` in the bench). Best of ``repeats``, interleaved."""
    clock = time.perf_counter
    spent = [0.0]

    def timed(kind: type[Room]) -> type[Room]:
        class Timed(kind):  # type: ignore[valid-type,misc]
            def accept(self, events: Any, read_at: float = 0.0) -> Any:
                start = clock()
                out = super().accept(events, read_at)
                spent[0] += clock() - start
                return out

            def flush(self, read_at: float = 0.0) -> Any:
                start = clock()
                out = super().flush(read_at)
                spent[0] += clock() - start
                return out

        return Timed

    kinds = {"dedup_reorder": timed(OrderedRoom), "floor": timed(FloorRoom), "room": timed(Room)}
    best = dict.fromkeys(kinds, math.inf)
    for _ in range(max(1, repeats)):
        for name, kind in kinds.items():
            spent[0] = 0.0
            event_path(lines, room_type=kind)()
            best[name] = min(best[name], spent[0])
    return {name: seconds / len(lines) * 1e6 for name, seconds in best.items()}


FLOOR_ROOMS = {
    "dedup_reorder": "de-duplicate and reorder only",
    "floor": "+ presence and one vector update per feedback event (the floor)",
    "room": "the job's room (`Room`)",
}


def room_floor(lines: list[bytes], repeats: int = 3) -> str:
    """``room_floor_costs`` as a table."""
    costs = room_floor_costs(lines, repeats)
    out = ["## The rooms' floor (wall time inside `Room.accept`, no Bytewax, best of"
           f" {max(1, repeats)})", "",
           "| room | µs per event of the stream |", "|---|---:|"]
    out += [f"| {FLOOR_ROOMS[name]} | {us:.2f} |" for name, us in costs.items()]
    return "\n".join(out) + "\n"
