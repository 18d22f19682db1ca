"""The rooms' floor the bench reports: the floor rooms do what they claim (each event applied
once; one vector update per feedback signal; the choice step skipped or its arithmetic
free), and the table names all five rooms (timings are not asserted)."""

from __future__ import annotations

import re
from unittest import mock

import numpy as np
import orjson
import pytest

import models.push
from flows.bench.dataflows import world_file
from flows.bench.floor import (
    FloorRoom,
    OrderedRoom,
    UnlearningRoom,
    choice_arithmetic_free,
    room_floor,
)
from flows.bench.profile import event_path
from models.choice_features import FEATURES, Scene, features_row
from models.learners.newton import NewtonSoftmax
from models.params import FEEDBACK
from models.room import Room, RoomStats
from tests.flows.helpers import until_close

NEWTON_STEP = NewtonSoftmax.learn_matrix


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    path = tmp_path_factory.mktemp("floor") / "world.jsonl"
    world_file(path, 2, 60, 3.0)
    return until_close([line for line in path.read_bytes().splitlines() if line.strip()])


def test_room_floor_times_all_five_rooms_on_a_small_world(lines: list[bytes]) -> None:
    table = room_floor(lines, repeats=1)
    rows = re.findall(r"^\| (.+) \| ([\d.]+) \|$", table, flags=re.MULTILINE)
    assert [name for name, _ in rows] == [
        "de-duplicate and reorder only",
        "+ presence and one vector update per feedback event (the floor)",
        "the job's room without learning from choices (`UnlearningRoom`)",
        "the job's room, `features_row` and Newton steps free (`choice_arithmetic_free`)",
        "the job's room (`Room`)",
    ]
    assert all(float(us) > 0 for _, us in rows)


def _run_rooms(kind: type[Room], lines: list[bytes]) -> tuple[list[Room], int]:
    """Every room ``event_path`` made of ``kind``, and how many events they applied."""
    rooms: list[Room] = []
    applied = 0

    class Kept(kind):  # type: ignore[valid-type,misc]
        def __init__(self, *args: object) -> None:
            super().__init__(*args)
            rooms.append(self)

        def _finish(self, out: list, stats: RoomStats) -> list:
            nonlocal applied
            applied += sum(stats.events.values())
            return super()._finish(out, stats)

    event_path(lines, room_type=Kept)()
    return rooms, applied


def test_floor_rooms_apply_each_event_once_and_learn_once_per_signal(lines: list[bytes]) -> None:
    unique = {(e["room_id"], e["event_id"]): e for e in map(orjson.loads, lines)}
    _, applied = _run_rooms(OrderedRoom, lines)
    assert applied == len(unique)
    rooms, applied = _run_rooms(FloorRoom, lines)
    assert applied == len(unique)
    learned = sum(int(room.mf.user_updates.sum()) for room in rooms)
    signals = [e for e in unique.values() if FEEDBACK.get(e["type"]) and e.get("user_id")]
    naming_an_item = [e for e in signals if e.get("item_id")]
    # one update per signal that names an item, and per other signal while an item is on stage
    assert len(naming_an_item) < learned <= len(signals)
    assert all(not room.pending[0] for room in rooms)  # flushed at the end of every call


def _choice_steps(lines: list[bytes], kind: type[Room] = Room) -> tuple[int, int]:
    """Newton steps taken and feature tables built over ``lines`` by rooms of ``kind``."""
    steps, tables = [0], [0]
    step, table = NewtonSoftmax.learn_matrix, models.push.features_row

    def counted_step(self: NewtonSoftmax, x: np.ndarray, chosen: int,
                     weight: float = 1.0) -> np.ndarray | None:
        steps[0] += 1
        return step(self, x, chosen, weight)

    def counted_table(scene: Scene, row: int) -> np.ndarray:
        tables[0] += 1
        return table(scene, row)

    with mock.patch.object(NewtonSoftmax, "learn_matrix", counted_step), \
            mock.patch.object(models.push, "features_row", counted_table):
        _run_rooms(kind, lines)
    return steps[0], tables[0]


def test_the_room_without_its_choice_step_skips_that_and_only_that(lines: list[bytes]) -> None:
    steps, tables = _choice_steps(lines)
    assert steps > 0 and tables > 0  # the job's room learns from this world's choices
    steps, fewer = _choice_steps(lines, UnlearningRoom)
    assert steps == 0 and 0 < fewer < tables  # entering viewers' pushes still build theirs
    _, applied = _run_rooms(UnlearningRoom, lines)
    assert applied == len({(e["room_id"], e["event_id"]) for e in map(orjson.loads, lines)})


def test_choice_arithmetic_free_stands_in_while_inside_and_is_put_back() -> None:
    x = np.arange(12.0).reshape(3, 4)
    with choice_arithmetic_free():
        model = NewtonSoftmax(("a", "b"), ("c", "d"))
        p = model.learn_matrix(x, 0)
        assert p is not None and p.tolist() == [1 / 3] * 3
        assert model.learned == 0 and model.weights is model.prior
        scene = mock.Mock(showcase=mock.Mock(rows=np.arange(5)))
        table = models.push.features_row(scene, 0)
        assert table.shape == (5, len(FEATURES)) and not table.any()
    assert models.push.features_row is features_row
    assert NewtonSoftmax.learn_matrix is NEWTON_STEP
    assert NewtonSoftmax(("a", "b"), ("c", "d")).learn_matrix(x, 0) is not None
