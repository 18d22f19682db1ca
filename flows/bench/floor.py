"""The rooms' floor: what a room costs in Python when it does only what the contract obliges
(each event once, in event-time order, presence, one River update per feedback signal),
against the job's ``Room``, all without Bytewax (``flows.bench.profile.event_path``).

The bench reports it next to the budget the throughput target leaves the rooms
(``room_us_per_event``): a budget below the floor cannot be met by tuning the rooms' Python.

Two more rooms say what a compiled choice step could win, before anyone builds one: the job's
``Room`` with the choice step's arithmetic free (``features_row`` and each Newton step at a
constant cost, ``choice_arithmetic_free``), and with no learning from choices at all
(``UnlearningRoom``). Neither ranks well (their weights stay at the priors); only their time
is read.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import numpy as np

import models.push
from features.contract.events import Event
from flows.bench.profile import event_path
from models.choice_features import FEATURES, Scene
from models.learners.newton import NewtonSoftmax
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


class UnlearningRoom(Room):
    """The job's room without its choice step: no features, Newton steps or judging per
    choice (what is recorded of a choice, and every push, as in ``Room``)."""

    def _learn_choice(self, row: int, item: int, ts: int, stats: RoomStats,
                      purchase: bool) -> None:
        return None


@contextlib.contextmanager
def choice_arithmetic_free() -> Iterator[None]:
    """``features_row`` and every Newton step at a constant cost while inside: a stored table
    of zeros the showcase's size, and uniform probabilities (the learners keep their priors).
    The rest of the choice step (judging, the vectors' updates) runs as in ``Room``."""
    tables: dict[int, np.ndarray] = {}

    def table(scene: Scene, row: int) -> np.ndarray:
        n = len(scene.showcase.rows)
        if n not in tables:
            tables[n] = np.zeros((n, len(FEATURES)))
        return tables[n]

    def uniform(self: NewtonSoftmax, x: np.ndarray, chosen: int,
                weight: float = 1.0) -> np.ndarray:
        return np.full(len(x), 1.0 / len(x))

    with mock.patch.object(models.push, "features_row", table), \
            mock.patch.object(NewtonSoftmax, "learn_matrix", uniform):
        yield


def room_floor_costs(lines: list[bytes], repeats: int = 3) -> dict[str, float]:
    """Wall time inside ``Room.accept``/``flush`` per event of the stream, for rooms that do
    less and less of the job (``OrderedRoom``, ``FloorRoom``, ``Room``): what even a minimal
    room costs in Python, to set against what the throughput target leaves the rooms
    (``room_us_per_event`` in the bench), and what the job's room would cost with its choice
    step's arithmetic free or without that step. Best of ``repeats``, interleaved."""
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

    plain: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
    kinds = {
        "dedup_reorder": (timed(OrderedRoom), plain),
        "floor": (timed(FloorRoom), plain),
        "no_choice_step": (timed(UnlearningRoom), plain),
        "choice_arithmetic_free": (timed(Room), choice_arithmetic_free),
        "room": (timed(Room), plain),
    }
    best = dict.fromkeys(kinds, math.inf)
    for _ in range(max(1, repeats)):
        for name, (kind, context) in kinds.items():
            spent[0] = 0.0
            with context():
                event_path(lines, room_type=kind)()
            best[name] = min(best[name], spent[0])
    return {name: seconds / len(lines) * 1e6 for name, seconds in best.items()}


FLOOR_ROOMS = {
    "dedup_reorder": "de-duplicate and reorder only",
    "floor": "+ presence and one vector update per feedback event (the floor)",
    "no_choice_step": "the job's room without learning from choices (`UnlearningRoom`)",
    "choice_arithmetic_free": "the job's room, `features_row` and Newton steps free"
                              " (`choice_arithmetic_free`)",
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
